"""Figures of fits, plans and runs (matplotlib, the `plot` extra).

Every function returns a `matplotlib.figure.Figure` built without pyplot (no global state, no window, no
``show()``); saving renders it with the Agg backend (PNG) or as SVG. The artists that carry data have a
``gid`` (``"minima"``, ``"fit"``, ``"envelope"``, …) so that tests and users can read the plotted numbers
back, e.g. ``next(l for l in fig.axes[0].lines if l.get_gid() == "fit").get_ydata()``.

- `isoflop_curves`: loss against N per budget, the per-budget parabolas of approach 2 and their minima.
- `frontier`: N*(C) and D*(C) of a law (with its ensemble's band) beside published laws and the optima
  measured by approaches 1 and 2.
- `loss_landscape`: L(N, D) with iso-FLOP lines, the compute-optimal path, the data-constrained path for a
  number of unique tokens, the runs and a user's configuration.
- `residuals`: log L̂ − log L of a fit against compute and model size.
- `training_curves`: loss against FLOPs per run with the approach-1 envelope.
- `wsd_branches`: a warmup-stable-decay sweep's trunks with their cooldown branches, marking the points the
  fit used.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import matplotlib  # the `plot` extra: this module is imported only to draw
import numpy as np

from ..errors import InputError
from ..fitting.isoflop import group_budgets
from ..io_utils import atomic_writer
from ..laws import FLOPS_PER_PARAM_TOKEN, point_law, require_nd_law
from ..presets import PRESETS
from ..units import format_quantity

DEFAULT_PRESETS = ("hoffmann2022", "besiroglu2024", "kaplan2020")


def _figure(ncols: int = 1, width: float = 6.4, height: float = 4.4):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def _viridis():
    """viridis without its last 10% (pale yellow is hard to see on white)."""
    return matplotlib.colors.ListedColormap(matplotlib.colormaps["viridis"](np.linspace(0.0, 0.9, 256)))


def _colors(n: int, cmap: str = "viridis"):
    return matplotlib.colormaps[cmap](np.linspace(0.0, 0.9, max(n, 1)))


def _point_law(law):
    """The (N, D) law a figure draws: an ensemble's point law; a law of compute alone is refused."""
    return point_law(require_nd_law(law))


def _label(name: str) -> str:
    return "fitted law" if name == "fit" else name


# ------------------------------------------------------------------------------------------ approach 2

def isoflop_curves(table, result=None, *, window: float | None = 3.0, budget_rtol: float = 0.05):
    """Loss against model size, one colour per compute budget (approach 2, Hoffmann et al. 2022 fig. 3).

    ``result``: an `IsoflopResult` of ``table`` (fitted here with ``window``/``budget_rtol`` if None). Each
    budget's parabola is drawn over the runs it was fitted to, and the minima (gid ``"minima"``) are
    exactly ``result.optima``'s (n_params, loss).
    """
    from ..fitting.isoflop import fit_isoflop, parabola_fit

    table = table.finals()
    if result is None:
        result = fit_isoflop(table, window=window, budget_rtol=budget_rtol)
    fig, ax = _figure()
    labels = group_budgets(table.flops, budget_rtol)
    groups = np.unique(labels)
    budgets = [float(np.exp(np.log(table.flops[labels == g]).mean())) for g in groups]
    cmap = _viridis()
    norm = matplotlib.colors.LogNorm(min(budgets), max(budgets) * (1.0001 if len(budgets) == 1 else 1.0))
    optima = {round(float(np.log(o.flops)), 6): o for o in result.optima}
    for budget, label in zip(budgets, groups):
        sel = labels == label
        n, loss = table.n_params[sel], table.loss[sel]
        color = cmap(norm(budget))
        ax.scatter(n, loss, s=18, color=color, gid=f"runs-{label}")
        optimum = optima.get(round(float(np.log(budget)), 6))
        if optimum is not None and result.method == "parabola":
            coef, used = parabola_fit(np.log(n), loss, window)
            x = np.linspace(min(used.min(), np.log(optimum.n_params)) - 0.1,
                            max(used.max(), np.log(optimum.n_params)) + 0.1, 200)
            ax.plot(np.exp(x), np.polyval(coef, x), color=color, lw=1.2, gid=f"parabola-{label}")
    ax.scatter([o.n_params for o in result.optima], [o.loss for o in result.optima], marker="*", s=140,
               color="crimson", edgecolor="black", linewidth=0.5, zorder=5, label="fitted minima", gid="minima")
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="budget C (FLOPs)")
    ax.set_xscale("log")
    ax.set(xlabel="parameters N", ylabel="loss (nats/token)",
           title=f"IsoFLOP profiles: N* ∝ C^{result.n_params_fit.exponent:.3f}")
    ax.legend(fontsize=7)
    return fig


