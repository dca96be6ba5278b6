"""Identifiability verdicts: Epoch's 240 points are identified; designs that cannot pin a law down are flagged."""

import warnings

import numpy as np
import pandas as pd
import pytest

from isoflop.errors import ConvergenceWarning, InputError
from isoflop.fitting import fit, fit_arrays
from isoflop.fitting.identify import identify, require_identified, rule_of_thumb_n_params
from isoflop.laws import ChinchillaLaw
from isoflop.presets import get_law
from isoflop.runs import RunTable, parse_column_map
from tests.conftest import shared_file

TRUTH = ChinchillaLaw(E=1.82, A=482.0, B=2085.0, alpha=0.348, beta=0.366)


@pytest.fixture(scope="module")
def epoch():
    return RunTable.load(shared_file("chinchilla_epoch.csv"),
                         parse_column_map('n_params="Model Size",flops="Training FLOP"')).drop_highest_loss(5)


def demo_like_sweep(seed=0):
    """Like the demo's sweep: 3 budgets over 0.7 decades of compute, 4 model sizes each, 1% noise."""
    rng = np.random.default_rng(seed)
    budgets = np.geomspace(1e15, 10**15.7, 3)
    n = np.concatenate([rule_of_thumb_n_params(c) * np.geomspace(1 / 4, 4, 4) for c in budgets])
    c = np.repeat(budgets, 4)
    d = c / (6 * n)
    return TRUTH.loss(n, d) * np.exp(rng.normal(0, 0.01, 12)), n, d, c


def test_epoch_identified_and_unchanged(epoch):
    result = fit(epoch)
    verdict = result.identifiability
    assert verdict.level == "identified" and verdict.reasons == () and verdict.unpinned == ()
    assert verdict.span_decades["flops"] == pytest.approx(np.log10(epoch.flops.max() / epoch.flops.min()), abs=1e-3)
    # The published optimum is unchanged by the new fields (ORACLES.md: objective ≤ 0.0010182741).
    assert result.objective <= 0.0010182741
    assert result.params["alpha"] == pytest.approx(0.347313, abs=2e-4)
    boot = result.bootstrap(200, seed=0)  # no other arguments: the fit keeps its rows
    with_boot = identify(result, boot)
    assert with_boot.level == "identified" and with_boot.fraction_converged == 1.0
    lo, hi = boot.intervals["E"]
    assert lo < 1.8172 < hi  # Besiroglu et al. 2024's E inside our interval
    assert require_identified(result).level == "identified"


def test_single_model_size_unidentified():
    rng = np.random.default_rng(1)
    n, d = np.full(8, 1e8), np.geomspace(1e9, 1e11, 8)
    result = fit_arrays(TRUTH.loss(n, d) * np.exp(rng.normal(0, 0.01, 8)), n, d)
    verdict = result.identifiability
    assert verdict.level == "unidentified"
    assert any("one model size" in r for r in verdict.reasons)
    # Suggests sizes around √(C/120) at the largest budget: C = 6·1e8·1e11 → 2.2e8 params.
    assert min(verdict.suggested_n_params) < 1e8 < max(verdict.suggested_n_params)
    assert any(s == pytest.approx(np.sqrt(6e19 / 120), rel=0.05) for s in verdict.suggested_n_params)
    with pytest.raises(InputError, match="unidentified.*one model size.*allow-unidentified"):
        require_identified(result)
    assert "(100M params)" in verdict.reasons[0]  # as every count isoflop prints, not 1e+08


def test_kaplan_on_a_single_model_size_says_why():
    """`fit --form kaplan` on runs of one size stopped at "KaplanLaw: n_c must be a finite number > 0, got inf":
    the N exponent sat on its bound at 0, so N_c = exp(q / 0). Now the fit ends and its verdict says why."""
    rng = np.random.default_rng(1)
    n, d = np.full(12, 1e8), 10 ** rng.uniform(9, 11, 12)
    result = fit_arrays(TRUTH.loss(n, d), n, d, form="kaplan")  # noise-free: p ends on its bound at 0
    assert result.identifiability.level == "unidentified"
    assert any("one model size" in r for r in result.identifiability.reasons)
    assert require_identified(result, allow_unidentified=True).level == "unidentified"


@pytest.mark.parametrize("form", ["loss-vs-compute", "broken-power-law"])
def test_compute_law_on_a_single_model_size_is_unidentified(form):
    """L(C) describes the compute-optimal frontier. Runs of one size trace that model's curve in D instead:
    fitted on 12 noise-free runs of a 100M model, loss-vs-compute's E came out as the model's own floor
    E + A/N^α (closed form, 2.56 here) rather than the law's E = 1.82, and the fit was called identified."""
    from isoflop.fitting.select import FitChoice

    n, d = np.full(12, 1e8), np.geomspace(1e8, 1e11, 12)
    table = RunTable.from_frame(pd.DataFrame({"n_params": n, "n_tokens": d, "loss": TRUTH.loss(n, d)}))
    result = FitChoice(form).fit(table)
    if form == "loss-vs-compute":
        assert result.law.E == pytest.approx(TRUTH.E + TRUTH.A / 1e8**TRUTH.alpha, rel=0.01)
    verdict = result.identifiability
    assert verdict.level == "unidentified"
    assert "one model size (100M params)" in verdict.reasons[0] and "frontier" in verdict.reasons[0]
    assert min(verdict.suggested_n_params) < 1e8 < max(verdict.suggested_n_params)


