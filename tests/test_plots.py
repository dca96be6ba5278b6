"""Figures: the plotted data are read back from the artists and compared with the numbers they show
(fit_isoflop's minima, compute_optimal's frontier and intervals, closed-form laws, the envelope)."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from isoflop.fitting.envelope import envelope  # noqa: E402
from isoflop.fitting.isoflop import fit_isoflop  # noqa: E402
from isoflop.laws import ChinchillaLaw, LawEnsemble  # noqa: E402
from isoflop.planning import compute_optimal, constrained_optimal  # noqa: E402
from isoflop.presets import PRESETS  # noqa: E402
from isoflop.reporting import plots  # noqa: E402
from tests.test_envelope import LAW, law_curves, table_of  # noqa: E402

BUDGETS = (1e17, 3e17, 1e18, 3e18, 1e19)


def isoflop_sweep(law=LAW, budgets=BUDGETS, per_budget=7, n_points=30, noise=0.002, seed=0):
    """An IsoFLOP sweep with training curves: at each budget, sizes from N*(C)/4 to 4·N*(C); each run's curve
    has n_points log-spaced checkpoints up to its D = C/(6N), which is also its planned length."""
    rng = np.random.default_rng(seed)
    frames = []
    for c in budgets:
        n_opt, _ = law.compute_optimal(c)
        for j, n in enumerate(n_opt * np.geomspace(0.25, 4, per_budget)):
            d = c / (6 * n)
            tokens = np.geomspace(d / 100, d, n_points)
            loss = law.loss(n, tokens) * np.exp(rng.normal(0, noise, n_points))
            frames.append(pd.DataFrame({"run_id": f"c{c:.0e}-{j}", "step": np.arange(1, n_points + 1), "n_params": n,
                                        "n_tokens": tokens, "loss": loss, "planned_tokens": d}))
    return table_of(pd.concat(frames, ignore_index=True))


def by_gid(artists, gid):
    found = [a for a in artists if a.get_gid() == gid]
    assert len(found) == 1, f"{gid}: {len(found)} artists"
    return found[0]


def line_xy(ax, gid):
    line = by_gid(ax.lines, gid)
    return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


def test_isoflop_curves_minima_are_the_fitted_minima():
    table = isoflop_sweep().finals()
    result = fit_isoflop(table)
    fig = plots.isoflop_curves(table, result)
    ax = fig.axes[0]
    minima = by_gid(ax.collections, "minima").get_offsets()
    np.testing.assert_allclose(minima, [(o.n_params, o.loss) for o in result.optima], rtol=1e-12)
    # Each drawn parabola bottoms out at its budget's fitted minimum (on a 200-point line: within a step).
    parabolas = [line for line in ax.lines if line.get_gid().startswith("parabola-")]
    assert len(parabolas) == len(result.optima) == len(BUDGETS)
    for line, optimum in zip(parabolas, result.optima):
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        assert y.min() == pytest.approx(optimum.loss, abs=1e-4)
        assert np.log(x[np.argmin(y)]) == pytest.approx(np.log(optimum.n_params), abs=np.log(x[1] / x[0]))
    # The runs are all plotted, one collection per budget.
    runs = [c for c in ax.collections if c.get_gid().startswith("runs-")]
    assert sum(len(c.get_offsets()) for c in runs) == len(table)


def ensemble(k=64, seed=0):
    """LAW with (k, 1)-shaped members whose exponents are jittered (a stand-in for bootstrap members)."""
    rng = np.random.default_rng(seed)
    members = ChinchillaLaw(E=LAW.E, A=LAW.A, B=LAW.B, alpha=(LAW.alpha + rng.normal(0, 0.01, k))[:, None],
                            beta=(LAW.beta + rng.normal(0, 0.01, k))[:, None])
    return LawEnsemble(point=LAW, members=members)


def test_frontier_lines_and_band_are_compute_optimal():
    law = ensemble()
    flops = np.logspace(19, 25, 13)
    iso = fit_isoflop(isoflop_sweep().finals())
    fig = plots.frontier(law, flops, presets=("hoffmann2022", "kaplan2020"), isoflop=iso)
    ax_n, ax_d = fig.axes[:2]
    plan = compute_optimal(law, flops)
    x, y = line_xy(ax_n, "fit")
    np.testing.assert_array_equal(x, flops)
    np.testing.assert_array_equal(y, plan.n_params)
    np.testing.assert_array_equal(line_xy(ax_d, "fit")[1], plan.n_tokens)
    # Closed form (Hoffmann et al. 2022, eq. 4) as an independent oracle of the point line.
    np.testing.assert_allclose(y, LAW.G * (flops / 6) ** LAW.n_params_exponent, rtol=1e-12)
    # The band spans the members' 2.5 and 97.5 percentiles of N*(C), computed here from the closed form.
    m = law.members
    members_n = m.G * (flops[None, :] / 6) ** m.n_params_exponent
    low, high = np.percentile(members_n, [2.5, 97.5], axis=0)
    band = by_gid(ax_n.collections, "fit-band").get_paths()[0].vertices
    for c, lo, hi in zip(flops, low, high):
        at = band[np.isclose(band[:, 0], c, rtol=1e-12), 1]
        np.testing.assert_allclose([at.min(), at.max()], [lo, hi], rtol=1e-10)
    for name in ("hoffmann2022", "kaplan2020"):
        np.testing.assert_allclose(line_xy(ax_n, f"preset-{name}")[1],
                                   compute_optimal(PRESETS[name].law, flops).n_params, rtol=1e-12)
    np.testing.assert_allclose(by_gid(ax_n.collections, "approach2").get_offsets(),
                               [(o.flops, o.n_params) for o in iso.optima])
    np.testing.assert_allclose(by_gid(ax_d.collections, "approach2").get_offsets(),
                               [(o.flops, o.n_tokens) for o in iso.optima])


def test_loss_landscape_paths_and_config():
    budgets = [1e21, 1e22, 1e23]
    unique = 3e10
    fig = plots.loss_landscape(LAW, budgets=budgets, unique_tokens=unique, config=(7e9, 140e9))
    ax = fig.axes[0]
    n, d = line_xy(ax, "compute-optimal")
    n_opt, d_opt = LAW.compute_optimal(6 * n * d)  # every point of the path is the optimum at its own compute
    np.testing.assert_allclose(n, n_opt, rtol=1e-10)
    np.testing.assert_allclose(d, d_opt, rtol=1e-10)
    nc, dc = line_xy(ax, "data-constrained")
    constrained = constrained_optimal(LAW, 6 * nc * dc, unique)
    np.testing.assert_allclose(nc, constrained.n_params, rtol=1e-9)
    # With plentiful unique data the paths agree (Muennighoff et al. 2023); deep into repetition they part.
    plentiful, repeated = dc < unique / 10, dc > 4 * unique
    assert plentiful.any() and repeated.any()
    np.testing.assert_allclose(nc[plentiful], LAW.compute_optimal(6 * nc[plentiful] * dc[plentiful])[0], rtol=1e-3)
    free = LAW.compute_optimal(6 * nc[repeated] * dc[repeated])[0]
    assert np.max(np.abs(nc[repeated] / free - 1)) > 0.05
    for i, c in enumerate(budgets):
        x, y = line_xy(ax, f"isoflop-{i}")
        np.testing.assert_allclose(6 * x * y, c, rtol=1e-12)
    np.testing.assert_array_equal(by_gid(ax.collections, "config").get_offsets(), [(7e9, 140e9)])


def test_residuals_are_the_fits():
    from isoflop.fitting import fit

    table = isoflop_sweep().finals()
    result = fit(table)
    fig = plots.residuals(result, table)
    points = by_gid(fig.axes[0].collections, "residuals").get_offsets()
    np.testing.assert_array_equal(points[:, 0], table.flops)
    np.testing.assert_array_equal(points[:, 1], result.residuals)
    # Independent: the residuals are log L̂ − log L under the fitted constants.
    np.testing.assert_allclose(points[:, 1], np.log(result.law.loss(table.n_params, table.n_tokens) / table.loss),
                               atol=1e-12)
    np.testing.assert_array_equal(by_gid(fig.axes[1].collections, "residuals").get_offsets()[:, 0], table.n_params)


def test_training_curves_show_the_envelope():
    frame = law_curves()
    cut = frame["run_id"] == "n03"
    frame.loc[cut, "planned_tokens"] *= 3  # stopped at a third of its schedule: flagged
    table = table_of(frame)
    result = envelope(table)
    fig = plots.training_curves(table, result)
    ax = fig.axes[0]
    x, y = line_xy(ax, "envelope")
    np.testing.assert_array_equal(x, result.flops)
    np.testing.assert_array_equal(y, result.loss)
    run = by_gid(ax.lines, "run-n05")
    rows = table.frame[table.frame["run_id"] == "n05"]
    np.testing.assert_array_equal(run.get_xdata(), rows["flops"])
    np.testing.assert_array_equal(run.get_ydata(), rows["loss"])
    assert by_gid(ax.lines, "run-n03").get_linestyle() == "--"  # the flagged run
    steps = by_gid(ax.collections, "steps").get_offsets()
    np.testing.assert_allclose(steps[:, 0], [s.flops for s in result.steps])


def test_wsd_branches_start_on_the_trunk_and_mark_the_fitted_points():
    # Two trunks evaluated every 100 tokens of a known curve; cooldowns branch off at known points.
    curve = lambda n, d: 2.0 + 1e3 / n + 50.0 / np.sqrt(d)  # noqa: E731
    tokens = np.arange(100, 1001, 100.0)
    curves = pd.concat([pd.DataFrame({"run_id": f"n{n}-trunk", "n_params": n, "n_tokens": tokens,
                                      "loss": curve(n, tokens)}) for n in (1e3, 1e4)], ignore_index=True)
    branches = pd.DataFrame({"run_id": ["a", "b", "c", "d"], "trunk": ["n1000.0-trunk"] * 2 + ["n10000.0-trunk"] * 2,
                             "n_params": [1e3, 1e3, 1e4, 1e4], "branch_tokens": [400, 800, 400, 50],
                             "n_tokens": [500, 1000, 500, 60], "loss": [2.9, 2.8, 2.2, 2.6]})
    fig = plots.wsd_branches(curves, branches, fitted={"a", "c", "d"})
    ax = fig.axes[0]
    x, y = line_xy(ax, "trunk-n1000.0-trunk")
    np.testing.assert_allclose(y, curve(1e3, tokens))
    x, y = line_xy(ax, "branch-b")  # from the trunk's loss at 800 tokens (an evaluation) to the cooldown's end
    np.testing.assert_allclose(x, [800, 1000])
    np.testing.assert_allclose(y, [curve(1e3, 800), 2.8])
    x, y = line_xy(ax, "branch-d")  # branches before the trunk's first evaluation: no start to draw from
    assert np.isnan(y[0]) and y[1] == 2.6
    fitted = by_gid(ax.collections, "fitted").get_offsets()
    assert sorted(map(tuple, np.asarray(fitted))) == [(60, 2.6), (500, 2.2), (500, 2.9)]
    np.testing.assert_allclose(by_gid(ax.collections, "not-fitted").get_offsets(), [[1000, 2.8]])
    with pytest.raises(Exception, match="no WSD cooldowns"):
        plots.wsd_branches(curves, branches.iloc[:0])


def test_save_png_and_svg(tmp_path):
    import base64

    fig = plots.loss_landscape(LAW, budgets=[1e21], resolution=40)
    paths = plots.save(fig, tmp_path / "landscape")
    assert [p.name for p in paths] == ["landscape.png", "landscape.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in paths[1].read_text()[:500]
    assert base64.b64decode(plots.png_base64(fig))[:4] == b"\x89PNG"


def test_figures_need_an_nd_law():
    from isoflop.errors import InputError
    from isoflop.laws import LossVsComputeLaw

    with pytest.raises(InputError, match="loss against compute only"):
        plots.frontier(LossVsComputeLaw(E=1.7, C0=1e8, gamma=0.05))


def test_import_stays_light():
    code = ("import sys, isoflop, isoflop.reporting, isoflop.ingest, isoflop.fitting.envelope, isoflop.cli; "
            "print(sorted(m for m in ('matplotlib', 'tensorboard', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_figure_cut_by_an_interrupt_leaves_no_file(tmp_path):
    """Ctrl-C during `report --figures` left a 124-byte PNG under the figure's name: saves are atomic now."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    whole = plots.save(fig, tmp_path / "whole", formats=("png",))[0].read_bytes()
    assert whole.startswith(b"\x89PNG") and whole.endswith(b"IEND\xaeB`\x82")

    def cut(f, **kwargs):
        f.write(whole[:124])
        raise KeyboardInterrupt

    fig.savefig = cut
    with pytest.raises(KeyboardInterrupt):
        plots.save(fig, tmp_path / "cut", formats=("png",))
    assert list(tmp_path.iterdir()) == [tmp_path / "whole.png"]  # no cut file, no temporary left
    plt.close(fig)
