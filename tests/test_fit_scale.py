"""Fit at scale: the start grid is scored in row chunks (memory independent of grid × rows), its least squares
run from normal equations, and large data sets search starts on a subsample; checked against scipy's NNLS,
direct sums, the known optimum of noise-free data and measured allocation growth."""

import itertools
import tracemalloc

import numpy as np
import pytest
from scipy.optimize import nnls

import isoflop.fitting.parametric as parametric
from isoflop.fitting import fit_arrays
from isoflop.fitting.optimize import huber

TRUE = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}  # Besiroglu et al. 2024


def synthetic(n, noise=0.0, seed=1):
    rng = np.random.default_rng(seed)
    N, D = 10 ** rng.uniform(7, 10, n), 10 ** rng.uniform(9, 12, n)
    loss = TRUE["E"] + TRUE["A"] / N ** TRUE["alpha"] + TRUE["B"] / D ** TRUE["beta"]
    loss = loss * np.exp(rng.normal(0, noise, n))
    return N, D, loss


def test_nnls_from_normal_equations_matches_scipy():
    rng = np.random.default_rng(0)
    G, n, m = 12, 300, 3
    Phi = rng.uniform(0, 2, (G, n, m))
    target = Phi @ np.array([1.0, -0.5, 2.0]) + rng.normal(0, 0.3, (G, n))  # a negative coefficient: active set
    w = rng.uniform(0.5, 2.0, n)
    design = lambda rows: (Phi[:, rows], target[:, rows], w[rows])  # noqa: E731
    ours = parametric._nnls_batch(*parametric._normal_equations(design, n, G, m))
    for g in range(G):
        sw = np.sqrt(w)
        expected, _ = nnls(Phi[g] * sw[:, None], target[g] * sw)
        np.testing.assert_allclose(ours[g], expected, atol=1e-9)


def test_normal_equations_do_not_depend_on_chunking(monkeypatch):
    rng = np.random.default_rng(2)
    G, n, m = 5, 1001, 2
    Phi, target, w = rng.uniform(0, 1, (G, n, m)), rng.uniform(0, 1, (G, n)), rng.uniform(0, 1, n)
    design = lambda rows: (Phi[:, rows], target[:, rows], w[rows])  # noqa: E731
    whole = parametric._normal_equations(design, n, G, m)
    monkeypatch.setattr(parametric, "_CHUNK_ELEMENTS", 7 * G * (m + 2))  # 7 rows per chunk: 143 chunks
    assert len(parametric._row_chunks(n, G * (m + 2))) == 143
    chunked = parametric._normal_equations(design, n, G, m)
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # brute force: XᵀWX of the first problem
    np.testing.assert_allclose(whole[0][0], (Phi[0].T * w) @ Phi[0], rtol=1e-12)


def test_chunked_objectives_equal_direct_sum(monkeypatch):
    N, D, loss = synthetic(997, noise=0.02)
    problem = parametric.build_problem("chinchilla", N, D, loss, None, np.ones_like(loss))
    log_loss = np.log(loss)
    monkeypatch.setattr(parametric, "_CHUNK_ELEMENTS", 50 * len(problem.starts))
    chunked = parametric._objectives(problem.model, problem.starts, log_loss, np.ones_like(loss), 1e-3)
    # independent: Σ huber(LSE(a − α log N, b − β log D, e) − log L) per start, all rows at once
    a, b, e, alpha, beta = problem.starts.T[:, :, None]
    logn, logd = np.log(N), np.log(D)
    pred = np.logaddexp(np.logaddexp(a - alpha * logn, b - beta * logd), e)
    direct = huber(pred - log_loss, 1e-3).sum(axis=1)
    np.testing.assert_allclose(chunked, direct, rtol=1e-10)


@pytest.mark.parametrize("form", ["chinchilla", "kaplan", "loss-vs-compute"])
def test_large_fit_takes_subsample_path_and_finds_exact_optimum(form):
    """Noise-free data from a known law: the optimum is that law (objective 0), found via the subsample search."""
    n = parametric._SUBSAMPLE_ROWS + 5_000
    N, D, _ = synthetic(n)
    if form == "chinchilla":
        loss = TRUE["E"] + TRUE["A"] / N ** TRUE["alpha"] + TRUE["B"] / D ** TRUE["beta"]
        expected = TRUE
    elif form == "kaplan":  # Kaplan et al. 2020 eq. 1.5 with their constants
        loss = ((8.8e13 / N) ** (0.076 / 0.095) + 5.4e13 / D) ** 0.095
        expected = {"n_c": 8.8e13, "alpha_n": 0.076, "d_c": 5.4e13, "alpha_d": 0.095}
    else:
        C = 6 * N * D
        loss = 1.7 + (3.1e8 / C) ** 0.05
        expected = {"E": 1.7, "C0": 3.1e8, "gamma": 0.05}
    result = fit_arrays(loss, N, D, 6 * N * D, form=form)
    assert result.n_points == n and result.objective < 1e-12
    for key, value in expected.items():
        assert result.params[key] == pytest.approx(value, rel=1e-4), key


def test_fit_memory_per_row_is_small():
    """Marginal peak allocation per extra row: the old start grid held (3, 196, n) arrays, ~24 KB per row."""

    def peak(n):
        N, D, loss = synthetic(n, noise=0.01)
        tracemalloc.start()
        fit_arrays(loss, N, D)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(25_000), peak(50_000)
    per_row = (large - small) / 25_000
    assert per_row < 2_000, f"{per_row:.0f} bytes per row"


def test_epoch_objective_unchanged_by_chunking(monkeypatch):
    """Tiny chunks on Epoch's 240 points: same optimum as one chunk (ORACLES.md: ≤ 0.0010182741)."""
    from isoflop.fitting import fit
    from isoflop.runs import RunTable, parse_column_map
    from tests.conftest import shared_file

    table = RunTable.load(shared_file("chinchilla_epoch.csv"),
                          parse_column_map('n_params="Model Size",flops="Training FLOP"')).drop_highest_loss(5)
    monkeypatch.setattr(parametric, "_CHUNK_ELEMENTS", 196 * 5 * 16)
    assert fit(table).objective <= 0.0010182741


def test_row_chunks_cover_every_row_once():
    for n, per_row in itertools.product([0, 1, 5, 4096, 10_007], [1, 3, 980, 10**7]):
        covered = np.concatenate([np.arange(n)[s] for s in parametric._row_chunks(n, per_row)] or [np.array([], int)])
        np.testing.assert_array_equal(covered, np.arange(n))
