"""Further published forms recover known laws; form selection ranks a misspecified form below the true one."""

import json

import numpy as np
import pandas as pd
import pytest

from isoflop.fitting.forms import fit_extra
from isoflop.fitting.select import BASELINE, CANDIDATES, FitChoice, Selection, evaluate, select_fit
from isoflop.laws import BrokenPowerLaw, ChinchillaLaw, KaplanIrreducibleLaw
from isoflop.runs import RunTable


def iso_design(law, noise, seed, budgets=np.geomspace(1e17, 1e21, 9)):
    rng = np.random.default_rng(seed)
    c = np.repeat(budgets, 8)
    n = np.sqrt(c / 120) * np.tile(np.geomspace(1 / 8, 8, 8), budgets.size)
    d = c / (6 * n)
    loss = law.loss(n, d) * np.exp(rng.normal(0, noise, n.size))
    return RunTable.from_frame(pd.DataFrame({"n_params": n, "n_tokens": d, "loss": loss}))


def test_kaplan_irreducible_recovers_known_law():
    truth = KaplanIrreducibleLaw(E=1.8, n_c=3e8, alpha_n=0.3, d_c=6e9, alpha_d=0.35)
    t = iso_design(truth, 0.001, 0)
    result = fit_extra("kaplan-irreducible", t.loss, t.n_params, t.n_tokens, t.flops)
    assert result.status == "converged"
    law = result.law
    assert law.E == pytest.approx(1.8, rel=0.03)
    assert law.alpha_n == pytest.approx(0.3, rel=0.1)
    assert law.alpha_d == pytest.approx(0.35, rel=0.1)


def test_broken_power_law_recovers_known_curve():
    truth = BrokenPowerLaw(E=1.7, b=2e3, c0=0.2, c1=0.15, d1=1e19, f1=0.5)
    c = np.geomspace(1e16, 1e22, 60)
    loss = truth.loss(c) * np.exp(np.random.default_rng(0).normal(0, 0.001, c.size))
    result = fit_extra("broken-power-law", loss, flops=c)
    # Independent check: the fitted curve matches the truth within the noise over the data and a decade beyond.
    grid = np.geomspace(1e16, 1e23, 30)
    assert np.max(np.abs(result.law.loss(grid) / truth.loss(grid) - 1)) < 0.01
    assert result.law.c0 + result.law.c1 == pytest.approx(0.35, abs=0.05)  # the slope past the break


def kaplan_irreducible_objective(theta, t, weights=None, delta=1e-3):
    """Σ w·huber(δ, log L̂ − log L) with L̂ = E + [(N_c/N)^(α_N/α_D) + D_c/D]^α_D written from the paper's form,
    in θ = (log E, log N_c^p, p, log D_c, α_D)."""
    from scipy.special import huber

    e, q, p, w, alpha_d = theta
    bracket = np.exp(q - p * np.log(t.n_params)) + np.exp(w - np.log(t.n_tokens))
    r = np.log(np.exp(e) + bracket**alpha_d) - np.log(t.loss)
    return np.sum((1.0 if weights is None else weights) * huber(delta, r))


