"""A self-contained HTML report of runs, their fitted law, plans and figures.

One file, readable offline: figures are embedded as base64 PNG ``data:`` URIs, the style sheet is inline,
and there is no script and no external resource. Sections: the data; the fitted law (approach 3, Huber on
log residuals) with bootstrap intervals; N*(C) ∝ C^a from approaches 1, 2 and 3 side by side; an
extrapolation backtest; compute-optimal plans for chosen budgets; the diagnosis of a configuration; and
the figures of `isoflop.report.plots`. A section whose method does not apply to the data (too few budgets
for approach 2, no training curves for approach 1, …) is replaced by a note that says why.

``build_report`` computes everything and returns a `Report` (its ``summary`` is JSON-ready);
``Report.html()`` renders the page, ``Report.write(path)`` writes it, ``Report.save_figures(folder)``
writes each figure as PNG and SVG.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fit.parametric import law_params
from ..runs import RunTable
from ..units import format_quantity

DEFAULT_BUDGETS = (1e21, 1e22, 1e23)
DEFAULT_BOOTSTRAP = 200


# -------------------------------------------------------------------------------------------- inputs

def read_saved_fit(path: str | Path):
    """(law or LawEnsemble, the saved JSON) if ``path`` is a fit saved by `isoflop fit --save`, else None."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() != ".json":
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not (isinstance(data, dict) and "law" in data and "params" in data):
        return None
    from ..fit.io import load_fit

    return load_fit(path), data


def sweep_curves(folder: str | Path, param_convention: str = "total") -> RunTable | None:
    """The training curves of a sweep folder (`isoflop.sweep.store.export_curves`: every evaluation of every
    run, finished or not), with each run's planned_tokens from its spec.json, so that approach 1 flags runs
    that have not finished; None where the folder has no curves. The evaluation at step 0 (no tokens yet) and
    non-finite losses are left out."""
    try:
        from ..sweep.store import export_curves, run_dir
    except ImportError:
        return None
    frame = export_curves(folder)
    if frame is None or len(frame) == 0:
        return None
    frame = frame[(frame["n_tokens"] > 0) & np.isfinite(frame["loss"].astype(float))]
    if len(frame) == 0:
        return None
    table = RunTable.from_frame(frame, param_convention=param_convention, source=str(folder))
    planned = {}
    for run in table.frame["run_id"].unique():
        try:
            spec = json.loads((run_dir(folder, run) / "spec.json").read_text())
            planned[run] = float(spec["n_tokens"])
        except (OSError, ValueError, KeyError, TypeError):
            planned[run] = np.nan
    return RunTable(table.frame.assign(planned_tokens=table.frame["run_id"].map(planned).astype(float)),
                    table.param_convention, table.warnings)


def parse_config(text: str) -> tuple[float, float]:
    """'7e9x140e9' or '7Bx140B' → (n_params, n_tokens)."""
    from ..units import parse_quantity

    parts = str(text).lower().replace("×", "x").split("x")
    if len(parts) != 2:
        raise InputError(f"--config: expected PARAMSxTOKENS such as 7e9x140e9 or 7Bx140B, got {text!r}")
    return parse_quantity(parts[0], "--config params"), parse_quantity(parts[1], "--config tokens")


def parse_budgets(text: str) -> tuple[float, ...]:
    """'1e21,1e22,1e23' → (1e21, 1e22, 1e23)."""
    from ..units import parse_quantity

    return tuple(parse_quantity(part, "--budgets") for part in str(text).split(",") if part.strip())


# ------------------------------------------------------------------------------------------- compute

@dataclass(frozen=True)
class Report:
    """What the report says (``summary``, JSON-ready) and its figures (name → (Figure, caption))."""

    title: str
    summary: dict
    figures: dict = field(default_factory=dict)
    law: object = None  # the fitted law (a LawEnsemble with a bootstrap) or the saved one

    def to_dict(self) -> dict:
        return dict(self.summary, title=self.title, figures=list(self.figures))

    def html(self) -> str:
        return render(self)

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(self.html(), encoding="utf-8")
            tmp.replace(path)  # atomic: a browser never sees half a page
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror}") from None
        return path

    def save_figures(self, folder: str | Path) -> list[Path]:
        from .plots import save

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return [p for name, (fig, _) in self.figures.items() for p in save(fig, folder / name)]