def test_compute_law_on_the_frontier_is_identified():
    """The same form on compute-optimal runs (N = √(C/120), one per budget over 3 decades) is identified."""
    c = np.geomspace(1e18, 1e21, 12)
    n = rule_of_thumb_n_params(c)
    d = c / (6 * n)
    table = RunTable.from_frame(pd.DataFrame({"n_params": n, "n_tokens": d, "loss": TRUTH.loss(n, d)}))
    assert fit(table, "loss-vs-compute").identifiability.level == "identified"


def test_iteration_limit_warns_and_is_flagged(epoch):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit(epoch, max_iter=3)
    assert result.status == "iteration limit" and result.n_iter == 3
    assert [w.category for w in caught] == [ConvergenceWarning]
    assert result.identifiability.level == "unidentified"
    assert "iteration limit" in result.identifiability.reasons[0]
    assert "max_iter" in result.identifiability.suggestions[0]


def test_demo_like_sweep_flagged_with_budgets_to_add():
    loss, n, d, c = demo_like_sweep()
    result = fit_arrays(loss, n, d, c)
    verdict = result.identifiability
    assert verdict.level == "unidentified"
    assert verdict.span_decades["flops"] == pytest.approx(0.7, abs=1e-3)
    # Half-decade steps below 1e15 until 2 decades are spanned: 0.7 + 3·0.5 ≥ 2.
    assert verdict.suggested_flops == pytest.approx((10**14.5, 1e14, 10**13.5), rel=1e-2)
    with pytest.raises(InputError, match="3.2e14, 1e14, 3.2e13 FLOPs"):
        require_identified(result)


def test_presets_pass_and_to_dict_is_strict_json(epoch):
    import json

    assert require_identified(get_law("hoffmann2022")) is None
    verdict = fit(epoch).identifiability
    json.dumps(verdict.to_dict(), allow_nan=False)


def test_bootstrap_uses_converged_resamples_only():
    loss, n, d, c = demo_like_sweep()
    result = fit_arrays(loss, n, d, c)
    from isoflop.fitting.bootstrap import bootstrap

    boot = bootstrap(result, n_resamples=100, seed=0, max_iter=40)
    assert 2 <= boot.n_converged < boot.n_resamples  # 40 iterations leave some of this thin design's unconverged
    assert np.shape(boot.ensemble.members.alpha)[0] == boot.n_converged
    assert boot.samples["alpha"].size == boot.n_converged


def test_bootstrap_of_training_curves_names_the_rows():
    import pandas as pd

    rows = [{"run_id": f"r{i}", "step": s, "n_params": n, "n_tokens": n * 20 * s / 3, "loss": TRUTH.loss(n, n * 20 * s / 3)}
            for i, n in enumerate(np.geomspace(1e7, 1e9, 8)) for s in (1, 2, 3)]
    table = RunTable.from_frame(pd.DataFrame(rows))
    result = fit(table, "chinchilla-tied")
    assert result.n_points == 8 and "last row" in result.warnings[0]
    assert result.bootstrap(20).n_resamples == 20
    from isoflop.fitting.bootstrap import bootstrap

    with pytest.raises(InputError, match="used 8 rows .* got 24 losses"):
        bootstrap(result, table.loss, table.run_ids, n_resamples=20)


def test_curvature_interval_matches_the_spread_of_refits():
    # Oracle: refit the law on many independent noisy copies of one design (least squares, Gaussian noise on
    # log loss, where the Wald approximation is exact to first order); the spread of the fitted exponents is
    # what the curvature interval of a single fit claims.
    from isoflop.fitting.identify import curvature_intervals

    budgets = np.geomspace(1e17, 1e20, 6)
    n = np.concatenate([rule_of_thumb_n_params(c) * np.geomspace(1 / 8, 8, 7) for c in budgets])
    d = np.repeat(budgets, 7) / (6 * n)
    rng = np.random.default_rng(7)
    fits = [fit_arrays(TRUTH.loss(n, d) * np.exp(rng.normal(0, 0.02, n.size)), n, d, delta=np.inf)
            for _ in range(60)]
    alphas = np.array([f.law.alpha for f in fits])
    halves = np.array([(hi - lo) / 2 for lo, hi in (curvature_intervals(f)["α"] for f in fits)])
    assert np.median(halves) / 1.96 == pytest.approx(alphas.std(ddof=1), rel=0.3)
    # and the intervals cover the true α about 95% of the time
    covered = np.mean([lo <= TRUTH.alpha <= hi for lo, hi in (curvature_intervals(f)["α"] for f in fits)])
    assert covered >= 0.85


