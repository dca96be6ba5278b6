"""The public Python API: everything from `import isoflop`, laws as one protocol, one Plan shape."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import isoflop
from isoflop.fitting.bootstrap import bootstrap
from isoflop.laws import ChinchillaLaw, KaplanLaw, LawEnsemble, LossVsComputeLaw, NDLaw
from isoflop.runs import RunTable

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
from tests.conftest import shared_file


def test_one_import_gives_the_api():
    for name in ("read_runs", "fit", "law", "plan", "diagnose", "frontier", "analyse", "report", "design_sweep",
                 "run_sweep", "RunTable", "Plan", "Allocation", "NDLaw", "LawEnsemble", "Architecture", "Cluster",
                 "InputError", "predict_loss", "Prediction", "save_fit", "load_fit", "UnidentifiedWarning"):
        assert hasattr(isoflop, name), name
    assert isoflop.__version__.count(".") == 2
    assert set(isoflop.__all__) <= set(dir(isoflop))
    # every warning the API issues can be filtered by its category from the one import (read_logs' damaged logs:
    # isoflop.CorruptLogWarning, a subclass of the sweep's unreadable-file isoflop.CorruptFileWarning)
    for name in ("ConvergenceWarning", "UnidentifiedWarning", "CorruptLogWarning", "CorruptFileWarning"):
        assert name in isoflop.__all__ and issubclass(getattr(isoflop, name), UserWarning), name
    assert issubclass(isoflop.CorruptLogWarning, isoflop.CorruptFileWarning)


def test_facade_functions_and_their_modules_never_collide():
    # The functions `fit`, `plan`, `report` live beside the modules `fitting`, `planning`, `reporting`: any import
    # form of a module (`import a.b.c as x` included) works, and no import rebinds a function.
    code = ("import isoflop, isoflop.fitting.select, isoflop.reporting.html, isoflop.sweep.store; "
            "import isoflop.fitting.parametric as parametric, isoflop.planning as planning; "
            "assert parametric.fit_arrays and planning.compute_optimal; "
            "assert all(type(f).__name__ == 'function' for f in (isoflop.fit, isoflop.plan, isoflop.report)); "
            "assert 'torch' not in __import__('sys').modules; "
            # scipy.stats alone cost 0.5 s of every command's start-up (the default fit ran 1.8 s, then 1.0 s)
            "import isoflop.cli; assert 'scipy.stats' not in __import__('sys').modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plan_takes_a_preset_name_a_law_or_a_fit():
    by_name = isoflop.plan("besiroglu2024", flops=5.76e23)
    by_law = isoflop.plan(isoflop.law("besiroglu2024"), flops=5.76e23)
    # Besiroglu et al. 2024 (ORACLES): C = 5.76e23 → N* = 7.225e10, D* = 1.329e12, L* = 1.9744
    assert by_name.n_params == by_law.n_params == pytest.approx(7.225e10, rel=5e-3)
    assert by_name.n_tokens == pytest.approx(1.329e12, rel=5e-3) and by_name.loss == pytest.approx(1.9744, abs=1e-3)
    assert by_name.kind == "compute-optimal" and by_name.flops == 5.76e23  # the budget as given, no float noise


def test_every_law_class_implements_the_protocol():
    for name in isoflop.PRESETS:
        assert isinstance(isoflop.law(name), NDLaw), name
    point = isoflop.law("besiroglu2024")
    members = ChinchillaLaw(E=np.full((3, 1), 1.8), A=np.full((3, 1), 482.0), B=np.full((3, 1), 2085.0),
                            alpha=np.array([[0.34], [0.35], [0.36]]), beta=np.full((3, 1), 0.3658))
    ensemble = LawEnsemble(point, members)
    assert isinstance(ensemble, NDLaw) and ensemble.n_members == 3
    assert ensemble.compute_optimal(1e22) == point.compute_optimal(1e22)
    with pytest.raises(isoflop.InputError, match="point law's class"):
        LawEnsemble(point, KaplanLaw(n_c=np.ones((2, 1)), alpha_n=0.07, d_c=1e13, alpha_d=0.1))


def test_a_law_that_cannot_plan_says_so():
    lvc = LossVsComputeLaw(E=1.7, C0=1e10, gamma=0.05, name="lvc")
    assert not isinstance(lvc, NDLaw)
    for call in (lambda: isoflop.plan(lvc, flops=1e22), lambda: isoflop.diagnose(lvc, 1e9, 2e10),
                 lambda: isoflop.frontier(lvc, [1e20, 1e21])):
        with pytest.raises(isoflop.InputError, match="loss against compute only"):
            call()



def test_predict_loss_refuses_a_law_of_compute_alone_as_isoflop_loss_does(tmp_path):
    # A loss-vs-compute fit gave one loss for every split of a budget and ignored unique_tokens while naming
    # "+muennighoff2023-repetition": (1e9, 2e11) and (1e3, 2e17), with 1e6 unique tokens (2e5 epochs) or none,
    # all predicted 2.603 nats. `isoflop loss --fit` refuses such a law; so does predict_loss now.
    n = np.repeat(np.geomspace(1e7, 1e9, 5), 5)
    d = np.tile(np.geomspace(1e9, 1e11, 5), 5)
    law = isoflop.law("besiroglu2024")
    runs = RunTable.from_frame(__import__("pandas").DataFrame({"n_params": n, "n_tokens": d,
                                                               "loss": law.loss(n, d)}))
    analysis = isoflop.analyse(runs, isoflop.FitOptions(form="loss-vs-compute"))
    point = analysis.fit.law
    assert point.kind == "loss-vs-compute"
    isoflop.save_fit(analysis, tmp_path / "lvc.json")
    for source in (analysis, analysis.fit, point, tmp_path / "lvc.json", str(tmp_path / "lvc.json")):
        for unique in (None, 1e6):
            with pytest.raises(isoflop.InputError, match="loss against compute only"):
                isoflop.predict_loss(source, 1e9, 2e11, unique)

def _kaplan_runs(seed=0):
    law = KaplanLaw(n_c=6.4e13, alpha_n=0.076, d_c=1.8e13, alpha_d=0.103)
    rng = np.random.default_rng(seed)
    n = np.repeat(np.geomspace(1e7, 1e9, 6), 4)
    d = np.tile(np.geomspace(2e8, 2e10, 4), 6)
    loss = law.loss(n, d) * np.exp(rng.normal(0, 0.003, n.size))
    return RunTable.from_frame(__import__("pandas").DataFrame({"n_params": n, "n_tokens": d, "loss": loss}),
                               param_convention="non_embedding")


def test_sweep_from_a_bootstrapped_kaplan_fit_equals_the_point_law_sweep():
    runs = _kaplan_runs()
    result = isoflop.fit(runs, "kaplan")
    boot = bootstrap(result, runs.loss, runs.run_ids, n_resamples=20)
    assert boot.ensemble.param_convention == "non_embedding"
    config = isoflop.SweepConfig(budgets=(1e11, 3e11), head_dim=8)
    from_point = isoflop.design_sweep(config, law=result.law)
    from_ensemble = isoflop.design_sweep(config, law=boot.ensemble)
    assert from_point.to_dict()["runs"] == from_ensemble.to_dict()["runs"]


def test_plan_json_is_strict_and_intervals_have_one_shape():
    law = isoflop.law("besiroglu2024")
    members = ChinchillaLaw(E=np.full((5, 1), 1.8172), A=np.full((5, 1), 482.01), B=np.full((5, 1), 2085.43),
                            alpha=np.linspace(0.34, 0.355, 5)[:, None], beta=np.full((5, 1), 0.3658))
    ensemble = LawEnsemble(law, members)
    for question in (dict(flops=1e22), dict(n_params=7e9), dict(target_loss=2.1), dict(flops=1e22, unique_tokens=1e10),
                     dict(unique_tokens=1e10), dict(match_flops=1e22, inference_tokens=1e12),
                     dict(n_params=7e9, inference_tokens=1e12)):
        d = isoflop.plan(ensemble, **question).to_dict()
        text = json.dumps(d, allow_nan=False)  # raises on NaN / Infinity
        assert json.loads(text)["kind"]
        for key, pair in d["intervals"].items():
            assert len(pair) == 2 and pair[0] <= pair[1], (question, key)
            assert key in d, (question, key)  # an interval bounds a field of the same name


def test_unconverged_values_become_null_in_json():
    from isoflop.planning import _plain

    assert _plain(np.array([1.0, np.nan, np.inf])) == [1.0, None, None] and _plain(np.float64("nan")) is None


def test_epoch_notebook_in_six_lines():
    """The README's notebook example: fit Epoch's points, bootstrap 1,000 resamples, plan 1e24 FLOPs."""
    path = shared_file("chinchilla_epoch.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing leaks a NumPy warning
        runs = isoflop.read_runs(path, columns={"n_params": "Model Size", "flops": "Training FLOP"})
        result = isoflop.fit(runs, drop_highest=5)
        boot = result.bootstrap(1000)
        plan = isoflop.plan(boot, flops=1e24)
    # Besiroglu et al. 2024's grid optimum (ORACLES): objective 0.0010182740 on these 240 points
    assert result.n_points == 240 and result.objective <= 0.0010182741
    lo, hi = plan.intervals["n_params"]
    assert lo < plan.n_params < hi and plan.n_params == pytest.approx(isoflop.plan(result, flops=1e24).n_params)


def one_size_runs():
    """8 runs of one model size: α and A cannot be estimated (identify's first "unidentified" reason)."""
    truth = ChinchillaLaw(E=1.8, A=482.0, B=2085.0, alpha=0.35, beta=0.37)
    n, d = np.full(8, 1e8), np.geomspace(1e9, 1e11, 8)
    loss = truth.loss(n, d) * np.exp(np.random.default_rng(0).normal(0, 0.003, 8))
    import pandas as pd

    return RunTable.from_frame(pd.DataFrame({"n_params": n, "n_tokens": d, "loss": loss}))


def test_python_planners_refuse_an_unidentified_fit_as_the_cli_does():
    """`isoflop.plan(fit)` used to plan N* from a fit of one model size without a word. Every planner of the
    façade now refuses a fit, bootstrap, analysis or saved fit whose verdict is "unidentified", says how to
    override, and with the override marks the answer (UnidentifiedWarning, and the plan's warnings)."""
    result = isoflop.fit(one_size_runs())
    assert result.identifiability.level == "unidentified"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the thin resample's own convergence warnings are not what is tested
        boot = result.bootstrap(20)
    for source in (result, boot):
        with pytest.raises(isoflop.InputError, match="one model size.*allow_unidentified=True"):
            isoflop.plan(source, flops=1e21)
        with pytest.raises(isoflop.InputError, match="unidentified"):
            isoflop.diagnose(source, 1e8, 2e9)
        with pytest.raises(isoflop.InputError, match="unidentified"):
            isoflop.frontier(source, [1e20, 1e21])
    # (this fit's optimum at 1e21 FLOPs has 0.002 parameters: refused as below the model floor even so; its
    # optimum reaches 1,000 parameters near 2.5e49 FLOPs)
    with pytest.warns(isoflop.UnidentifiedWarning), pytest.raises(isoflop.InputError, match="below 1,000"):
        isoflop.plan(result, flops=1e21, allow_unidentified=True)
    with pytest.warns(isoflop.UnidentifiedWarning, match="one model size") as record:
        plan = isoflop.plan(result, flops=1e50, allow_unidentified=True)
    assert record[0].filename == __file__  # the warning points at the caller's line, not inside isoflop
    assert "allow_unidentified=True" in plan.warnings[0] and plan.to_dict()["warnings"][0] == plan.warnings[0]
    assert plan.n_params == pytest.approx(isoflop.plan(result.law, flops=1e50).n_params)  # the same numbers, marked
    # Diagnosed near this degenerate law's own frontier: its optimum lies in a flat valley, so where the solver
    # stops depends on rounding, and with A on its bound (1e-10) 1e8 params on 2e9 tokens has a loss above the
    # frontier's at 1 FLOP, which diagnose rightly refuses (seen on a fresh install: NumPy 2.4.6, SciPy 1.17.1).
    with pytest.warns(isoflop.UnidentifiedWarning) as record:
        isoflop.diagnose(result, plan.n_params, 2 * plan.n_tokens, allow_unidentified=True)
    assert record[0].filename == __file__
    # A predicted loss from it is refused too, as `isoflop loss --fit` refuses it.
    with pytest.raises(isoflop.InputError, match="allow_unidentified=True"):
        isoflop.predict_loss(result, 1e8, 2e9)
    with pytest.warns(isoflop.UnidentifiedWarning):
        p = isoflop.predict_loss(result, 1e8, 2e9, allow_unidentified=True)
    assert p.loss == pytest.approx(result.law.loss(1e8, 2e9)) and "allow_unidentified=True" in p.warning


def test_predict_save_and_load_from_the_top_level(tmp_path):
    """A notebook gets the CLI's `loss --fit` and `fit --save` from `import isoflop`: predict_loss from an
    Analysis uses its fit, bootstrap and calibration (the lower-level call with them is the oracle), and a
    fit saved and loaded back predicts and plans the same."""
    from isoflop.fitting.predict import predict_loss as lower_level

    runs = isoflop.read_runs(shared_file("chinchilla_epoch.csv"),
                             columns={"n_params": "Model Size", "flops": "Training FLOP"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        analysis = isoflop.analyse(runs, isoflop.FitOptions(drop_highest=5, n_bootstrap=100))
        p = isoflop.predict_loss(analysis, 7e10, 1.4e12)
    q = lower_level(analysis.fit, 7e10, 1.4e12, bootstrap=analysis.bootstrap, calibration=analysis.calibration)
    assert p.calibrated and p.interval[0] == q.interval[0] and p.interval[1] == q.interval[1]
    assert p.extrapolation_decades == pytest.approx(np.log10(6 * 7e10 * 1.4e12 / runs.flops.max()), rel=1e-9)
    path = isoflop.save_fit(analysis, tmp_path / "fit.json")
    saved = isoflop.load_fit(path)
    for source in (saved, str(path), path):
        r = isoflop.predict_loss(source, 7e10, 1.4e12)
        assert r.interval[0] == pytest.approx(p.interval[0], rel=1e-12) and r.calibrated
    assert isoflop.plan(saved, flops=1e24).n_params == pytest.approx(isoflop.plan(analysis, flops=1e24).n_params,
                                                                       rel=1e-12)
    assert isoflop.predict_loss("besiroglu2024", 7e10, 1.4e12).interval is None  # a preset: the point alone
    with pytest.raises(isoflop.InputError, match="takes an Analysis"):
        isoflop.save_fit(analysis.fit, tmp_path / "x.json")
    with pytest.raises(isoflop.InputError, match="no-such-fit.json: no such fit file"):  # a path, not a preset name
        isoflop.predict_loss(str(tmp_path / "no-such-fit.json"), 7e10, 1.4e12)


def test_as_law_takes_every_law_class():
    kaplan_e = isoflop.KaplanIrreducibleLaw(E=1.8, n_c=3e8, alpha_n=0.3, d_c=6e9, alpha_d=0.35)
    assert isoflop.as_law(kaplan_e) is kaplan_e
    assert isoflop.plan(kaplan_e, flops=1e21).n_params > 0
    curve = isoflop.BrokenPowerLaw(E=1.7, b=2e3, c0=0.2, c1=0.15, d1=1e19, f1=0.5)
    assert isoflop.as_law(curve) is curve


def test_read_logs_is_isoflop_ingest(tmp_path):
    """Training logs from the top level: a curve table (run_id, step, loss) with the tokens per step stated gives
    n_tokens = step × tokens_per_step and flops = 6·N·D, as `isoflop ingest` does."""
    import pandas as pd

    log = tmp_path / "curves.csv"
    pd.DataFrame({"run_id": ["a"] * 3 + ["b"] * 3, "step": [100, 200, 300] * 2,
                  "loss": [3.0, 2.8, 2.7, 2.9, 2.6, 2.5]}).to_csv(log, index=False)
    table = isoflop.read_logs(log, n_params={"a": 1e7, "b": 2e7}, tokens_per_step=1024)
    b = table.frame[table.frame.run_id == "b"].sort_values("step")
    np.testing.assert_allclose(b.n_tokens, [102400, 204800, 307200])
    np.testing.assert_allclose(b.flops, 6 * 2e7 * b.n_tokens)
    assert len(table.finals()) == 2 and set(table.finals().loss) == {2.7, 2.5}
    with pytest.raises(isoflop.InputError):
        isoflop.read_logs(log, tokens_per_step=1024)  # no n_params: a log does not know its model size


def _hostile_calls(law, fit, runs, tmp):
    """Calls a notebook user makes with the wrong kind of value, each meant to give one InputError naming it."""
    import pandas as pd

    return {
        "cluster as a string": lambda: isoflop.plan(law, flops=1e22, cluster="h100"),
        "a budget that is no number": lambda: isoflop.plan(law, flops="abc"),
        "one bad budget of two": lambda: isoflop.plan(law, flops=[1e22, -1]),
        "a list mixing types": lambda: isoflop.plan(law, n_params=[1e9, "x"]),
        "diagnose of many configurations": lambda: isoflop.diagnose(law, np.array([7e9, 1e10]), np.array([1e11, 2e11])),
        "a level given as text": lambda: isoflop.predict_loss(law, 7e9, 1e11, level="0.9"),
        "a tolerance given as text": lambda: isoflop.diagnose(law, 7e9, 1e11, tolerance="2"),
        "no path": lambda: isoflop.load_fit(None),
        "fixing E to nan": lambda: isoflop.fit(runs, fixed={"E": float("nan")}),
        "fixing E to text": lambda: isoflop.fit(runs, fixed={"E": "x"}),
        "delta as text": lambda: isoflop.fit(runs, delta="abc"),
        "runs as a number": lambda: isoflop.fit(3),
        "a fractional bootstrap": lambda: fit.bootstrap(2.5),
        "a bootstrap count as text": lambda: fit.bootstrap("10"),
        "a fractional --bootstrap": lambda: isoflop.FitOptions(n_bootstrap=2.5),
        "report of a path": lambda: isoflop.report("runs.csv"),
        "a model of 1e-30 parameters": lambda: isoflop.diagnose(law, 1e-30, 3e11),
        "a misspelt read_logs option": lambda: isoflop.read_logs("logs", n_params=1e8, tokens_per_stp=1),
        # a second hostile pass (2026-11-26): each was a traceback from inside NumPy, pathlib or isoflop
        "configurations that do not broadcast": lambda: isoflop.predict_loss(law, [1e9, 1e10], [1e10, 1e11, 1e12]),
        "a bootstrap level in percent": lambda: fit.bootstrap(10, level=95),
        "a bootstrap seed as text": lambda: fit.bootstrap(10, seed="a"),
        "too many resamples": lambda: fit.bootstrap(10**7),
        "columns as text": lambda: isoflop.read_runs("runs.csv", columns="n_params=Model Size"),
        "no runs path": lambda: isoflop.read_runs(None),
        "plan from None": lambda: isoflop.plan(None, flops=1e22),
        "a number for a law": lambda: isoflop.as_law(5),
        "a budget beyond a float": lambda: isoflop.plan(law, flops=10**400),
        "percentiles as fractions": lambda: isoflop.plan(fit.bootstrap(100), flops=1e22, percentiles=(0.025, 0.975)),
        "percentiles as one number": lambda: isoflop.plan(fit.bootstrap(100), flops=1e22, percentiles=95),
        "every constant fixed": lambda: isoflop.fit(runs, fixed=dict(E=1.8, A=400, B=400, alpha=0.3, beta=0.3)),
        "a sweep config as a dict of nonsense": lambda: isoflop.design_sweep({"budgets": "many"}),
        "an accelerator as a number": lambda: isoflop.Cluster(8, n_gpus=8),
        # a third pass (2026-11-26, notebook audit): each was a raw NumPy/Python error or silently accepted
        "budgets and unique tokens that do not broadcast": lambda: isoflop.plan(
            "muennighoff2023", flops=[1e21, 1e22], unique_tokens=[1e9, 2e9, 3e9]),
        "sizes and target losses that do not broadcast": lambda: isoflop.plan(law, n_params=[7e9, 8e9],
                                                                              target_loss=[2.3, 2.4, 2.5]),
        "budgets and inference tokens that do not broadcast": lambda: isoflop.plan(
            law, match_flops=[1e22, 1e23], inference_tokens=[1e12, 1e13, 1e14]),
        "a frontier that does not broadcast": lambda: isoflop.frontier("muennighoff2023", [1e21, 1e22],
                                                                       unique_tokens=[1e9, 2e9, 3e9]),
        "no budgets": lambda: isoflop.plan(law, flops=np.array([])),
        "a table of budgets for a frontier": lambda: isoflop.frontier(law, np.array([[1e21], [1e22]])),
        "inference tokens as words": lambda: isoflop.plan(law, match_flops=1e23, inference_tokens="many"),
        "a target loss as words": lambda: isoflop.plan(law, target_loss="abc"),
        "rel_improvement as text": lambda: isoflop.plan("muennighoff2023", unique_tokens=25e9, rel_improvement="x"),
        "nan inference tokens": lambda: isoflop.plan(law, match_flops=1e23, inference_tokens=float("nan")),
        "a list of days": lambda: isoflop.plan(law, days=[3, 4], cluster=isoflop.Cluster("h100-sxm", n_gpus=8)),
        "days as a boolean": lambda: isoflop.plan(law, days=True, cluster=isoflop.Cluster("h100-sxm", n_gpus=8)),
        "inference tokens as a boolean": lambda: isoflop.plan(law, match_flops=1e23, inference_tokens=True),
        "gpus as a boolean": lambda: isoflop.Cluster("h100-sxm", n_gpus=True),
        "an mfu as a boolean": lambda: isoflop.Cluster("h100-sxm", mfu=True),
        "a nan depth": lambda: isoflop.Architecture(n_layer=float("nan"), d_model=768, n_head=12, vocab_size=50257,
                                                    seq_len=1024),
        "an infinite depth": lambda: isoflop.Architecture(n_layer=float("inf"), d_model=768, n_head=12,
                                                          vocab_size=50257, seq_len=1024),
        "a sweep folder of no design": lambda: isoflop.init_sweep(tmp / "no-design", None),
        "a base law by name": lambda: isoflop.DataConstrainedLaw(base="muennighoff2023"),
        "a runs table from a list": lambda: isoflop.RunTable.from_frame([1, 2]),
        "a runs table of text": lambda: isoflop.RunTable(frame="x"),
        "a diagnosis of three numbers": lambda: isoflop.analyse(runs, config=(7e9, 1e11, 3)),
        "a diagnosis as the command line writes it": lambda: isoflop.analyse(runs, config="7e9x140e9"),
        # a fourth pass (2026-11-26, ingest and notebook audit): a TypeError from pathlib, or a message over lines
        "a meta table as a list": lambda: isoflop.read_logs(tmp / "log.csv", meta=[("a", 1e8)], tokens_per_step=8),
        "a meta table as a number": lambda: isoflop.read_logs(tmp / "log.csv", meta=5, tokens_per_step=8),
        "parameters as a pandas Series": lambda: isoflop.read_logs(tmp / "log.csv", n_params=pd.Series({"log": 1e8}),
                                                                   tokens_per_step=8),
        "logs as a DataFrame": lambda: isoflop.read_logs(pd.DataFrame({"step": [1], "loss": [3.0]})),
        "a sweep folder as a number": lambda: isoflop.sweep_status(3),
        "a sweep to run as a number": lambda: isoflop.run_sweep(3),
        "a demo folder as a number": lambda: isoflop.run_demo(3),
    }


def test_wrong_kinds_of_values_give_one_input_error_each(tmp_path):
    runs = isoflop.read_runs(shared_file("chinchilla_epoch.csv"), columns={"n_params": "Model Size",
                                                                           "flops": "Training FLOP"})
    fit = isoflop.fit(runs, drop_highest=5)
    (tmp_path / "log.csv").write_text("step,loss\n1,3.0\n")
    for what, call in _hostile_calls(isoflop.law("besiroglu2024"), fit, runs, tmp_path).items():
        try:
            call()
        except isoflop.InputError as err:
            message = str(err)
        except Exception as err:
            raise AssertionError(f"{what}: {type(err).__name__}: {err}") from None
        else:
            raise AssertionError(f"{what}: no InputError")
        assert "\n" not in message and len(message) < 400 and "array(" not in message, (what, message)


def test_numbers_as_the_command_line_writes_them_and_pandas_frames_work_in_python():
    import pandas as pd

    law = isoflop.law("besiroglu2024")
    assert isoflop.plan(law, n_params="70B").n_params == 7e10
    assert isoflop.predict_loss(law, "70B", "1.4T").loss == pytest.approx(law.loss(7e10, 1.4e12), rel=1e-12)
    assert isoflop.diagnose(law, "280B", "300B").wasted_fraction == pytest.approx(
        isoflop.diagnose(law, 2.8e11, 3e11).wasted_fraction, rel=1e-12)
    frame = pd.read_csv(shared_file("chinchilla_epoch.csv")).rename(columns={"Model Size": "n_params",
                                                                            "Training FLOP": "flops"})
    from_frame = isoflop.fit(frame[["n_params", "flops", "loss"]], drop_highest=5)
    assert from_frame.objective == pytest.approx(0.0010182740, abs=1e-10)  # Epoch's published objective
    assert isoflop.analyse(RunTable.from_frame(frame[["n_params", "flops", "loss"]]), budgets="1e22").budgets == (1e22,)


def test_predictions_keep_the_shape_of_the_configurations_asked():
    runs = isoflop.read_runs(shared_file("chinchilla_epoch.csv"), columns={"n_params": "Model Size",
                                                                           "flops": "Training FLOP"})
    boot = isoflop.fit(runs, drop_highest=5).bootstrap(50)
    n, d = np.full((2, 3), 1e9) * [[1], [10]], np.full((2, 3), 2e10) * [[1], [10]]
    grid = isoflop.predict_loss(boot, n, d)
    assert np.shape(grid.loss) == np.shape(grid.interval[0]) == (2, 3)
    for i, j in ((0, 0), (1, 2)):  # each cell is the prediction for that configuration alone
        one = isoflop.predict_loss(boot, n[i, j], d[i, j])
        assert (grid.interval[0][i, j], grid.interval[1][i, j]) == pytest.approx(one.interval, rel=1e-12)


def test_laws_refuse_constants_that_make_no_law():
    """ChinchillaLaw(alpha=-0.3) divided by zero; KaplanLaw(n_c=-1) gave complex parameter counts
    that broke strict JSON; E=nan gave a loss of None. Each is now one InputError naming the constant."""
    good = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
    for name, bad in (("alpha", -0.1), ("beta", -0.3), ("A", -400), ("A", 0), ("E", float("nan")), ("E", -1),
                      ("B", float("inf"))):
        with pytest.raises(isoflop.InputError, match=f"ChinchillaLaw: {name} must be"):
            ChinchillaLaw(**{**good, name: bad})
    with pytest.raises(isoflop.InputError, match="param_convention"):
        ChinchillaLaw(**good, param_convention="foo")
    with pytest.raises(isoflop.InputError, match="KaplanLaw: n_c"):
        KaplanLaw(n_c=-1, alpha_n=0.076, d_c=5.4e13, alpha_d=0.095)
    assert ChinchillaLaw(**{**good, "E": 0}).loss(1e9, 1e10) > 0  # no irreducible loss is a law (Kaplan's has none)


def test_published_range_warnings_reach_python_as_the_cli():
    """The preset's stated range (Hoffmann et al.: 70M–16B parameters, 5B–500B tokens; Kaplan et al.: break-down
    before ~1e4 PF-days) was warned on the command line only; `isoflop.plan` answered the same question without
    a word. Now the planners themselves warn, so both front ends carry the same lines."""
    from isoflop.cli import app
    from typer.testing import CliRunner

    at_gopher = isoflop.plan("besiroglu2024", flops=5.76e23)  # N* = 72B > 16B, D* = 1.3T > 500B
    assert len(at_gopher.warnings) == 2 and "outside 70M to 16B" in at_gopher.warnings[0]
    assert isoflop.plan("besiroglu2024", flops=1e21).warnings == ()  # 2.8B params, 60B tokens: inside
    cli = json.loads(CliRunner().invoke(app, ["plan", "--flops", "5.76e23", "--json"]).stdout)
    assert cli["warnings"] == list(at_gopher.warnings)
    pf_day = 8.64e19
    assert any("break down" in w for w in isoflop.plan("kaplan2020", flops=2e4 * pf_day).warnings)
    assert any("break down" in w for w in isoflop.diagnose("kaplan2020", 1e13, 1e14).warnings)
    assert any("break down" in w for w in isoflop.frontier("kaplan2020", [1e20, 1e30]).warnings)
    assert "outside 768 to 1.5B" in isoflop.predict_loss("kaplan2020", 1e13, 1e14).warning


def test_a_run_id_shared_by_model_sizes_is_refused():
    """240 rows named by one run_id were resampled as one run: every bootstrap member equal, intervals of zero
    width, "identified". A run has one size, so such a table is refused, naming the run and rows."""
    import pandas as pd

    frame = pd.read_csv(EXAMPLES / "runs.csv").assign(run_id="chinchilla-sweep")
    with pytest.raises(isoflop.InputError, match="run_id 'chinchilla-sweep' has 20 different n_params"):
        isoflop.fit(frame)
    # Rows of one size under one name are a curve; a bootstrap of fewer than 3 runs is refused, not run.
    n, d = np.repeat([1e8, 3e8], 6), np.tile(np.geomspace(1e9, 1e11, 6), 2)
    loss = ChinchillaLaw(E=1.8, A=482.0, B=2085.0, alpha=0.35, beta=0.37).loss(n, d)
    curve = pd.DataFrame({"run_id": np.repeat(["a", "b"], 6), "n_params": n, "n_tokens": d, "loss": loss})
    result = isoflop.fit(curve.assign(run_id=[f"r{i}" for i in range(12)]))
    with pytest.raises(isoflop.InputError, match="belong to 2 run"):
        bootstrap(result, groups=curve["run_id"].to_numpy(), loss=curve["loss"].to_numpy(),
                                            n_resamples=10)


def test_a_fixed_E_above_the_losses_is_refused():
    """fixed={"E": 5} on runs whose losses are 2.7–4 gave A = B = 1e-10, "converged", and plans of zero width:
    the law's loss always exceeds E, so no such law fits."""
    runs = isoflop.read_runs(EXAMPLES / "runs.csv")
    lowest = float(runs.loss.min())
    with pytest.raises(isoflop.InputError, match="not below the lowest loss"):
        isoflop.fit(runs, fixed={"E": lowest})
    assert isoflop.fit(runs, fixed={"E": lowest - 0.5}).law.E == lowest - 0.5


def test_few_resamples_are_flagged_on_every_path(tmp_path):
    """A 95% percentile interval from K resamples has K/40 members per tail (Efron & Tibshirani 1993, §19.3):
    the warning was on `analyse` only; a bootstrap's plan and a saved fit's prediction now carry it too."""
    fit = isoflop.fit(EXAMPLES / "runs.csv")
    few, enough = fit.bootstrap(20), fit.bootstrap(100)
    assert "20 resamples" in few.warnings[0] and enough.warnings == ()
    assert any("20 resamples" in w for w in isoflop.plan(few, flops=1e19).warnings)
    assert not any("resamples" in w for w in isoflop.plan(enough, flops=1e19).warnings)
    analysis = isoflop.analyse(isoflop.read_runs(EXAMPLES / "runs.csv"), isoflop.FitOptions(n_bootstrap=20))
    isoflop.save_fit(analysis, tmp_path / "fit.json")
    assert "20 resamples" in isoflop.predict_loss(tmp_path / "fit.json", 1e8, 2e9).warning


def test_bootstrap_in_chunks_equals_one_batch(monkeypatch):
    """Resamples are solved in chunks so memory stays bounded (10^7 resamples tried to allocate 18 GiB); the
    weights come from one generator either way, so chunking changes nothing."""
    from isoflop.fitting import bootstrap as boot_module

    fit = isoflop.fit(EXAMPLES / "runs.csv")
    whole = fit.bootstrap(50, seed=3)
    monkeypatch.setattr(boot_module, "CHUNK_CELLS", 7 * fit.n_points)  # 8 chunks of 7 (the last 1)
    chunked = fit.bootstrap(50, seed=3)
    for name, values in whole.samples.items():
        np.testing.assert_allclose(chunked.samples[name], values, rtol=1e-9)


def test_as_law_keeps_the_refusal_of_an_unidentified_fit():
    result = isoflop.fit(one_size_runs())
    with pytest.raises(isoflop.InputError, match="allow_unidentified=True"):
        isoflop.as_law(result)
    with pytest.warns(isoflop.UnidentifiedWarning) as record:
        law = isoflop.as_law(result, allow_unidentified=True)
    assert law is result.law and record[0].filename == __file__


def test_notebook_reprs_are_short_and_plan_shows_its_questions():
    import inspect

    analysis = isoflop.analyse(isoflop.read_runs(EXAMPLES / "runs.csv"), isoflop.FitOptions(n_bootstrap=100))
    for obj in (analysis, analysis.fit, analysis.bootstrap, analysis.law):
        assert len(repr(obj)) < 3000, type(obj).__name__  # were 5,000 to 71,000 characters
    assert repr(analysis.law).endswith("n_members=100)")
    keywords = set(inspect.signature(isoflop.plan).parameters)
    assert {"flops", "n_params", "n_tokens", "target_loss", "unique_tokens", "inference_tokens", "cluster",
            "days", "percentiles", "allow_unidentified"} <= keywords
    assert isoflop.Cluster("h100-sxm", n_gpus=8).accelerator is isoflop.get_accelerator("h100-sxm")


def test_isoflop_warnings_point_at_the_callers_line(tmp_path):
    """A fit at its iteration limit warned from inside isoflop (`isoflop/fitting/__init__.py:52`); the
    ConvergenceWarning and a damaged log's CorruptLogWarning now point at the user's line, however deep the
    call."""
    from isoflop.errors import CorruptLogWarning
    from isoflop.fitting import fit as fit_law

    runs = isoflop.read_runs(EXAMPLES / "runs.csv")
    with pytest.warns(isoflop.ConvergenceWarning, match="stopped after") as record:
        fit_law(runs, max_iter=1)
    assert record[0].filename == __file__
    log = tmp_path / "log.csv"
    log.write_text("step,loss\n1,3.0\n2,2.9\n3,2.")  # the last row cut mid-value
    with pytest.warns(CorruptLogWarning) as record:
        isoflop.read_logs(log, n_params=1e8, tokens_per_step=1000)
    assert record[0].filename == __file__


@pytest.mark.parametrize("kwargs, keyword", [
    (dict(flops=1e22, match_flops=1e23), "match_flops"),
    (dict(flops=1e22, inference_tokens=1e12), "match_flops"),
    (dict(n_params=7e9, inference_tokens=1e12, target_loss=2.1), "target_loss"),
    (dict(n_tokens=1e12, inference_tokens=1e12), "n_tokens"),
    (dict(n_params=7e9, n_tokens=1e12), "n_params"),
    (dict(flops=1e22, unique_tokens=1e9, inference_tokens=1e9), "unique_tokens"),
    (dict(n_params=7e9, unique_tokens=1e9), "unique_tokens"),
    (dict(days=3), "days"),
])
def test_plan_errors_name_the_python_keyword_a_notebook_user_gave(kwargs, keyword):
    """The planner's messages named only the command line's flags (`--inference-tokens needs …`), which a
    notebook user never typed."""
    with pytest.raises(isoflop.InputError, match=keyword):
        isoflop.plan("besiroglu2024", **kwargs)


def test_save_fit_writes_what_fit_save_writes(tmp_path):
    """`isoflop.save_fit` is "as `isoflop fit --save`", but its file lacked the provenance, verdict and notes
    the command's fit.json carries."""
    from typer.testing import CliRunner

    from isoflop.cli import app

    runs = Path(__file__).resolve().parents[1] / "examples" / "runs.csv"
    result = CliRunner().invoke(app, ["fit", str(runs), "--bootstrap", "20", "--save", str(tmp_path / "cli.json")])
    assert result.exit_code == 0, result.output
    analysis = isoflop.analyse(isoflop.read_runs(runs), isoflop.FitOptions(n_bootstrap=20))
    isoflop.save_fit(analysis, tmp_path / "py.json")
    cli, py = (json.loads((tmp_path / name).read_text()) for name in ("cli.json", "py.json"))
    assert set(py) - {"name"} == set(cli) - {"name"}
    assert py["params"] == cli["params"] and py["verdict"] == cli["verdict"]
    assert [n for n in py["notes"] if not n.startswith("approach 1")] == cli["notes"]  # `fit` runs no approach 1
    assert py["provenance"]["command"] == "isoflop.save_fit"
    assert py["provenance"]["isoflop_version"] == isoflop.__version__


def test_models_and_sweep_status_come_from_import_isoflop(tmp_path):
    """`flops --model` / `diagnose --model` read a table of published models, and `sweep status` a sweep
    folder, that a notebook could not reach from `import isoflop`."""
    from typer.testing import CliRunner

    from isoflop.cli import app

    llama = isoflop.get_model("llama-3-8b")
    assert llama.arch.n_params == 8_030_261_248 and set(isoflop.MODELS) >= {"llama-3-8b", "gpt2"}  # HF config count
    with pytest.raises(isoflop.InputError, match="known models"):
        isoflop.get_model("gpt-5")
    design = isoflop.design_sweep({"budgets": [1e11], "sizes_per_budget": 2, "head_dim": 8, "seq_len": 32})
    isoflop.init_sweep(tmp_path / "s", design)
    state = isoflop.sweep_status(tmp_path / "s")
    assert state.counts() == {"done": 0, "running": 0, "failed": 0, "pending": 2}
    cli = json.loads(CliRunner().invoke(app, ["sweep", "status", str(tmp_path / "s"), "--json"]).stdout)
    assert state.to_dict() == cli
    assert isinstance(isoflop.plan("muennighoff2023", unique_tokens=25e9).result, isoflop.DataOptimalPlan)


def test_a_result_does_not_change_when_the_callers_array_does():
    """plan/frontier/predict_loss kept the caller's array: editing it after the call moved the result's budget
    (1e21 → 5e23) beside the model size planned for 1e21."""
    law = isoflop.law("besiroglu2024")
    budgets = np.array([1e21, 1e22])
    plan, front = isoflop.plan(law, flops=budgets), isoflop.frontier(law, budgets)
    sizes = np.array([1e9, 2e9])
    prediction = isoflop.predict_loss(law, sizes, 2e10)
    budgets[0], sizes[0] = 5e23, 7e9
    assert list(plan.to_dict()["flops"]) == [1e21, 1e22] and front.rows()[0]["flops"] == 1e21
    assert list(prediction.n_params) == [1e9, 2e9]
    n_star = law.compute_optimal(1e21)[0]  # the closed form at the budget asked
    assert plan.to_dict()["n_params"][0] == pytest.approx(float(n_star), rel=1e-9)


def test_percentiles_set_the_loss_interval_too():
    """From an analysis, plan(percentiles=(25, 75)) narrowed N* and D* but left the loss interval at 95 %:
    one dict, two levels. The loss interval now follows (oracle: the prediction at level 0.5)."""
    runs = isoflop.read_runs(shared_file("chinchilla_epoch.csv"), columns={"n_params": "Model Size",
                                                                           "flops": "Training FLOP"})
    analysis = isoflop.analyse(runs, isoflop.FitOptions(drop_highest=5, n_bootstrap=50))
    wide = isoflop.plan(analysis, flops=1e22).intervals["loss"]
    narrow = isoflop.plan(analysis, flops=1e22, percentiles=(25, 75))
    half = isoflop.predict_loss(analysis, narrow.n_params, narrow.n_tokens, level=0.5).interval
    assert narrow.intervals["loss"] == pytest.approx(half, rel=1e-12)
    assert wide[1] - wide[0] > 2 * (half[1] - half[0])
    diagnosis = isoflop.diagnose(analysis, 7e9, 1e11, percentiles=(25, 75))
    assert diagnosis.intervals["loss"] == pytest.approx(isoflop.predict_loss(analysis, 7e9, 1e11, level=0.5).interval)
    row = isoflop.frontier(analysis, [1e22], percentiles=(25, 75)).rows()[0]
    assert (row["optimal_loss_low"], row["optimal_loss_high"]) == pytest.approx(half, rel=1e-12)
    with pytest.raises(isoflop.InputError, match="100% interval"):
        isoflop.plan(analysis, flops=1e22, percentiles=(0, 100))
    assert isoflop.plan("besiroglu2024", flops=1e22, percentiles=(0, 100)).n_params > 0  # no fit: no prediction


def test_fit_in_python_keeps_what_reading_the_runs_noticed(tmp_path):
    """`isoflop fit --json` warned that a flops column was half of 6·N·D in every row; isoflop.fit(path) did not."""
    import pandas as pd

    frame = pd.read_csv(shared_file("chinchilla_epoch.csv")).rename(columns={"Model Size": "n_params",
                                                                             "Training FLOP": "flops"})
    frame["n_tokens"] = 2 * frame.flops / (6 * frame.n_params)
    frame.to_csv(tmp_path / "halved.csv", index=False)
    for runs in (tmp_path / "halved.csv", frame):
        assert any("differs from 6·N·D" in w for w in isoflop.fit(runs).warnings)


def test_a_frontier_says_when_it_draws_models_plan_refuses():
    front = isoflop.frontier("besiroglu2024", [1e7, 1e8, 1e21])
    n_star = isoflop.law("besiroglu2024").compute_optimal(1e7)[0]
    assert any(f"{float(n_star):.3g} params at 1e7 FLOPs" in w and "2 budget(s)" in w for w in front.warnings)
    assert not any("smallest sensible" in w for w in isoflop.frontier("besiroglu2024", [1e21]).warnings)


def test_python_reaches_what_the_cli_does_with_paths_names_and_the_joint_base(tmp_path):
    runs = isoflop.read_runs(shared_file("chinchilla_epoch.csv"), columns={"n_params": "Model Size",
                                                                           "flops": "Training FLOP"})
    analysis = isoflop.analyse(runs, isoflop.FitOptions(drop_highest=5))
    # `isoflop plan --fit fit.txt` read a fit renamed so; Python did not (fits are saved only as .json)
    (tmp_path / "fit.txt").write_bytes(isoflop.save_fit(analysis, tmp_path / "fit.json").read_bytes())
    for source in (tmp_path / "fit.txt", str(tmp_path / "fit.txt")):
        assert isoflop.as_law(source).alpha == pytest.approx(analysis.fit.law.alpha, rel=1e-12)
        assert isoflop.plan(source, flops=1e22).n_params == pytest.approx(isoflop.plan(analysis, flops=1e22).n_params)
    config = isoflop.SweepConfig(budgets=(1e15,))
    assert isoflop.design_sweep(config, law="besiroglu2024") == isoflop.design_sweep(config)
    joint = isoflop.fit(shared_file("datablations_repeated_c4.csv"), form="data-constrained", base="fit")
    assert np.size(joint.theta_) == 7  # the base's five constants and R_D*, R_N*


def test_diagnose_a_published_model_in_python_as_the_cli_does():
    """`isoflop diagnose --model` had no Python path. The oracle: the model's own count under each law's
    convention and its published tokens (Gopher: 280B on 300B tokens, ORACLES.md's undertrained example)."""
    from typer.testing import CliRunner

    from isoflop.cli import app

    gopher = isoflop.get_model("gopher-280b")
    for law, convention in (("besiroglu2024", "total"), ("kaplan2020", "non_embedding")):
        python = isoflop.diagnose(law, model="gopher-280b")
        assert (python.n_params, python.n_tokens) == (gopher.arch.count(convention), 300e9)
        cli = json.loads(CliRunner().invoke(app, ["diagnose", "--model", "gopher-280b", "--law", law,
                                                  "--json"]).stdout)
        assert (cli["n_params"], cli["regime"], cli["wasted_fraction"]) == (
            python.n_params, python.regime, pytest.approx(python.wasted_fraction, rel=1e-12))
    moe = isoflop.diagnose("besiroglu2024", model="mixtral-8x7b", n_tokens=1e12)
    assert moe.n_tokens == 1e12 and "mixture of experts" in moe.warnings[0]
    with pytest.raises(isoflop.InputError, match="not both"):
        isoflop.diagnose("besiroglu2024", 7e9, model="gopher-280b")


def test_one_number_asked_gives_plain_numbers_back():
    """A notebook showed Allocation(flops=array(1.e+22), n_params=np.float64(…)) for fields typed float."""
    law = isoflop.law("muennighoff2023")
    for plan in (isoflop.plan(law, flops=1e22), isoflop.plan(law, flops=1e22, unique_tokens=25e9),
                 isoflop.plan(law, unique_tokens=25e9), isoflop.plan(law, match_flops=1e22, inference_tokens=1e12)):
        numbers = {k: v for k, v in vars(plan.result).items() if k not in ("law", "intervals", "unique_tokens",
                                                                            "warnings", "compute_optimal")}
        assert all(type(v) is float for v in numbers.values() if v is not None), (plan.kind, numbers)
        assert "array(" not in repr(plan.result) and "np.float64" not in repr(plan.result)
    assert isinstance(isoflop.plan(law, flops=[1e21, 1e22]).n_params, np.ndarray)  # many asked: an array


def test_a_numbers_audits_small_findings_stay_fixed():
    """predict_loss gave n_params=array(6.34e9) where the planners give floats; diagnose(model=…).to_dict() lacked
    the `model` key `diagnose --model --json` has; a Kaplan-law MoE note said FLOPs use the total while N was
    non-embedding; --gpus 0 was 'zero or positive' then refused, --gpus 1e30 accepted; the kaplan law's N was
    called non-embedding nowhere in loss, diagnose or frontier."""

    from isoflop.models import get_model

    p = isoflop.predict_loss("besiroglu2024", 6.34e9, 1.2e11)
    assert all(type(v) is float for v in (p.n_params, p.n_tokens, p.flops, p.loss))
    assert isinstance(isoflop.predict_loss("besiroglu2024", [1e9, 2e9], 1e11).loss, np.ndarray)
    d = isoflop.diagnose("besiroglu2024", model="llama-2-7b")
    cli = json.loads(subprocess.run([sys.executable, "-m", "isoflop", "diagnose", "--model", "llama-2-7b", "--json"],
                                    capture_output=True, text=True, check=True).stdout)
    assert d.to_dict()["model"] == cli["model"] == "llama-2-7b" and list(d.to_dict()) == list(cli)
    mixtral = get_model("mixtral-8x7b")
    note = mixtral.law_warnings("non_embedding")[0]
    assert f"N = {mixtral.arch.n_params_non_embedding:.3g} (non-embedding)" in note
    assert f"({mixtral.arch.n_params_non_embedding / mixtral.arch.n_params_active:.2g}× less" in note
    for gpus, words in (("0", "--gpus: must be positive"), ("1e30", "from 1 to 10,000,000")):
        proc = subprocess.run([sys.executable, "-m", "isoflop", "plan", "--flops", "1e21", "--gpu", "h100-sxm",
                               "--gpus", gpus], capture_output=True, text=True)
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    kaplan = "kaplan2020 counts n_params without embeddings"
    assert kaplan in isoflop.predict_loss("kaplan2020", 1e8, 2e9).warning
    assert any(kaplan in w for w in isoflop.diagnose("kaplan2020", 1e8, 2e9).warnings)
    assert any(kaplan in w for w in isoflop.frontier("kaplan2020", [1e18]).warnings)


def test_reprs_stay_short_with_many_warnings(tmp_path):
    """Ingested logs carry a warning per damaged run: 400 runs with one NaN loss each gave a RunTable, its
    Analysis and isoflop.fit's FitResult reprs of 30,000 characters each (229,000 for 3,000 runs), a notebook
    cell of text. The reprs show three warnings and how many more; ``.warnings`` keeps every one."""
    import pandas as pd

    rows = []
    for i, (n, steps) in enumerate((n, s) for n in np.logspace(7, 9, 20) for s in np.logspace(2.5, 4.5, 20)):
        for step in (int(steps) // 4, int(steps) // 3, int(steps) // 2, int(steps)):
            loss = 1.8 + 400 / n ** 0.34 + 410 / (step * 1000) ** 0.28
            rows.append({"run_id": f"r{i}", "step": step, "n_params": round(n),
                         "loss": np.nan if step == int(steps) // 3 else loss})
    pd.DataFrame(rows).to_csv(tmp_path / "log.csv", index=False, na_rep="nan")  # a logged NaN, not an empty cell
    table = isoflop.read_logs(tmp_path / "log.csv", tokens_per_step=1000)
    analysis = isoflop.analyse(table, isoflop.FitOptions(n_bootstrap=0))
    fit = isoflop.fit(table)
    assert len(table.warnings) == 400 and len(fit.warnings) >= 400 and len(analysis.warnings) >= 400
    for obj in (table, analysis, fit):
        text = repr(obj)
        assert len(text) < 3000 and f"… {len(obj.warnings) - 3} more warnings" in text, type(obj).__name__
        assert repr(obj.warnings[0]) in text and repr(obj.warnings[3]) not in text
    small = isoflop.read_logs(tmp_path / "log.csv", tokens_per_step=1000, run_id=None)  # few warnings: all shown
    short = isoflop.RunTable(small.frame.head(), warnings=("a", "b"))
    assert repr(short).endswith("warnings=('a', 'b'))")


def test_sweep_reprs_are_short(tmp_path):
    """A SweepDesign printed every run's whole spec (8,166 characters for examples/sweep.toml's 9 runs, ~900 a
    run) and a SweepState every RunStatus (~180 a run): a notebook cell of text for a real grid."""
    design = isoflop.design_sweep(isoflop.SweepConfig.from_toml(EXAMPLES / "sweep.toml"))
    assert repr(design) == (f"SweepDesign(law='besiroglu2024', runs=9 (9 points over 3 budgets), "
                            f"total_flops={design.total_flops:.3g}, warnings={design.warnings!r})")
    isoflop.init_sweep(tmp_path / "sweep", design)
    state = isoflop.sweep_status(tmp_path / "sweep")
    assert len(state.runs) == 9 and len(repr(state)) < 300
    assert "counts={'done': 0, " in repr(state) and "'pending': 9" in repr(state)


def test_sweep_configs_take_numpy_values():
    """A notebook writes budgets as np.logspace(...) and counts as NumPy integers: design_sweep refused both
    ("budgets: expected a number, got ndarray …"; "seq_len: must be an integer from 1 to 1,048,576, got
    np.int64(64)"), in a SweepConfig and in a dict of its fields, while isoflop.plan takes them."""
    plain = isoflop.design_sweep({"budgets": [3e10, 6e10], "sizes_per_budget": 3, "seq_len": 64, "head_dim": 8})
    for given in ({"budgets": np.array([3e10, 6e10]), "sizes_per_budget": np.int64(3), "seq_len": np.int64(64),
                   "head_dim": 8},
                  {"budgets": np.logspace(np.log10(3e10), np.log10(6e10), 2), "sizes_per_budget": np.int32(3),
                   "seq_len": 64, "head_dim": np.int64(8)}):
        for design in (isoflop.design_sweep(given), isoflop.design_sweep(isoflop.SweepConfig(**given))):
            assert design.config.budgets == pytest.approx(plain.config.budgets, rel=1e-12)
            assert type(design.config.seq_len) is int and type(design.config.sizes_per_budget) is int
            assert [r.run_id for r in design.runs] == [r.run_id for r in plain.runs]
            stored = json.loads(json.dumps(design.config.to_dict()))  # as sweep.json stores it
            assert stored.pop("budgets") == pytest.approx(plain.config.budgets, rel=1e-12)
            assert stored == {k: v for k, v in plain.config.to_dict().items() if k != "budgets"}
    with pytest.raises(isoflop.InputError, match="seq_len"):
        isoflop.design_sweep({"budgets": [3e10], "seq_len": np.float64(64.5)})