def _span(values) -> list[float]:
    values = np.asarray(values, float)
    return [float(values.min()), float(values.max())]


def _backtest_threshold(finals: RunTable):
    """Hold out the largest budgets (groups of `group_budgets`), as few as hold at least max(3, 10%) of the
    runs, keeping at least 2 budgets to fit on; None where that is impossible."""
    from ..fit.isoflop import group_budgets

    labels = group_budgets(finals.flops)
    groups = np.unique(labels)[::-1]
    held = 0
    for i, label in enumerate(groups[:-2]):
        held += int((labels == label).sum())
        if held >= max(3, 0.1 * len(finals)):
            return float(finals.flops[np.isin(labels, groups[:i + 1])].min())
    return None


def _curves_of(table: RunTable) -> RunTable | None:
    if "step" not in table.frame:
        return None
    counts = table.frame.groupby("run_id").size()
    return table if (counts >= 2).sum() >= 2 else None


def build_report(table: RunTable | None = None, *, law=None, saved: dict | None = None, curves: RunTable | None = None,
                 budgets=DEFAULT_BUDGETS, config=None, unique_tokens=None, form: str = "chinchilla",
                 n_bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0, backtest_above=None, smooth: float = 0.0,
                 source: str = "", title: str | None = None, figures: bool = True) -> Report:
    """Fit, plan and draw for a report.

    Either ``table`` (runs: final losses, or curves with a ``step`` column, whose last points are fitted)
    or ``law`` (a law or LawEnsemble, e.g. from a saved fit, whose JSON is ``saved``). ``curves``: training
    curves for approach 1 when ``table`` has none. ``budgets``: FLOPs to plan for; ``config``: (n_params,
    n_tokens) to diagnose; ``unique_tokens``: draw the data-constrained path. ``n_bootstrap`` resamples of
    runs give the intervals (0: none). ``backtest_above``: fit below this compute and score above it
    (default: hold out the largest budgets). ``smooth``: approach 1's smoothing of each curve (half-width in
    log C; see `isoflop.fit.envelope`).
    """
    from .. import fit as fitting
    from .. import plan as planning

    if (table is None) == (law is None):
        raise InputError("a report needs runs or a saved fit (exactly one)")
    summary: dict = {"source": source, "notes": []}
    notes = summary["notes"]
    fit_result = boot = iso = env = finals = None
    if table is not None:
        finals = table.finals()
        curves = curves if curves is not None else _curves_of(table)
        summary["data"] = {
            "n_runs": len(finals), "n_points": len(table), "param_convention": table.param_convention,
            "n_params": _span(finals.n_params), "n_tokens": _span(finals.n_tokens), "flops": _span(finals.flops),
            "loss": _span(finals.loss), "curves": curves is not None, "warnings": list(table.warnings)}
        fit_result = fitting.fit(finals, form)
        summary["fit"] = fit_result.to_dict()
        law = fit_result.law
        if n_bootstrap >= 2:
            from ..fit.bootstrap import bootstrap

            boot = bootstrap(fit_result, finals.loss, finals.run_ids, n_resamples=n_bootstrap, seed=seed)
            summary["fit"]["intervals"] = boot.to_dict()["intervals"]
            summary["fit"]["bootstrap"] = {k: v for k, v in boot.to_dict().items() if k != "intervals"}
            law = boot.ensemble
        threshold = backtest_above if backtest_above is not None else _backtest_threshold(finals)
        if threshold is None:
            notes.append("backtest: too few compute budgets to hold the largest out")
        else:
            from ..fit.select import backtest

            try:
                summary["backtest"] = [b.to_dict() for b in backtest(finals, threshold, (form,))]
            except InputError as exc:
                notes.append(f"backtest: {exc}")
        from ..fit.isoflop import fit_isoflop

        try:
            iso = fit_isoflop(finals)
            summary["isoflop"] = iso.to_dict()
        except InputError as exc:
            notes.append(f"approach 2: {exc}")
    else:
        summary["fit"] = {k: v for k, v in (saved or {}).items() if k != "ensemble"}
        summary["fit"].setdefault("params", law_params(getattr(law, "point", law)))
        notes.append("a saved fit carries no runs: no data summary, backtest, residuals or approach 2")
    if curves is not None:
        from ..fit.envelope import envelope

        try:
            env = envelope(curves, smooth=smooth)
            summary["envelope"] = env.to_dict()
        except InputError as exc:
            notes.append(f"approach 1: {exc}")
    else:
        notes.append("approach 1: no training curves (a table with a step column, e.g. from `isoflop ingest`)")

    point = getattr(law, "point", law)
    plannable = hasattr(point, "compute_optimal")
    summary["exponents"] = _exponents(point, boot, iso, env, plannable)
    if plannable:
        plans = planning.compute_optimal(law, np.asarray(budgets, float))
        summary["plans"] = _plan_rows(plans, budgets)
        if config is not None:
            summary["diagnosis"] = planning.diagnose(law, *config).to_dict()
    else:
        notes.append(f"{point.kind} laws give loss against compute only: no plans, diagnosis or landscape")

    shown = {}
    if figures:
        shown = _figures(law, plannable, finals, fit_result, iso, env, curves, budgets, config, unique_tokens,
                         table)
    name = Path(source).name if source else "runs"
    return Report(title or f"isoflop report: {name}", summary, shown, law)


