"""Bootstrap intervals: Epoch's published intervals, per-resample optimality and coverage of a known truth."""

import numpy as np
import pytest
from scipy.special import huber, logsumexp

from isoflop.fitting import fit, fit_arrays
from isoflop.fitting.bootstrap import bootstrap, resample_weights
from isoflop.fitting.io import load_fit
from isoflop.laws import ChinchillaLaw, LawEnsemble
from isoflop.runs import RunTable, parse_column_map
from tests.conftest import shared_file


@pytest.fixture(scope="module")
def epoch():
    table = RunTable.load(shared_file("chinchilla_epoch.csv"),
                          parse_column_map('n_params="Model Size",flops="Training FLOP"')).drop_highest_loss(5)
    result = fit(table)
    return table, result, bootstrap(result, table.loss, table.run_ids, n_resamples=1000, seed=0)


def test_epoch_intervals(epoch):
    _, _, boot = epoch
    assert boot.n_converged == 1000
    # Besiroglu et al. 2024: point estimates inside, widths within a factor two of theirs.
    published = {"E": (1.8172, 1.769, 1.871), "alpha": (0.3478, 0.317, 0.373), "beta": (0.3658, 0.331, 0.415)}
    for key, (point, lo, hi) in published.items():
        ours = boot.intervals[key]
        assert ours[0] < point < ours[1], key
        assert 0.5 < (ours[1] - ours[0]) / (hi - lo) < 2.0, key
    # a = β/(α+β): Epoch report 0.513 with standard error 0.020.
    a_lo, a_hi = boot.intervals["a"]
    assert a_lo < 0.513 < a_hi and 0.5 < (a_hi - a_lo) / (2 * 1.96 * 0.020) < 2.0


def test_each_resample_reaches_its_own_optimum(epoch):
    """A sample of resamples, refitted from scratch with a full multi-start, finds no lower objective."""
    table, result, _ = epoch
    _, _, boot = epoch
    weights = resample_weights(table.run_ids, 1000, np.random.default_rng(0))  # the fixture's draws (seed 0)
    for k in (0, 137, 512, 999):
        full = fit_arrays(table.loss, table.n_params, table.n_tokens, weights=weights[k], n_starts=16)
        members = boot.ensemble.members
        theta_k = [np.log(members.A[k, 0]), np.log(members.B[k, 0]), np.log(members.E[k, 0]),
                   members.alpha[k, 0], members.beta[k, 0]]
        mine = weighted_objective(theta_k, table, weights[k])
        assert mine <= full.objective * (1 + 1e-8)


def weighted_objective(theta, table, weights, delta=1e-3):
    """Σ_i w_i huber(δ, LSE(a − α log N, b − β log D, e) − log L), written with scipy."""
    a, b, e, alpha, beta = theta
    logn, logd = np.log(table.n_params), np.log(table.n_tokens)
    pred = logsumexp(np.stack([a - alpha * logn, b - beta * logd, np.full_like(logn, e)]), axis=0)
    return (weights * huber(delta, pred - np.log(table.loss))).sum()


def test_resampling_whole_runs():
    groups = np.array(["a", "a", "a", "b", "c", "c"])
    w = resample_weights(groups, 500, np.random.default_rng(1))
    assert w.shape == (500, 6)
    assert np.all(w[:, 0] == w[:, 1]) and np.all(w[:, 1] == w[:, 2]) and np.all(w[:, 4] == w[:, 5])
    counts = w[:, [0, 3, 4]]
    assert np.all(counts.sum(axis=1) == 3)  # three runs drawn per resample


def test_ensemble_roundtrip(tmp_path, epoch):
    import json

    table, result, boot = epoch
    path = tmp_path / "fit.json"
    path.write_text(json.dumps(dict(result.to_dict(), ensemble={k: v.tolist() for k, v in boot.samples.items()
                                                                if k in result.params})))
    loaded = load_fit(path)
    assert isinstance(loaded, LawEnsemble)
    assert loaded.members.alpha.shape == (1000, 1)
    assert loaded.point.alpha == pytest.approx(result.params["alpha"])


def test_coverage_on_synthetic_data():
    """Intervals from a known truth with noise cover it at roughly the nominal rate (small-scale check)."""
    truth = ChinchillaLaw(E=1.9, A=500.0, B=1500.0, alpha=0.35, beta=0.32)
    rng = np.random.default_rng(7)
    covered, trials = 0, 12
    for _ in range(trials):
        n = 10 ** rng.uniform(7, 10, 100)
        d = n * 10 ** rng.uniform(0, 2, 100)
        loss = truth.loss(n, d) * np.exp(rng.normal(0, 0.01, n.size))
        res = fit_arrays(loss, n, d)
        boot = bootstrap(res, loss, np.arange(n.size), n_resamples=200, seed=int(rng.integers(1 << 30)))
        lo, hi = boot.intervals["alpha"]
        covered += lo <= truth.alpha <= hi
    assert covered >= 8  # nominal 95 %: P(≤ 7 of 12) is below 1e-4
