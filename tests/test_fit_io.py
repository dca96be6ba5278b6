"""Saved fits: a versioned round trip that predict_loss and the planners read back, and clear errors on bad files."""

import json

import numpy as np
import pytest

from isoflop.errors import InputError
from isoflop.fitting import fit_arrays
from isoflop.fitting.calibrate import calibrate
from isoflop.fitting.io import load_fit, load_saved_fit, save_fit_result
from isoflop.fitting.predict import predict_loss
from isoflop.fitting.select import BASELINE
from isoflop.laws import ChinchillaLaw, LawEnsemble
from isoflop.planning import compute_optimal
from isoflop.runs import RunTable

TRUTH = ChinchillaLaw(E=1.82, A=482.0, B=2085.0, alpha=0.348, beta=0.366)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    import pandas as pd

    rng = np.random.default_rng(0)
    c = np.repeat(np.geomspace(1e17, 1e21, 9), 6)
    n = np.sqrt(c / 120) * np.tile(np.geomspace(1 / 6, 6, 6), 9)
    d = c / (6 * n)
    table = RunTable.from_frame(pd.DataFrame({"n_params": n, "n_tokens": d,
                                              "loss": TRUTH.loss(n, d) * np.exp(rng.normal(0, 0.005, n.size))}))
    result = BASELINE.fit(table)
    boot = result.bootstrap(50, seed=0)
    cal = calibrate(table, BASELINE.fit, result)
    path = save_fit_result(tmp_path_factory.mktemp("fit") / "fit.json", result, boot, cal)
    return path, result, boot, cal


def test_round_trip(saved):
    path, result, boot, cal = saved
    data = json.loads(path.read_text())
    assert data["format"] == "isoflop-fit" and data["version"] == 2
    assert data["identifiability"]["level"] == "identified"
    loaded = load_saved_fit(path)
    assert loaded.law.to_dict()["alpha"] == result.law.alpha
    assert np.allclose(np.ravel(loaded.members.alpha), np.ravel(boot.ensemble.members.alpha))
    assert loaded.identifiability.level == "identified" and loaded.calibration.scores == cal.scores
    # Same prediction from the file as from the objects.
    direct = predict_loss(result, 1e11, 2e12, bootstrap=boot, calibration=cal)
    from_file = predict_loss(loaded, 1e11, 2e12)
    assert from_file.interval == pytest.approx(direct.interval, rel=1e-12) and from_file.calibrated
    # The fitted runs' tokens per parameter travel with the file, so the file warns where the fit warns.
    dn = result.data.n_tokens / result.data.n_params
    assert loaded.tokens_per_param_range == pytest.approx((dn.min(), dn.max()), rel=1e-12)
    far = (predict_loss(result, 1e9, 1e9 * dn.max() * 3, bootstrap=boot, calibration=cal),
           predict_loss(loaded, 1e9, 1e9 * dn.max() * 3))
    assert far[0].warning == far[1].warning and "tokens per parameter" in far[1].warning
    # The planners take what load_fit returns (an ensemble: intervals).
    law = load_fit(path)
    assert isinstance(law, LawEnsemble) and compute_optimal(law, 1e23).intervals


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["params"].pop("alpha"), "params.alpha is missing"),
    (lambda d: d["params"].update(alpha=0.0, beta=0.0), "params.alpha = 0.0 is impossible"),
    (lambda d: d["params"].update(E="1.8"), "params.E must be a finite number"),
    (lambda d: d["params"].update(A=True), "params.A must be a finite number"),
    (lambda d: d.update(law="chinchila"), "law 'chinchila' is not a known form"),
    (lambda d: d.update(version=7), "version 7"),
    (lambda d: d.update(params=[1, 2]), "params must be an object"),
    (lambda d: d["ensemble"].update(beta=[0.3, "x"]), r"ensemble.beta\[1\] must be a finite number"),
    (lambda d: d["calibration"].update(scores="0.1"), "calibration.scores must be a list"),
    (lambda d: d.update(tokens_per_param_range=[5.0]), r"tokens_per_param_range must be \[lowest, highest\]"),
    (lambda d: d.update(tokens_per_param_range=[50.0, 5.0]), "tokens_per_param_range must be positive and ordered"),
    (lambda d: d.update(tokens_per_param_range=[1.0, "x"]), "tokens_per_param_range must be a finite number"),
    # These loaded before: a bootstrap list crashed (AttributeError), a count 'abc' gave "invalid literal for
    # int()" without the file, FLOPs of 0 gave `isoflop loss --fit` the interval [0.000 nats, n/a] and
    # "extrapolates inf decades", an unknown convention named no file.
    (lambda d: d.update(bootstrap=[1, 2]), "bootstrap must be an object"),
    (lambda d: d["bootstrap"].update(n_resamples="abc"), "bootstrap.n_resamples must be a whole number"),
    (lambda d: d["calibration"].update(max_flops=0), "calibration.max_flops = 0 is impossible"),
    (lambda d: d.update(max_flops=0.0), "max_flops = 0.0 is impossible"),
    (lambda d: d.update(min_flops=0.0), "min_flops = 0.0 is impossible"),
    (lambda d: d.update(min_flops=1e30), "min_flops 1e\\+30 exceeds max_flops"),
    (lambda d: d.update(param_convention="weird"), "param_convention must be one of"),
])
def test_malformed_files_name_file_and_key(saved, tmp_path, edit, message):
    data = json.loads(saved[0].read_text())
    edit(data)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(InputError, match=message) as info:
        load_saved_fit(bad)
    assert str(bad) in str(info.value)