# -------------------------------------------------------------------------------------------- frontier

def frontier(law, flops=None, *, presets=DEFAULT_PRESETS, isoflop=None, envelope=None):
    """N*(C) (left) and D*(C) (right) of ``law`` with the band of its ensemble, if any.

    ``flops``: budgets to draw (default 1e18 … 1e26). Lines (gids): ``"fit"`` is
    ``compute_optimal(law, flops)``, ``"fit-band"`` its intervals, ``"preset-<name>"`` each published law
    of ``presets``; points: ``"approach2"`` (an IsoflopResult's optima), ``"approach1"`` (an
    EnvelopeResult's steps).
    """
    from ..planning import compute_optimal

    _point_law(law)
    flops = np.logspace(18, 26, 81) if flops is None else np.asarray(flops, float)
    plan = compute_optimal(law, flops)
    fig, (ax_n, ax_d) = _figure(2, width=5.6)
    for ax, field, label in ((ax_n, "n_params", "N* (parameters)"), (ax_d, "n_tokens", "D* (tokens)")):
        ax.plot(flops, getattr(plan, field), color="black", lw=2, label=_label(plan.law), gid="fit")
        if plan.intervals:
            low, high = plan.intervals[field]
            ax.fill_between(flops, low, high, color="black", alpha=0.15, lw=0, label="95% bootstrap band",
                            gid="fit-band")
        for color, name in zip(_colors(len(presets), "tab10"), presets):
            preset = PRESETS[name].law
            other = compute_optimal(preset, flops)
            convention = getattr(preset, "param_convention", "total")
            ax.plot(flops, getattr(other, field), ls="--", lw=1.2, color=color, gid=f"preset-{name}",
                    label=name + ("" if convention == "total" else f" ({convention.replace('_', '-')} N)"))
        if isoflop is not None:
            ax.scatter([o.flops for o in isoflop.optima], [getattr(o, field) for o in isoflop.optima], marker="o",
                       color="crimson", zorder=5, s=24, label="approach 2 optima", gid="approach2")
        if envelope is not None:
            ax.scatter([s.flops for s in envelope.steps], [getattr(s, field) for s in envelope.steps], marker="^",
                       color="darkorange", zorder=5, s=24, label="approach 1 steps", gid="approach1")
        ax.set(xscale="log", yscale="log", xlabel="compute C (FLOPs)", ylabel=label)
        ax.grid(True, which="major", alpha=0.3)
    ax_n.set_title("Compute-optimal model size")
    ax_d.set_title("Compute-optimal training tokens")
    ax_n.legend(fontsize=7)
    return fig


# ---------------------------------------------------------------------------------------- loss landscape

