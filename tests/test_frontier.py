"""Frontier tables: budgets, side-by-side allocations, CSV and JSON output."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from isoflop.cli import app
from isoflop.errors import InputError
from isoflop.planning import MIN_FLOPS, budgets, compute_optimal, constrained_optimal, frontier, inference_optimal
from isoflop.presets import get_law

runner = CliRunner()
LAW = get_law("besiroglu2024")


def test_budgets_per_decade():
    grid = budgets(1e18, 1e26, 2)
    assert len(grid) == 17 and grid[0] == pytest.approx(1e18) and grid[-1] == pytest.approx(1e26)
    np.testing.assert_allclose(np.diff(np.log10(grid)), 0.5)
    assert len(budgets(1e20, 1e20, 3)) == 1
    with pytest.raises(InputError):
        budgets(1e22, 1e20)
    with pytest.raises(InputError):
        budgets(1e20, 1e22, 0)
    with pytest.raises(InputError, match="smallest sensible model"):
        budgets(1e6, 1e20)


def test_side_by_side_columns_equal_the_planners():
    grid = budgets(1e20, 1e25, 1)
    table = frontier(LAW, grid, unique_tokens=3e11, inference_tokens=1e13)
    rows = table.rows()
    assert len(rows) == 6
    co, dc = compute_optimal(LAW, grid), constrained_optimal(LAW, grid, 3e11)
    inf = inference_optimal(LAW, 1e13, match_flops=grid)
    np.testing.assert_allclose([r["optimal_n_params"] for r in rows], co.n_params, rtol=1e-15)
    np.testing.assert_allclose([r["constrained_epochs"] for r in rows], dc.epochs, rtol=1e-15)
    np.testing.assert_allclose([r["inference_n_params"] for r in rows], inf.n_params, rtol=1e-15)
    np.testing.assert_allclose([r["inference_total_flops"] for r in rows], inf.total_flops, rtol=1e-15)
    # Data binds only at large budgets; inference tokens always shrink the model.
    assert rows[0]["constrained_n_params"] == pytest.approx(rows[0]["optimal_n_params"], rel=1e-9)
    assert rows[-1]["constrained_loss"] > rows[-1]["optimal_loss"]
    assert all(r["inference_n_params"] < r["optimal_n_params"] for r in rows)


def test_only_compute_optimal_by_default():
    rows = frontier(LAW, budgets(1e20, 1e21, 2)).rows()
    assert set(rows[0]) == {"flops", "optimal_n_params", "optimal_n_tokens", "optimal_tokens_per_param",
                            "optimal_loss"}


def test_cli_json_and_csv(tmp_path):
    path = tmp_path / "frontier.csv"
    result = runner.invoke(app, ["frontier", "--from", "1e18", "--to", "1e26", "--per-decade", "2",
                                 "--unique-tokens", "1T", "--inference-tokens", "2T", "--csv", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["law"] == "besiroglu2024" and out["unique_tokens"] == 1e12 and out["inference_tokens"] == 2e12
    assert len(out["rows"]) == 17
    with open(path, newline="") as handle:
        saved = list(csv.DictReader(handle))
    assert len(saved) == 17 and float(saved[3]["flops"]) == pytest.approx(out["rows"][3]["flops"])
    assert set(saved[0]) == set(out["rows"][0]) and "constrained_epochs" in saved[0]


def test_cli_table():
    result = runner.invoke(app, ["frontier", "--from", "1e20", "--to", "1e22", "--unique-tokens", "10B"])
    assert result.exit_code == 0, result.output
    assert "Compute-optimal" in result.stdout and "Data-constrained" in result.stdout and "epochs" in result.stdout


@pytest.mark.parametrize("args", [
    ["frontier", "--from", "1e22", "--to", "1e20"],
    ["frontier", "--from", "1e5", "--to", "1e20"],
    ["frontier", "--from", "1e20", "--to", "1e22", "--per-decade", "0"],
    ["frontier", "--from", "1e20", "--to", "1e22", "--unique-tokens", "0"],
    ["frontier", "--from", "1e20", "--to", "1e22", "--csv", "/nonexistent/dir/f.csv"],
])
def test_cli_bad_input(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error:")


def test_threshold_is_documented_value():
    assert MIN_FLOPS == pytest.approx(6 * 1e3 * 1_024)


def test_ensemble_intervals_in_blocks_equal_one_block(monkeypatch):
    """Members × budgets are evaluated in blocks (8,001 budgets from a 20,000-member fit held 7.6 GB; now
    ~0.35 GB): each budget's percentiles are its own, so blocks of any size give the same intervals."""
    import isoflop
    from isoflop.fitting import predict as predict_module
    from isoflop import planning

    boot = isoflop.fit(str(Path(__file__).resolve().parents[1] / "examples" / "runs.csv")).bootstrap(200)
    flops = budgets(1e18, 1e24, 7)
    whole = isoflop.frontier(boot, flops, unique_tokens=1e10, inference_tokens=1e12)
    sizes = np.geomspace(1e8, 1e9, 23)
    whole_prediction = isoflop.predict_loss(boot, sizes, 2e10)
    monkeypatch.setattr(planning, "ENSEMBLE_CELLS", 200 * 5)  # blocks of 5 budgets
    monkeypatch.setattr(predict_module, "ENSEMBLE_CELLS", 200 * 5)
    blocks = isoflop.frontier(boot, flops, unique_tokens=1e10, inference_tokens=1e12)
    for a, b in ((whole.compute_optimal, blocks.compute_optimal), (whole.data_constrained, blocks.data_constrained),
                 (whole.inference_aware, blocks.inference_aware)):
        for name, (low, high) in a.intervals.items():
            np.testing.assert_allclose(b.intervals[name][0], low, rtol=1e-12)
            np.testing.assert_allclose(b.intervals[name][1], high, rtol=1e-12)
    blocked_prediction = isoflop.predict_loss(boot, sizes, 2e10)
    for low_high in (0, 1):
        np.testing.assert_allclose(blocked_prediction.interval[low_high], whole_prediction.interval[low_high],
                                   rtol=1e-12)