def test_not_json_and_missing(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(InputError, match="not JSON"):
        load_fit(tmp_path / "x.json")
    with pytest.raises(InputError, match="no such fit file"):
        load_fit(tmp_path / "missing.json")


def test_version_1_files_still_load(tmp_path):
    path = tmp_path / "v1.json"
    path.write_text(json.dumps({"law": "chinchilla", "params": TRUTH.to_dict() | {"kind": None}, "objective": 0.1}))
    assert load_fit(path).alpha == TRUTH.alpha
    assert load_saved_fit(path).tokens_per_param_range is None  # nothing said: nothing to check against


def test_saved_verdict_enforced(tmp_path):
    """A saved unidentified fit refuses to plan when read back, with the runs to add."""
    from isoflop.fitting.identify import require_identified

    n, d = np.full(8, 1e8), np.geomspace(1e9, 1e11, 8)
    result = fit_arrays(TRUTH.loss(n, d) * np.exp(np.random.default_rng(0).normal(0, 0.01, 8)), n, d)
    loaded = load_saved_fit(save_fit_result(tmp_path / "one-size.json", result))
    assert loaded.identifiability.level == "unidentified"
    with pytest.raises(InputError, match="one model size.*train several model sizes"):
        require_identified(loaded)
    assert require_identified(loaded, allow_unidentified=True).level == "unidentified"


def test_a_fit_is_saved_only_under_a_json_name(saved, tmp_path):
    """`isoflop fit --save fit.txt` wrote the fit, and `isoflop report fit.txt` then read it as a table of runs
    (a saved fit is told from a table by its .json name). Now the name is refused before the fit, by the CLI
    and by the library, and names the file to give instead."""
    from typer.testing import CliRunner

    from isoflop.cli import app

    _, result, boot, cal = saved
    with pytest.raises(InputError, match=r"fit\.txt: a fit is saved as JSON.*e\.g\. fit\.json"):
        save_fit_result(tmp_path / "fit.txt", result, boot, cal)
    runs = tmp_path / "runs.csv"
    runs.write_text("n_params,n_tokens,loss\n" + "".join(
        f"{n:.17g},{d:.17g},{loss:.17g}\n" for n, d, loss in zip(result.data.n_params, result.data.n_tokens, result.data.loss)))
    out = CliRunner().invoke(app, ["fit", str(runs), "--save", str(tmp_path / "fit.txt")])
    assert out.exit_code == 2 and "--save" in out.output and "ending in .json" in out.output
    assert not (tmp_path / "fit.txt").exists() and list(tmp_path.iterdir()) == [runs]
    out = CliRunner().invoke(app, ["fit", str(runs), "--save", str(tmp_path / "FIT.JSON")])
    assert out.exit_code == 0, out.output
