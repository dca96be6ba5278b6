"""Every answer from a fit gives the loss a run would measure the same way: plan, diagnose and frontier, in
Python and on the command line, take the calibrated prediction interval at their own (N, D[, U]) and carry its
warnings (they used to keep the ensemble's parameter-only interval and drop the extrapolation warning)."""

import json
from statistics import NormalDist

import numpy as np
import pytest
from typer.testing import CliRunner

import isoflop
from isoflop.cli import app
from isoflop.laws import ChinchillaLaw
from tests.test_forms_select import iso_design

runner = CliRunner()
TRUTH = ChinchillaLaw(E=1.82, A=482.0, B=2085.0, alpha=0.348, beta=0.366)


@pytest.fixture(scope="module")
def analysis():
    return isoflop.analyse(iso_design(TRUTH, 0.01, 3), isoflop.FitOptions(n_bootstrap=100))


@pytest.fixture(scope="module")
def saved(analysis, tmp_path_factory):
    return isoflop.save_fit(analysis, tmp_path_factory.mktemp("answers") / "fit.json")


def closed_form_interval(analysis, n_params, n_tokens):
    """The calibrated interval by hand (`calibrate.py`'s module docstring): half-width in log loss
    √((z·σ_noise)² + (z·σ_params)² + (q·Δ)²), σ_params from the members' 2.5–97.5 percentile spread / 2z."""
    cal, z = analysis.calibration, NormalDist().inv_cdf(0.975)
    point = analysis.fit.law.loss(n_params, n_tokens)
    lo, hi = np.percentile(np.log(analysis.bootstrap.ensemble.members.loss(n_params, n_tokens)), [2.5, 97.5], axis=0)
    distance = max(np.log10(6 * n_params * n_tokens / cal.max_flops), 0.0)
    half = np.sqrt((z * cal.noise_sigma) ** 2 + ((hi - lo) / 2) ** 2 + (cal.error_per_decade() * distance) ** 2)
    # floats: the members' losses come shaped (1,), and pytest 9's approx does not compare a tuple of arrays
    return float(np.squeeze(point * np.exp(-half))), float(np.squeeze(point * np.exp(half)))


def test_plan_diagnose_frontier_give_the_calibrated_interval(analysis, saved):
    assert analysis.calibration.calibrated
    for source in (analysis, isoflop.load_fit(saved), saved):  # an analysis, a saved fit, a path to one
        plan = isoflop.plan(source, flops=1e23)
        expected = closed_form_interval(analysis, plan.n_params, plan.n_tokens)
        assert plan.intervals["loss"] == pytest.approx(expected, rel=1e-6)
        assert plan.loss_interval_calibrated and plan.extrapolation_decades == pytest.approx(
            np.log10(1e23 / analysis.calibration.max_flops), rel=1e-9)
        assert any("extrapolates" in w for w in plan.warnings)  # 2 decades beyond the largest run
        d = isoflop.diagnose(source, 2e10, 4e11)
        assert d.intervals["loss"] == pytest.approx(closed_form_interval(analysis, 2e10, 4e11), rel=1e-6)
        assert any("extrapolates" in w for w in d.warnings) and d.to_dict()["warnings"] == list(d.warnings)
        f = isoflop.frontier(source, np.array([1e20, 1e23]))
        for row in f.rows():
            lo, hi = closed_form_interval(analysis, row["optimal_n_params"], row["optimal_n_tokens"])
            assert (row["optimal_loss_low"], row["optimal_loss_high"]) == pytest.approx((lo, hi), rel=1e-6)
        assert any("extrapolates" in w for w in f.to_dict()["warnings"])


