"""`isoflop fit`: JSON keys, bootstrap intervals, plan, backtest, save/load and one-line errors."""

import json

import pytest
from typer.testing import CliRunner

from isoflop.cli import app
from tests.conftest import shared_file

runner = CliRunner()
EPOCH = ["--columns", 'n_params="Model Size",flops="Training FLOP"', "--drop-highest", "5"]


def invoke_json(*args):
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_fit_json_epoch():
    out = invoke_json("fit", str(shared_file("chinchilla_epoch.csv")), *EPOCH)
    assert out["law"] == "chinchilla" and out["n_points"] == 240 and out["status"] == "converged"
    assert set(out["params"]) == {"E", "A", "B", "alpha", "beta"}
    assert out["objective"] <= 0.0010182741


def test_fit_with_bootstrap_plan_backtest(tmp_path):
    saved = tmp_path / "fit.json"
    out = invoke_json("fit", str(shared_file("chinchilla_epoch.csv")), *EPOCH, "--bootstrap", "200", "--seed", "1",
                      "--plan", "5.76e23", "--backtest-above", "1e21", "--isoflop", "--save", str(saved))
    assert set(out["intervals"]) >= {"E", "A", "B", "alpha", "beta", "a"}
    lo, hi = out["intervals"]["alpha"]
    assert lo < out["params"]["alpha"] < hi
    # The point plan equals the closed form under the fitted constants (ORACLES: Epoch's grid optimum → ~7e10).
    assert out["plan"]["n_params"] == pytest.approx(6.9e10, rel=0.1)
    assert out["backtest"][0]["n_test"] > 0 and out["backtest"][0]["mean_abs_rel_error"] < 0.03
    assert 0.4 < out["isoflop"]["a"]["exponent"] < 0.7
    stored = json.loads(saved.read_text())
    assert len(stored["ensemble"]["alpha"]) == 200


def test_fit_table_output():
    result = runner.invoke(app, ["fit", str(shared_file("chinchilla_epoch.csv")), *EPOCH])
    assert result.exit_code == 0 and "alpha" in result.stdout and "objective" in result.stdout


@pytest.mark.parametrize("args,message", [
    (["fit", "missing.csv"], "no such file"),
    (["fit", "{epoch}", "--form", "bogus", *EPOCH], "unknown law form"),
    (["fit", "{epoch}"], "missing column"),
    (["fit", "{epoch}", *EPOCH, "--fix", "gamma=1"], "unknown parameter"),
])
def test_fit_errors(args, message):
    args = [a.replace("{epoch}", str(shared_file("chinchilla_epoch.csv"))) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_plan_with_saved_fit_has_intervals(tmp_path):
    saved = tmp_path / "fit.json"
    invoke_json("fit", str(shared_file("chinchilla_epoch.csv")), *EPOCH, "--bootstrap", "100", "--save", str(saved))
    out = invoke_json("plan", "--fit", str(saved), "--flops", "5.76e23")
    fitted = json.loads(saved.read_text())["params"]
    a = fitted["beta"] / (fitted["alpha"] + fitted["beta"])
    G = (fitted["alpha"] * fitted["A"] / (fitted["beta"] * fitted["B"])) ** (1 / (fitted["alpha"] + fitted["beta"]))
    assert out["n_params"] == pytest.approx(G * (5.76e23 / 6) ** a, rel=1e-9)  # Hoffmann eq. 4
    lo, hi = out["intervals"]["n_params"]
    assert lo < out["n_params"] < hi
    bad = runner.invoke(app, ["plan", "--fit", str(tmp_path / "nope.json"), "--flops", "1e22"])
    assert bad.exit_code == 2 and "no such fit file" in bad.stderr


def test_a_warning_of_the_fit_is_not_repeated_under_its_plan():
    """`fit --bootstrap 20 --plan 1e22` printed the too-few-resamples warning under the fit and again under the
    plan (the plan's loss interval rests on the same resamples)."""
    result = runner.invoke(app, ["fit", str(shared_file("chinchilla_epoch.csv")), "--columns",
                                 'n_params="Model Size",flops="Training FLOP"', "--drop-highest", "5",
                                 "--bootstrap", "20", "--plan", "1e22"])
    assert result.exit_code == 0, result.output
    assert result.output.count("too few for 95% percentile ends") == 1


def test_fit_table_shows_the_allocation_exponent_a():
    """The table printed a's interval beside an empty value. a = β/(α + β) (Hoffmann et al. 2022, eq. 4); on
    Epoch's points Besiroglu et al. 2024 give N* ∝ C^0.513 (ORACLES.md)."""
    import re

    args = ["fit", str(shared_file("chinchilla_epoch.csv")), *EPOCH, "--bootstrap", "100"]
    out = invoke_json(*args)
    alpha, beta = out["params"]["alpha"], out["params"]["beta"]
    table = runner.invoke(app, args)
    assert table.exit_code == 0
    row = re.search(r"│\s+a\s+│\s+([0-9.]+)\s+│\s+\[([0-9.]+), ([0-9.]+)\]", table.stdout)
    assert row is not None, table.stdout
    a, lo, hi = map(float, row.groups())
    assert a == pytest.approx(beta / (alpha + beta), abs=5e-5) and a == pytest.approx(0.513, abs=0.002)
    assert lo < a < hi