def test_extra_forms_reach_an_optimum_scipy_cannot_improve():
    """Independent solver: scipy's least_squares with its Huber loss (f_scale = δ gives exactly Σ h_δ), started
    from our optimum and from the generic start, finds no lower objective for either further form."""
    from scipy.optimize import least_squares

    truth = KaplanIrreducibleLaw(E=1.8, n_c=3e8, alpha_n=0.3, d_c=6e9, alpha_d=0.35)
    t = iso_design(truth, 0.005, 3)
    ours = fit_extra("kaplan-irreducible", t.loss, t.n_params, t.n_tokens, t.flops)
    assert ours.objective == pytest.approx(kaplan_irreducible_objective(ours.theta_, t), rel=1e-9)

    def resid(theta):
        e, q, p, w, alpha_d = theta
        bracket = np.exp(q - p * np.log(t.n_params)) + np.exp(w - np.log(t.n_tokens))
        return np.log(np.exp(e) + bracket**alpha_d) - np.log(t.loss)

    for start in (ours.theta_, ours.problem_.starts[0]):
        ref = least_squares(resid, start, loss="huber", f_scale=1e-3, xtol=1e-15, ftol=1e-15, gtol=1e-15,
                            bounds=(ours.problem_.lower, ours.problem_.upper + 1e-12))
        assert ours.objective <= ref.cost * (1 + 1e-8)

    curve = BrokenPowerLaw(E=1.7, b=2e3, c0=0.2, c1=0.15, d1=1e19, f1=0.5)
    c = np.geomspace(1e16, 1e22, 60)
    loss = curve.loss(c) * np.exp(np.random.default_rng(1).normal(0, 0.003, c.size))
    bpl = fit_extra("broken-power-law", loss, flops=c)

    def bpl_resid(theta):
        e, log_b, c0, c1, log_d1, f1 = theta
        law = BrokenPowerLaw(E=np.exp(e), b=np.exp(log_b), c0=c0, c1=c1, d1=np.exp(log_d1), f1=f1)
        return np.log(law.loss(c)) - np.log(loss)

    ref = least_squares(bpl_resid, bpl.theta_, loss="huber", f_scale=1e-3, xtol=1e-15, ftol=1e-15, gtol=1e-15,
                        bounds=(bpl.problem_.lower, bpl.problem_.upper + 1e-12))
    assert bpl.objective <= ref.cost * (1 + 1e-8)


def test_extra_forms_bootstrap_each_resample_to_its_own_optimum():
    """The further forms now carry solver state, so they bootstrap like the others: every resample is refitted
    in one batch, and a resample refitted alone by scipy's L-BFGS-B from the same start is no better."""
    from scipy.optimize import minimize

    from isoflop.fitting.bootstrap import resample_weights

    truth = KaplanIrreducibleLaw(E=1.8, n_c=3e8, alpha_n=0.3, d_c=6e9, alpha_d=0.35)
    t = iso_design(truth, 0.005, 4)
    result = fit_extra("kaplan-irreducible", t.loss, t.n_params, t.n_tokens, t.flops)
    boot = result.bootstrap(40, seed=1)
    assert boot.n_converged >= 38
    lo, hi = boot.intervals["alpha_d"]
    assert lo < result.law.alpha_d < hi and hi / lo < 1.5
    weights = resample_weights(result.data.groups, 40, np.random.default_rng(1))  # the same draws (seed 1)
    members = boot.ensemble.members
    for k in (0, 17):
        theta_k = [np.log(members.E[k, 0]), np.log(members.n_c[k, 0]) * members.alpha_n[k, 0] / members.alpha_d[k, 0],
                   members.alpha_n[k, 0] / members.alpha_d[k, 0], np.log(members.d_c[k, 0]), members.alpha_d[k, 0]]
        mine = kaplan_irreducible_objective(theta_k, t, weights[k])
        ref = minimize(kaplan_irreducible_objective, result.theta_, args=(t, weights[k]), method="L-BFGS-B",
                       bounds=list(zip(result.problem_.lower, result.problem_.upper)),
                       options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 5000})
        assert mine <= ref.fun * (1 + 1e-8)


def test_selection_prefers_the_true_form_over_a_misspecified_one():
    """Data from a Chinchilla law: Kaplan's form (no irreducible loss) extrapolates worse in the backtests."""
    truth = ChinchillaLaw(E=1.82, A=482.0, B=2085.0, alpha=0.348, beta=0.366)
    t = iso_design(truth, 0.005, 1)
    chinchilla, kaplan = evaluate(t, BASELINE), evaluate(t, FitChoice("kaplan"))
    assert chinchilla.n_folds == 4 and chinchilla.cv_error < 0.01
    assert kaplan.cv_error > 2 * chinchilla.cv_error
    selection = select_fit(t, (BASELINE, FitChoice("kaplan"), FitChoice("loss-vs-compute")))
    assert selection.best.choice == BASELINE  # loss-vs-compute cannot plan, so it is never chosen
    assert BASELINE.label in selection.reason  # and the table says why the baseline stayed
    table = selection.to_frame()
    assert list(table.columns[:3]) == ["form", "delta", "asymmetry"] and len(table) == 3
    json.dumps(selection.to_dict(), allow_nan=False)