def loss_landscape(law, *, budgets=None, unique_tokens=None, config=None, table=None, n_params_range=None,
                   n_tokens_range=None, resolution: int = 160):
    """L(N, D) of ``law`` as filled contours over log N × log D.

    Lines (gids): ``"isoflop-<i>"`` D = C/(6N) for each of ``budgets``; ``"compute-optimal"`` the path
    (N*(C), D*(C)); ``"data-constrained"`` the path of `plan.constrained_optimal` for ``unique_tokens``
    (D beyond it repeats data). Points: ``"runs"`` (a RunTable's final (N, D)), ``"config"`` the
    configuration ``config`` = (n_params, n_tokens).
    """
    from ..planning import MIN_FLOPS, compute_optimal, constrained_optimal

    point = _point_law(law)
    budgets = None if budgets is None else np.atleast_1d(np.asarray(budgets, float))
    # The view: around the budgets, the configuration and the runs, a decade and a half either side.
    anchors_n, anchors_d = [], []
    if budgets is not None:
        n_opt, d_opt = point.compute_optimal(budgets)
        anchors_n += list(np.ravel(n_opt))
        anchors_d += list(np.ravel(d_opt))
    if config is not None:
        anchors_n.append(config[0])
        anchors_d.append(config[1])
    if table is not None:
        finals = table.finals()
        anchors_n += [finals.n_params.min(), finals.n_params.max()]
        anchors_d += [finals.n_tokens.min(), finals.n_tokens.max()]
    if not anchors_n:
        anchors_n, anchors_d = [1e8, 1e11], [1e9, 1e13]
    n_lo, n_hi = n_params_range or (min(anchors_n) / 30, max(anchors_n) * 30)
    d_lo, d_hi = n_tokens_range or (min(anchors_d) / 30, max(anchors_d) * 30)
    N = np.geomspace(n_lo, n_hi, resolution)
    D = np.geomspace(d_lo, d_hi, resolution)
    NN, DD = np.meshgrid(N, D)
    loss = point.loss(NN, DD)
    fig, ax = _figure(width=7.0, height=5.4)
    levels = np.quantile(loss, np.linspace(0, 1, 25))
    filled = ax.contourf(NN, DD, loss, levels=np.unique(levels), cmap="viridis_r")
    fig.colorbar(filled, ax=ax, label="predicted loss (nats/token)")
    for i, c in enumerate(budgets if budgets is not None else []):
        ax.plot(N, c / (FLOPS_PER_PARAM_TOKEN * N), color="white", lw=1, ls=":", gid=f"isoflop-{i}")
        ax.annotate(f"{c:.0e}", (N[-1], c / (FLOPS_PER_PARAM_TOKEN * N[-1])), color="white", fontsize=7,
                    ha="right", va="bottom", annotation_clip=True)
    path_flops = np.geomspace(max(FLOPS_PER_PARAM_TOKEN * n_lo * d_lo, MIN_FLOPS),
                              FLOPS_PER_PARAM_TOKEN * n_hi * d_hi, 200)
    optimal = compute_optimal(point, path_flops)
    ax.plot(optimal.n_params, optimal.n_tokens, color="crimson", lw=2, label="compute-optimal", gid="compute-optimal")
    if unique_tokens is not None:
        constrained = constrained_optimal(point, path_flops, unique_tokens)
        ax.plot(constrained.n_params, constrained.n_tokens, color="darkorange", lw=2, ls="--",
                label=f"data-constrained ({unique_tokens:.2g} unique tokens)", gid="data-constrained")
    if table is not None:
        ax.scatter(finals.n_params, finals.n_tokens, s=8, color="white", edgecolor="black", linewidth=0.3,
                   label="runs", gid="runs")
    if config is not None:
        ax.scatter([config[0]], [config[1]], marker="X", s=120, color="magenta", edgecolor="black", zorder=6,
                   label=f"configuration ({config[0]:.2g}, {config[1]:.2g})", gid="config")
    ax.set(xscale="log", yscale="log", xlim=(n_lo, n_hi), ylim=(d_lo, d_hi), xlabel="parameters N",
           ylabel="training tokens D", title=f"Loss landscape: {_label(point.name)}")
    ax.legend(fontsize=7, loc="upper left")
    return fig


# --------------------------------------------------------------------------------------------- residuals

def residuals(fit, table):
    """A fit's residuals log L̂ − log L (``FitResult.residuals``) against compute and against model size.

    ``table`` is the table the fit was made on (its final losses, in the same order). Points gid
    ``"residuals"``; the shaded band is ±RMS.
    """
    finals = table.finals()
    r = np.asarray(fit.residuals, float)
    if r.size != len(finals):
        raise InputError(f"the fit has {r.size} residuals but the table {len(finals)} runs; pass the table it was "
                         f"fitted on")
    rms = float(np.sqrt(np.mean(r**2)))
    fig, axes = _figure(2, width=5.2, height=3.8)
    for ax, x, label in ((axes[0], finals.flops, "compute C (FLOPs)"), (axes[1], finals.n_params, "parameters N")):
        ax.axhspan(-rms, rms, color="grey", alpha=0.15, lw=0)
        ax.axhline(0, color="black", lw=0.8)
        ax.scatter(x, r, s=12, c=np.log10(finals.n_params if ax is axes[0] else finals.flops), cmap="viridis",
                   gid="residuals")
        ax.set(xscale="log", xlabel=label, ylabel="log L̂ − log L")
    axes[0].set_title(f"Residuals of {fit.form} (RMS {rms:.2%})")
    axes[1].set_title("coloured by compute")
    return fig


# ------------------------------------------------------------------------------------- training curves