def test_a_long_frontier_table_shows_its_ends():
    """100,000 budgets took 4 minutes to draw as a table; it shows the first and last 30 and says so."""
    result = CliRunner().invoke(app, ["frontier", "--from", "1e18", "--to", "1e26", "--per-decade", "100"])
    assert result.exit_code == 0
    assert "801 budgets: the table shows the first and last 30" in result.stderr
    drawn = [line for line in result.stdout.splitlines() if "FLOPs │" in line]
    assert len(drawn) == 60 and "1e18 FLOPs" in drawn[0] and "1e26 FLOPs" in drawn[-1]


def test_a_frontier_from_a_fit_says_how_far_each_budget_lies_from_the_runs():
    """The README promised `extrapolation_decades` with every answer from a fit; frontier rows had only the
    warnings. Each row now carries log10(budget / the largest fitted run's compute), as plan does."""
    import isoflop
    from isoflop.runs import RunTable

    examples = Path(__file__).resolve().parents[1] / "examples" / "runs.csv"
    analysis = isoflop.analyse(RunTable.load(examples), isoflop.FitOptions(n_bootstrap=20))
    largest = float(np.max(analysis.runs.flops))
    result = isoflop.frontier(analysis, np.geomspace(1e18, 1e22, 5), allow_unidentified=True)
    rows = result.rows()
    assert [r["extrapolation_decades"] for r in rows] == pytest.approx(np.log10(result.flops / largest))
    one = isoflop.plan(analysis, flops=1e21, allow_unidentified=True)
    assert rows[3]["extrapolation_decades"] == pytest.approx(one.extrapolation_decades)
    assert "extrapolation_decades" not in frontier(get_law("besiroglu2024"), 1e21).rows()[0]  # no runs behind it


def test_inference_aware_frontier_intervals_from_a_fit_are_the_plans():
    """The frontier calibrated the compute-optimal and data-constrained loss intervals but not the
    inference-aware ones: 3.5 % wide where `plan --match-flops … --inference-tokens …` gives 13.5 %."""
    import isoflop
    from isoflop.runs import RunTable

    examples = Path(__file__).resolve().parents[1] / "examples" / "runs.csv"
    analysis = isoflop.analyse(RunTable.load(examples), isoflop.FitOptions(n_bootstrap=50))
    row = isoflop.frontier(analysis, [1e21, 1e23], inference_tokens=2e12).rows()[1]
    alone = isoflop.plan(analysis, match_flops=1e23, inference_tokens=2e12)
    assert (row["inference_loss_low"], row["inference_loss_high"]) == pytest.approx(alone.intervals["loss"], rel=1e-9)