def _exponents(point, boot, iso, env, plannable) -> dict:
    """a in N*(C) ∝ C^a by each approach that ran, with its interval."""
    out = {}
    if plannable and hasattr(point, "n_params_exponent"):
        interval = boot.intervals.get("a") if boot is not None else None
        out["approach 3 (parametric fit)"] = {"a": float(point.n_params_exponent),
                                              "interval": list(interval) if interval else None}
    if iso is not None:
        out["approach 2 (IsoFLOP profiles)"] = {"a": iso.n_params_fit.exponent,
                                                "interval": list(iso.n_params_fit.interval)}
    if env is not None:
        out["approach 1 (training-curve envelope)"] = {"a": env.n_params_fit.exponent,
                                                       "interval": list(env.n_params_fit.interval)}
    return out


def _plan_rows(plans, budgets) -> list[dict]:
    d = plans.to_dict()
    rows = []
    for i, c in enumerate(budgets):
        row = {"flops": float(c)}  # as asked (the plan's own 6·N·D agrees to rounding)
        for key in ("n_params", "n_tokens", "tokens_per_param", "loss"):
            row[key] = float(np.atleast_1d(d[key])[i])
        for key, (lo, hi) in d.get("intervals", {}).items():
            row[f"{key}_interval"] = [float(np.atleast_1d(lo)[i]), float(np.atleast_1d(hi)[i])]
        rows.append(row)
    return rows


def _figures(law, plannable, finals, fit_result, iso, env, curves, budgets, config, unique_tokens, table) -> dict:
    try:
        from . import plots
    except ImportError:
        raise InputError("figures need matplotlib: pip install 'isoflop[plot]'") from None

    out = {}
    if iso is not None:
        out["isoflop_profiles"] = (plots.isoflop_curves(finals, iso),
                                   "Loss against model size per compute budget (approach 2); stars: each "
                                   "budget's fitted minimum.")
    if plannable:
        lo = min([min(budgets)] + ([finals.flops.min()] if finals is not None else []))
        hi = max([max(budgets)] + ([finals.flops.max()] if finals is not None else []))
        flops = np.geomspace(lo / 3, hi * 3, 81)
        out["frontier"] = (plots.frontier(law, flops, isoflop=iso, envelope=env),
                           "Compute-optimal N*(C) and D*(C) of the fitted law (band: 95% bootstrap interval) "
                           "against published laws, with the optima measured by approaches 1 and 2.")
        out["loss_landscape"] = (plots.loss_landscape(law, budgets=budgets, unique_tokens=unique_tokens,
                                                      config=config, table=finals),
                                 "Predicted loss over (N, D): dotted iso-FLOP lines for the planned budgets, the "
                                 "compute-optimal path" + (", the data-constrained path" if unique_tokens else "")
                                 + ", the runs" + (" and the diagnosed configuration." if config else "."))
    if fit_result is not None:
        out["residuals"] = (plots.residuals(fit_result, finals),
                            "Residuals log L̂ − log L of the fit; band: ± RMS.")
    if curves is not None:
        out["training_curves"] = (plots.training_curves(curves, env),
                                  "Training curves against compute" + (" with the approach-1 envelope: the lowest "
                                                                       "loss of any run at each FLOP count."
                                                                       if env is not None else "."))
    return out