def training_curves(table, envelope=None, *, max_runs: int = 200):
    """Loss against FLOPs for each run (colour: log N; dashed grey: flagged by the envelope's schedule check)
    and the approach-1 envelope (gid ``"envelope"``: ``envelope.flops``, ``envelope.loss``) with the
    points where the best model size changes (gid ``"steps"``)."""

    frame = table.frame
    if "step" not in frame:
        raise InputError("training curves need a table with a step column (several rows per run)")
    runs = list(dict.fromkeys(frame["run_id"]))[:max_runs]
    sizes = frame.groupby("run_id")["n_params"].first()
    lo, hi = np.log10(sizes.min()), np.log10(sizes.max())
    cmap = _viridis()
    flagged = envelope.flagged if envelope is not None else {}
    fig, ax = _figure(width=7.0, height=4.8)
    for run in runs:
        rows = frame[frame["run_id"] == run].sort_values("flops")
        shade = 0.5 if hi == lo else (np.log10(sizes[run]) - lo) / (hi - lo)
        style = dict(color="grey", ls="--", lw=0.8) if run in flagged else dict(color=cmap(shade), lw=0.9)
        ax.plot(rows["flops"], rows["loss"], alpha=0.8, gid=f"run-{run}", **style)
    if envelope is not None:
        ax.plot(envelope.flops, envelope.loss, color="black", lw=2.2, label="envelope (min over runs)", gid="envelope")
        c = np.array([s.flops for s in envelope.steps])
        ax.scatter(c, np.interp(np.log(c), np.log(envelope.flops), envelope.loss), marker="^", s=40,
                   color="darkorange", edgecolor="black", zorder=6, label="best size changes", gid="steps")
        if flagged:
            ax.plot([], [], color="grey", ls="--", label=f"schedule mismatch ({len(flagged)} run"
                    f"{'s' if len(flagged) > 1 else ''}{', left out' if envelope.excluded else ''})")
        ax.legend(fontsize=7)
    norm = matplotlib.colors.LogNorm(10**lo, 10**hi if hi > lo else 10**lo * 1.01)
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="parameters N")
    title = "Training curves"
    if envelope is not None:
        title += f": envelope N* ∝ C^{envelope.n_params_fit.exponent:.3f}"
    ax.set(xscale="log", xlabel="compute C (FLOPs)", ylabel="loss (nats/token)", title=title)
    return fig


def wsd_branches(curves, branches, fitted=None):
    """A WSD sweep (Hägele et al. 2024): each trunk's loss against tokens at its constant learning rate
    (gid ``"trunk-RUN"``), and for each cooldown a branch from the trunk's loss at the branch point to the
    cooldown's final loss (gid ``"branch-RUN"``). The final points are filled where the fit used them
    (gid ``"fitted"``) and hollow where it did not (gid ``"not-fitted"``: dropped, or not finished).

    ``curves``: every evaluation of every run (``sweep.store.export_curves`` or a curves RunTable's frame);
    ``branches``: ``sweep.store.export_branches``; ``fitted``: the run ids the fit used (None: all).
    """
    frame = getattr(curves, "frame", curves)
    if branches is None or not len(branches):
        raise InputError("this sweep has no WSD cooldowns to draw (it uses the cosine schedule)")
    sizes = np.log10(np.asarray(branches["n_params"], float))
    lo, hi = sizes.min(), sizes.max()
    cmap = _viridis()
    fig, ax = _figure(width=7.0, height=4.8)
    points = {True: [], False: []}
    for trunk, group in branches.groupby("trunk", sort=False):
        shade = 0.5 if hi == lo else (np.log10(group["n_params"].iloc[0]) - lo) / (hi - lo)
        color = cmap(shade)
        rows = frame[frame["run_id"] == trunk].sort_values("n_tokens")
        if len(rows):
            ax.plot(rows["n_tokens"], rows["loss"], color=color, lw=1.6, gid=f"trunk-{trunk}",
                    label=f"N = {format_quantity(group['n_params'].iloc[0])}")
        for branch in group.itertuples():
            # the trunk's loss at the branch point, read off its curve (linear in log tokens between
            # evaluations); no branch line where the curve does not reach the branch point
            inside = len(rows) and rows["n_tokens"].min() <= branch.branch_tokens <= rows["n_tokens"].max()
            start = (np.interp(np.log(branch.branch_tokens), np.log(rows["n_tokens"]), rows["loss"])
                     if inside else np.nan)
            ax.plot([branch.branch_tokens, branch.n_tokens], [start, branch.loss], color=color, lw=0.8, ls="--",
                    gid=f"branch-{branch.run_id}")
            points[fitted is None or branch.run_id in fitted].append((branch.n_tokens, branch.loss, color))
    for used, marker in ((True, dict(gid="fitted", label="cooldown point, fitted")),
                         (False, dict(gid="not-fitted", label="cooldown point, not fitted"))):
        if points[used]:
            x, y, colors = zip(*points[used])
            face = list(colors) if used else "white"
            ax.scatter(x, y, s=28, facecolors=face, edgecolors=list(colors), linewidths=1.2, zorder=5, **marker)
    ax.set(xscale="log", xlabel="training tokens D", ylabel="loss (nats/token)",
           title="WSD trunks (solid, constant learning rate) and their cooldowns (dashed)")
    ax.legend(fontsize=7)
    return fig


# ------------------------------------------------------------------------------------------------ output

def save(fig, stem: str | Path, formats=("png", "svg"), dpi: int = 130) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.svg`` (or ``formats``); returns the paths."""
    stem = Path(stem)
    paths = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        with atomic_writer(path) as f:  # an interrupt left a 124-byte PNG; a failure names the path
            fig.savefig(f, format=fmt, dpi=dpi)
        paths.append(path)
    return paths


def png_base64(fig, dpi: int = 110) -> str:
    """The figure as a base64 PNG, for a data: URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