def test_lower_envelope_objective_follows_best_runs():
    """Runs with a one-sided excess (badly tuned) pull the symmetric fit up; τ = 0.8 stays nearer the truth."""
    truth = ChinchillaLaw(E=1.82, A=482.0, B=2085.0, alpha=0.348, beta=0.366)
    rng = np.random.default_rng(2)
    t = iso_design(truth, 0.002, 2)
    bad = rng.random(len(t)) < 0.4
    frame = t.frame.copy()
    frame.loc[bad, "loss"] *= np.exp(rng.exponential(0.03, bad.sum()))
    t = RunTable.from_frame(frame)
    sym, env = BASELINE.fit(t), FitChoice(asymmetry=0.8).fit(t)
    grid_n, grid_d = np.array([1e10, 1e11]), np.array([2e11, 2e12])
    err = lambda r: np.max(np.abs(r.law.loss(grid_n, grid_d) / truth.loss(grid_n, grid_d) - 1))
    assert env.asymmetry == 0.8 and env.status == "converged"
    assert err(env) < err(sym)
    # The bootstrap of an asymmetric fit refits with the same objective.
    assert env.bootstrap(20).n_converged >= 18


def test_kaplan_irreducible_plans_like_kaplan():
    """E does not move the compute-optimal split: brute-force minimisation along 6·N·D = C agrees."""
    from scipy.optimize import minimize_scalar

    from isoflop.planning import compute_optimal

    law = KaplanIrreducibleLaw(E=1.8, n_c=3e8, alpha_n=0.3, d_c=6e9, alpha_d=0.35)
    plan = compute_optimal(law, 1e21)
    best = minimize_scalar(lambda x: law.loss(np.exp(x), 1e21 / 6 / np.exp(x)), bounds=(np.log(1e6), np.log(1e13)),
                           method="bounded", options={"xatol": 1e-10})
    assert plan.n_params == pytest.approx(np.exp(best.x), rel=1e-6)
    assert law.n_tokens_for_loss(1e9, law.loss(1e9, 3e10)) == pytest.approx(3e10, rel=1e-9)
    assert law.n_tokens_for_loss(1e9, 1.7) == np.inf  # below E: unreachable


def test_one_standard_error_rule_on_paired_fold_errors():
    from isoflop.fitting.select import BASELINE, Candidate, FitChoice, beats_baseline

    def cand(errors, choice=FitChoice("kaplan")):
        return Candidate(choice, float(np.mean(list(errors.values()))), len(errors), None, None, "", errors)

    base = cand({-1.0: 0.030, -1.3: 0.020, -1.7: 0.025}, BASELINE)
    # better at every cut-off: mean difference −0.01, SE 0.001 → clear
    assert beats_baseline(cand({-1.0: 0.020, -1.3: 0.011, -1.7: 0.014}), base)
    # a lower mean from one lucky fold: d = (−0.03, +0.002, +0.002), mean −0.0087, SE 0.0107 → not clear
    assert not beats_baseline(cand({-1.0: 0.000, -1.3: 0.022, -1.7: 0.027}), base)
    # one shared fold, or a diverged fold, is never enough
    assert not beats_baseline(cand({-1.0: 0.001}), base)
    assert not beats_baseline(cand({-1.0: 0.020, -1.3: np.inf, -1.7: 0.014}), base)


def test_plain_fit_reports_its_fits_as_they_finish():
    """The progress callback of a plain fit ticks once per fit (all runs, then each backtest cut-off) and ends
    full even when the data allow fewer cut-offs than the most there can be."""
    from isoflop.analysis import FitOptions, analyse
    from isoflop.fitting.calibrate import MAX_FOLDS

    table = iso_design(ChinchillaLaw(E=1.82, A=482.0, B=2085.0, alpha=0.348, beta=0.366), 0.005, 0)
    seen = []
    result = analyse(table, FitOptions(), fit_progress=lambda done, total: seen.append((done, total)))
    total = 1 + MAX_FOLDS
    n_fits = 1 + result.calibration.n_folds
    assert seen[:n_fits] == [(k, total) for k in range(1, n_fits + 1)] and seen[-1] == (total, total)