# -------------------------------------------------------------------------------------------- render

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; border-bottom: 2px solid #333; padding-bottom: .2em; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .6em 0; font-size: .92em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #555; }
.note { color: #8a5a00; font-size: .92em; } .muted { color: #777; font-size: .9em; }
code { background: #f5f5f5; padding: 0 .2em; }
"""


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or isinstance(value, str):
        return html.escape(str(value))
    value = float(value)
    if not np.isfinite(value):
        return str(value)
    if abs(value) >= 1e4:
        return format_quantity(value) if abs(value) < 1e15 else f"{value:.3g}"
    return f"{value:.4g}"


def _interval(pair) -> str:
    return "—" if not pair else f"[{_fmt(pair[0])}, {_fmt(pair[1])}]"


def _table(headers, rows) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kv(pairs) -> str:
    body = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in pairs)
    return f"<table><tbody>{body}</tbody></table>"


def _data_section(data) -> str:
    rows = [("runs", _fmt(data["n_runs"])), ("rows (points of curves included)", _fmt(data["n_points"])),
            ("parameter convention", _fmt(data["param_convention"]))]
    for key, label in (("n_params", "parameters N"), ("n_tokens", "tokens D"), ("flops", "compute C (FLOPs)"),
                       ("loss", "final loss (nats/token)")):
        rows.append((label, f"{_fmt(data[key][0])} … {_fmt(data[key][1])}"))
    rows.append(("training curves", "yes" if data["curves"] else "no"))
    out = _kv(rows)
    out += "".join(f'<p class="note">warning: {html.escape(w)}</p>' for w in data["warnings"])
    return out


def _fit_section(fit) -> str:
    intervals = fit.get("intervals", {})
    rows = [(html.escape(k), _fmt(v), _interval(intervals.get(k))) for k, v in fit["params"].items()]
    out = ""
    if fit.get("law", "").startswith("chinchilla"):
        out += "<p>L(N, D) = E + A / N<sup>α</sup> + B / D<sup>β</sup> (Hoffmann et al. 2022, eq. 2)</p>"
    level = fit.get("bootstrap", {}).get("level", 0.95)
    out += _table(("parameter", "value", f"{level:.0%} bootstrap interval"), rows)
    facts = []
    if "status" in fit:
        facts.append(f"status <b>{html.escape(fit['status'])}</b> ({html.escape(fit.get('message', ''))})")
    if "n_points" in fit:
        facts.append(f"{fit['n_points']} runs")
    if "objective" in fit:
        facts.append(f"Huber objective {fit['objective']:.6g} (δ = {fit.get('delta')})")
    if "residual_rms" in fit:
        facts.append(f"RMS log residual {fit['residual_rms']:.4f}")
    if "bootstrap" in fit:
        b = fit["bootstrap"]
        facts.append(f"{b['n_converged']} of {b['n_resamples']} bootstrap resamples converged (seed {b['seed']})")
    out += f'<p class="muted">{"; ".join(facts)}</p>'
    out += "".join(f'<p class="note">warning: {html.escape(w)}</p>' for w in fit.get("warnings", []))
    return out


def _exponent_section(exponents) -> str:
    rows = [(html.escape(k), _fmt(v["a"]), _interval(v["interval"])) for k, v in exponents.items()]
    return "<p>Compute-optimal model size N*(C) ∝ C<sup>a</sup>, by each approach of Hoffmann et al. 2022.</p>" + \
        _table(("approach", "a", "95% interval"), rows)


def _backtest_section(backtests) -> str:
    rows = [(html.escape(b["form"]), _fmt(b["threshold_flops"]), _fmt(b["n_train"]), _fmt(b["n_test"]),
             f"{b['mean_abs_rel_error']:.3%}", f"{b['max_abs_rel_error']:.3%}", html.escape(b["status"]))
            for b in backtests]
    return ("<p>Fit on the runs below the threshold compute, predict the losses of the runs at or above it.</p>"
            + _table(("form", "threshold FLOPs", "fit on", "scored", "mean |rel. error|", "max |rel. error|",
                      "status"), rows))


def _plan_section(plans, law_name) -> str:
    rows = []
    for r in plans:
        rows.append((_fmt(r["flops"]), _fmt(r["n_params"]), _interval(r.get("n_params_interval")),
                     _fmt(r["n_tokens"]), _interval(r.get("n_tokens_interval")), _fmt(r["tokens_per_param"]),
                     _fmt(r["loss"]), _interval(r.get("loss_interval"))))
    return (f"<p>Compute-optimal allocation (C = 6·N·D) under the fitted {html.escape(law_name)} law; intervals "
            f"over the bootstrap ensemble.</p>"
            + _table(("budget FLOPs", "N*", "N* interval", "D*", "D* interval", "tokens/param", "loss",
                      "loss interval"), rows))


def _diagnosis_section(d) -> str:
    intervals = d.get("intervals", {})
    rows = [("parameters N", _fmt(d["n_params"])), ("tokens D", _fmt(d["n_tokens"])),
            ("compute C (FLOPs)", _fmt(d["flops"])), ("regime", f"<b>{_fmt(d['regime'])}</b>"),
            ("tokens per parameter", _fmt(d["tokens_per_param"])),
            ("… relative to compute-optimal", f"{_fmt(d['tokens_per_param_ratio'])} "
                                              f"{_interval(intervals.get('tokens_per_param_ratio'))}"),
            ("predicted loss", f"{_fmt(d['loss'])} {_interval(intervals.get('loss'))}"),
            ("compute-optimal N, D at this compute", f"{_fmt(d['optimal']['n_params'])}, "
                                                      f"{_fmt(d['optimal']['n_tokens'])}"),
            ("compute a compute-optimal run needs for this loss",
             f"{_fmt(d['compute_equivalent_flops'])} {_interval(intervals.get('compute_equivalent_flops'))}"),
            ("compute wasted", f"{d['wasted_fraction']:.2%} " + ("" if "wasted_fraction" not in intervals else
                                                                  "[{:.2%}, {:.2%}]".format(*intervals["wasted_fraction"]))),
            ("limiting resource", _fmt(d["limiting"]))]
    return _kv(rows)


def _envelope_section(e) -> str:
    rows = [(_fmt(s["flops"]), _fmt(s["n_params_below"]), _fmt(s["n_params_above"]), _fmt(s["n_tokens"]))
            for s in e["steps"]]
    out = ("<p>At each of a log-spaced grid of FLOP counts, the run with the lowest interpolated loss; where the "
           "best model size changes, the optimum lies between the two sizes, and these points give N*(C).</p>"
           f"<details><summary>{len(rows)} changes of the best model size</summary>"
           + _table(("compute FLOPs", "from N", "to N", "D* there"), rows) + "</details>")
    for run, why in e["flagged"].items():
        out += f'<p class="note">run {html.escape(str(run))}: {html.escape(why)} — left out</p>'
    out += "".join(f'<p class="note">{html.escape(w)}</p>' for w in e["warnings"])
    return out


def render(report: Report) -> str:
    """The report as one HTML page (no scripts, no external resources)."""
    from .plots import png_base64

    s = report.summary
    parts = [f"<h1>{html.escape(report.title)}</h1>"]
    if s.get("source"):
        parts.append(f'<p class="muted">source: <code>{html.escape(s["source"])}</code></p>')
    sections = []
    if "data" in s:
        sections.append(("Data", _data_section(s["data"])))
    sections.append(("Fitted law", _fit_section(s["fit"])))
    if s.get("exponents"):
        sections.append(("Compute-optimal exponent", _exponent_section(s["exponents"])))
    if "backtest" in s:
        sections.append(("Extrapolation backtest", _backtest_section(s["backtest"])))
    if "plans" in s:
        law_name = s["fit"].get("law", "")
        sections.append(("Plans", _plan_section(s["plans"], law_name)))
    if "diagnosis" in s:
        sections.append(("Diagnosis of the configuration", _diagnosis_section(s["diagnosis"])))
    if "envelope" in s:
        sections.append(("Approach 1: training-curve envelope", _envelope_section(s["envelope"])))
    for title, body in sections:
        parts.append(f"<section><h2>{html.escape(title)}</h2>{body}</section>")
    if report.figures:
        figs = "".join(f'<figure id="{html.escape(name)}"><img alt="{html.escape(name)}" '
                       f'src="data:image/png;base64,{png_base64(fig)}"><figcaption>{html.escape(caption)}'
                       f"</figcaption></figure>" for name, (fig, caption) in report.figures.items())
        parts.append(f"<section><h2>Figures</h2>{figs}</section>")
    if s.get("notes"):
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in s["notes"])
        parts.append(f"<section><h2>Notes</h2><ul class=\"note\">{notes}</ul></section>")
    body = "\n".join(parts)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(report.title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")