def test_no_bootstrap_is_no_excuse_to_call_a_fit_identified(epoch):
    # A design the bootstrap calls weakly identified (sizes over 0.6 decades, 1.5% noise) is weakly
    # identified without one too, from the curvature, and the reason says how to run the full check.
    rng = np.random.default_rng(3)
    budgets = np.geomspace(1e17, 10**18.6, 5)
    n = np.concatenate([rule_of_thumb_n_params(c) * np.geomspace(1 / 2, 2, 3) for c in budgets])
    d = np.repeat(budgets, 3) / (6 * n)
    result = fit_arrays(TRUTH.loss(n, d) * np.exp(rng.normal(0, 0.015, n.size)), n, d)
    verdict = identify(result)
    assert verdict.level == "weakly identified"
    assert any("from the curvature" in r and "bootstrap" in r for r in verdict.reasons)
    assert identify(result, result.bootstrap(200)).level != "identified"
    # Epoch's 240 points: identified from the curvature alone, as with the bootstrap
    assert identify(fit(epoch)).level == "identified"


def test_forms_without_a_bootstrap_get_the_curvature_check():
    # kaplan-irreducible has no batched bootstrap; its α_N = p·α_D interval (delta method) against the
    # spread of refits on independent noisy copies, as above
    from isoflop.fitting.forms import fit_extra
    from isoflop.fitting.identify import curvature_intervals
    from isoflop.laws import KaplanIrreducibleLaw

    truth = KaplanIrreducibleLaw(E=1.5, n_c=8.8e13, alpha_n=0.076, d_c=5.4e13, alpha_d=0.095)
    n = np.repeat(np.geomspace(1e7, 1e10, 6), 5)
    d = np.tile(np.geomspace(1e8, 1e11, 5), 6)
    rng = np.random.default_rng(0)
    fits = [fit_extra("kaplan-irreducible", truth.loss(n, d) * np.exp(rng.normal(0, 0.003, n.size)), n, d,
                      delta=np.inf) for _ in range(40)]
    assert set(curvature_intervals(fits[0])) == {"α_D", "α_N"}
    alpha_n = np.array([f.law.alpha_n for f in fits])
    halves = np.array([(hi - lo) / 2 for lo, hi in (curvature_intervals(f)["α_N"] for f in fits)])
    assert np.median(halves) / 1.96 == pytest.approx(alpha_n.std(ddof=1), rel=0.35)


def test_no_irreducible_loss_is_named_not_called_a_trade_off():
    """Runs far from saturation (a pure power law, E = 0): E's column of the Jacobian is ~0 (∂ log L̂/∂ log E =
    E/L̂), so JᵀJ is singular because E moves no prediction, and the verdict says so instead of blaming a
    trade-off between constants."""
    rng = np.random.default_rng(1)
    n = np.repeat(np.geomspace(1e7, 1e9, 5), 4)
    d = np.tile(np.geomspace(1e9, 1e11, 4), 5)
    loss = (400 / n**0.34 + 2000 / d**0.37) * np.exp(rng.normal(0, 0.005, n.size))
    result = fit_arrays(loss, n, d)
    assert result.law.E < 1e-6 * loss.min()  # the fit found no irreducible loss
    verdict = result.identifiability
    assert verdict.level == "unidentified"
    reason = next(r for r in verdict.reasons if "near-singular" in r)
    assert "E moves no prediction" in reason and "no irreducible loss" in reason
    assert "trade off" not in reason
    assert reason.split(": ", 1)[1].startswith("E moves no prediction")  # only E is idle: A, B, α, β are not
    assert verdict.unpinned == ("E",)


def test_constants_the_data_cannot_move_show_no_interval(tmp_path):
    """Runs from a law with no data term (L = E + A/N^α, D irrelevant): B and β move no prediction, so every
    bootstrap resample leaves them where it started and the fit table printed β [1.550, 1.550], as if known
    to four digits. They are named as unpinned and shown as "not identified" (with a = β/(α+β)); the others
    keep their intervals."""
    from typer.testing import CliRunner

    from isoflop.cli import app

    rng = np.random.default_rng(0)
    n, d = (x.ravel() for x in np.meshgrid(np.geomspace(1e7, 1e9, 8), np.geomspace(1e9, 1e11, 8)))
    loss = (2 + 400 / n**0.3) * np.exp(rng.normal(0, 0.005, n.size))
    verdict = fit_arrays(loss, n, d).identifiability
    assert verdict.level == "unidentified" and set(verdict.unpinned) == {"B", "beta"}
    path = tmp_path / "runs.csv"
    path.write_text("n_params,n_tokens,loss\n" + "".join(f"{a:.17g},{b:.17g},{c:.17g}\n" for a, b, c in zip(n, d, loss)))
    out = CliRunner().invoke(app, ["fit", str(path), "--bootstrap", "30", "--save", str(tmp_path / "fit.json")])
    rows = {line.split("│")[1].strip(): line.split("│")[3].strip() for line in out.stdout.splitlines()
            if line.count("│") == 4}
    assert rows["B"] == rows["beta"] == rows["a"] == "not identified"
    assert rows["alpha"].startswith("[") and rows["E"].startswith("[")
    from isoflop.fitting.io import load_saved_fit

    assert set(load_saved_fit(tmp_path / "fit.json").identifiability.unpinned) == {"B", "beta"}