def test_auto_backtests_the_choice_it_made():
    # Data from Kaplan's interaction form: auto picks another choice than the baseline, and the analysis's
    # backtest scores that choice (it used to fail on the form name "auto" and report no backtest at all).
    from isoflop.analysis import FitOptions, analyse

    truth = KaplanIrreducibleLaw(E=1.8, n_c=3e8, alpha_n=0.3, d_c=6e9, alpha_d=0.35)
    table = iso_design(truth, 0.005, 0)
    seen = []
    result = analyse(table, FitOptions(form="auto"), backtest_above=1e20,
                     fit_progress=lambda done, total: seen.append((done, total)))
    n = len(result.selection.candidates)
    assert seen == [(k, n) for k in range(1, n + 1)]  # the progress bar's ticks: one per candidate
    choice = result.selection.best.choice
    assert choice != BASELINE
    assert result.selection.reason.startswith(f"{choice.label} beats {BASELINE.label} by more than one standard")
    (bt,) = result.backtests
    below = table.flops < 1e20
    law = choice.fit(table.subset(below)).law  # oracle: the same choice refitted by hand
    test = table.subset(~below)
    err = np.abs(law.loss(test.n_params, test.n_tokens) / test.loss - 1)
    assert bt.form == choice.label and bt.n_test == int((~below).sum())
    assert bt.mean_abs_rel_error == pytest.approx(err.mean(), rel=1e-9)


def _fake_candidate(choice, cv_error, level, status="converged"):
    """A Candidate whose full fit reports ``status`` and identifiability ``level`` (what selection reads)."""
    from types import SimpleNamespace

    from isoflop.fitting.select import Candidate

    folds = {-1.0: cv_error, -1.3: cv_error * 1.1, -1.7: cv_error * 0.9}
    result = SimpleNamespace(status=status, identifiability=SimpleNamespace(level=level))
    return Candidate(choice, cv_error, len(folds), None, result, "", folds)


def test_auto_never_chooses_an_unidentified_candidate(monkeypatch):
    """A converged fit whose constants the runs cannot pin down backtests well by luck at best; the lowest CV
    error among identified candidates wins instead, and the table calls it unidentified, not "converged"."""
    import isoflop.fitting.select as select

    tied, envelope = FitChoice("chinchilla-tied"), FitChoice(asymmetry=0.8)
    fakes = {BASELINE: _fake_candidate(BASELINE, 0.030, "identified"),
             tied: _fake_candidate(tied, 0.005, "unidentified"),
             envelope: _fake_candidate(envelope, 0.010, "weakly identified", status="bound")}
    monkeypatch.setattr(select, "evaluate", lambda table, choice: fakes[choice])
    selection = select_fit(None, tuple(fakes))
    assert selection.best.choice == envelope  # tied has the lowest error but is unidentified
    rows = {c["label"]: c for c in selection.to_dict()["candidates"]}
    assert rows[tied.label]["verdict"] == "unidentified"
    assert rows[envelope.label]["verdict"] == "bound; weakly identified"
    assert rows[BASELINE.label]["verdict"] == "identified"


def test_auto_table_fits_80_columns_and_states_each_verdict(monkeypatch):
    from rich.console import Console

    import isoflop.cli.fitting as cli_fitting

    candidates = [_fake_candidate(c, 0.01 + 0.001 * i, "identified") for i, c in enumerate(CANDIDATES[:-1])]
    candidates.append(_fake_candidate(CANDIDATES[-1], 0.02, "unidentified", status="iteration limit"))
    selection = Selection(tuple(candidates), candidates[0], "reason")
    console = Console(width=80, record=True)
    monkeypatch.setattr(cli_fitting, "stdout", console)
    cli_fitting._print_selection(selection.to_dict())
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text  # nothing cut off
    assert "converged" not in text  # every row states its identifiability instead
    assert text.count("identified") == len(CANDIDATES) and "iteration limit;" in text and "unidentified" in text
    for c in CANDIDATES:  # every label survives, wrapped at its commas
        assert c.form in text