def test_the_command_line_gives_what_python_gives(analysis, saved):
    def cli(*args):
        result = runner.invoke(app, [*args, "--fit", str(saved), "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    plan = isoflop.plan(saved, flops=1e23)
    assert cli("plan", "--flops", "1e23")["intervals"]["loss"] == pytest.approx(plan.intervals["loss"], rel=1e-12)
    d = cli("diagnose", "--params", "2e10", "--tokens", "4e11")
    assert d["intervals"]["loss"] == pytest.approx(isoflop.diagnose(saved, 2e10, 4e11).intervals["loss"], rel=1e-12)
    assert any("extrapolates" in w for w in d["warnings"])
    f = cli("frontier", "--from", "1e21", "--to", "1e23", "--per-decade", "1")
    expected = isoflop.frontier(saved, np.array([1e21, 1e22, 1e23])).rows()
    assert [r["optimal_loss_high"] for r in f["rows"]] == pytest.approx([r["optimal_loss_high"] for r in expected])
    assert any("extrapolates" in w for w in f["warnings"])


def test_repeated_data_and_inference_plans_keep_the_calibration(analysis, saved):
    """Repeating data (1.4 epochs) or planning for inference used to drop the calibration: an interval 8×
    narrower at the same point loss, and no distance or warning."""
    loss = runner.invoke(app, ["loss", "--fit", str(saved), "--params", "7e9", "--tokens", "1.4e11",
                               "--unique-tokens", "1e11", "--json"])
    out = json.loads(loss.stdout)
    direct = isoflop.predict_loss(saved, 7e9, 1.4e11, 1e11)
    assert out["calibrated"] and out["extrapolation_decades"] == pytest.approx(direct.extrapolation_decades)
    assert out["intervals"]["loss"] == pytest.approx(direct.interval, rel=1e-12)
    # 1.4 epochs barely differ from fresh data: the interval is as wide as without repetition
    plain = isoflop.predict_loss(saved, 7e9, 1.4e11)
    assert np.log(direct.interval[1] / direct.interval[0]) == pytest.approx(
        np.log(plain.interval[1] / plain.interval[0]), rel=0.05)
    served = isoflop.plan(saved, match_flops=1e23, inference_tokens=1e13)
    assert served.loss_interval_calibrated and served.intervals["loss"] == pytest.approx(
        closed_form_interval(analysis, served.n_params, served.n_tokens), rel=1e-6)


def test_below_the_runs_is_flagged(analysis, saved):
    smallest = float(np.min(analysis.fit.data.compute))
    n = np.sqrt(smallest / 6 / 20)  # 20 tokens per parameter, like the runs
    for source in (analysis, saved):
        inside = isoflop.predict_loss(source, n, 20 * n)
        assert inside.warning is None or "below" not in inside.warning
        far = isoflop.predict_loss(source, n / 100, 20 * n / 100)  # 4 decades below the smallest run
        assert "4 decades of compute below the smallest fitted run" in far.warning


def test_a_configuration_no_run_could_have_is_refused_in_one_line(saved):
    """A 1-parameter model on 1 token: one line (it used to print all 100 members' values and speak of a target
    loss nobody gave). Its 6 FLOPs are below one optimiser step of the smallest sensible model, which is now
    said first."""
    with pytest.raises(isoflop.InputError) as err:
        isoflop.diagnose(saved, 1, 1)
    message = str(err.value)
    assert "n_params 1 on n_tokens 1" in message and "below 6.14e+06 FLOPs" in message and len(message) < 300


def test_a_warning_the_plan_and_its_prediction_both_give_is_said_once(saved):
    """plan --fit with 100+ epochs printed the repetition warning twice: the plan's own line, and again inside
    its prediction's warnings, which were one joined string."""
    for answer in (isoflop.plan(saved, flops=1e21, unique_tokens=1e9),
                   isoflop.frontier(saved, [1e21, 1e22], unique_tokens=1e9)):
        epochs_lines = [w for w in answer.warnings if "epochs over the unique data" in w]
        assert len(epochs_lines) == 1 and len(set(answer.warnings)) == len(answer.warnings), answer.warnings
    prediction = isoflop.predict_loss(saved, 1e9, 1e11, 1e9)
    assert prediction.warnings and prediction.warning == "; ".join(prediction.warnings)
    assert prediction.to_dict()["warnings"] == list(prediction.warnings)
