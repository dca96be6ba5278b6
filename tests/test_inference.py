"""Inference-aware allocation (Sardana et al. 2024) against a brute-force 2-D search and its limiting cases."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isoflop.errors import InputError
from isoflop.hardware import Cluster, get_accelerator
from isoflop.laws import ChinchillaLaw
from isoflop.plan import compute_optimal, inference_optimal, min_flops_for_loss
from isoflop.presets import get_law

BESIROGLU = get_law("besiroglu2024")


def brute_force(law, target, inference_tokens, n_center, d_center, train_price=1.0, inference_price=1.0):
    """Minimise price-weighted 6·N·D + 2·N·T over a 2000 × 2000 log grid of (N, D) with L(N, D) ≤ target."""
    log_n = np.log(n_center) + np.linspace(-6.0, 1.0, 2000)
    log_d = np.log(d_center) + np.linspace(-1.0, 9.0, 2000)
    n, d = np.exp(log_n)[:, None], np.exp(log_d)[None, :]
    cost = train_price * 6 * n * d + inference_price * 2 * n * inference_tokens
    cost = np.where(law.loss(n, d) <= target, cost, np.inf)
    i, j = np.unravel_index(np.argmin(cost), cost.shape)
    return float(n[i, 0]), float(d[0, j]), float(cost[i, j])


@pytest.mark.parametrize("name,flops,inference_tokens", [
    ("besiroglu2024", 1e22, 1e13), ("besiroglu2024", 1e24, 2e12), ("hoffmann2022", 1e23, 5e13),
    ("muennighoff2023", 1e21, 1e12), ("kaplan2020", 1e22, 1e13),
])
def test_matches_brute_force_2d_search(name, flops, inference_tokens):
    law = get_law(name)
    plan = inference_optimal(law, inference_tokens, flops=flops)
    co = compute_optimal(law, flops)
    n_bf, d_bf, cost_bf = brute_force(law, co.loss, inference_tokens, co.n_params, co.n_tokens)
    assert plan.loss == pytest.approx(co.loss, rel=1e-12)  # same quality as the compute-optimal model
    assert plan.total_flops <= cost_bf * (1 + 1e-12)  # exact constraint beats every feasible grid point
    assert plan.total_flops == pytest.approx(cost_bf, rel=2e-3)
    assert plan.n_params == pytest.approx(n_bf, rel=0.03)
    assert plan.n_tokens == pytest.approx(d_bf, rel=0.03)
    assert plan.total_flops == pytest.approx(6 * plan.n_params * plan.n_tokens + 2 * plan.n_params * inference_tokens)


def test_cost_weighted_matches_brute_force():
    # Training at 40 % MFU and serving at 10 % MFU on the same GPUs: an inference FLOP costs 4× a training one.
    h100 = get_accelerator("h100-sxm")
    train, serve = Cluster(h100, mfu=0.4, usd_per_gpu_hour=2.5), Cluster(h100, mfu=0.1, usd_per_gpu_hour=2.5)
    assert serve.usd_per_flop == pytest.approx(4 * train.usd_per_flop)
    co = compute_optimal(BESIROGLU, 1e23)
    plan = inference_optimal(BESIROGLU, 3e12, flops=1e23, usd_per_training_flop=train.usd_per_flop,
                             usd_per_inference_flop=serve.usd_per_flop)
    n_bf, _, usd_bf = brute_force(BESIROGLU, co.loss, 3e12, co.n_params, co.n_tokens,
                                  train.usd_per_flop, serve.usd_per_flop)
    assert plan.total_usd <= usd_bf * (1 + 1e-12) and plan.total_usd == pytest.approx(usd_bf, rel=2e-3)
    assert plan.n_params == pytest.approx(n_bf, rel=0.03)
    # Dearer inference pushes towards a smaller model than the FLOP-only plan.
    assert plan.n_params < inference_optimal(BESIROGLU, 3e12, flops=1e23).n_params
    out = plan.to_dict()
    assert out["total_usd"] == pytest.approx(out["training_usd"] + out["inference_usd"])
    assert out["total_usd"] <= out["compute_optimal_total_usd"]


@pytest.mark.parametrize("name", ["besiroglu2024", "hoffmann2022", "kaplan2020", "muennighoff2023"])
def test_zero_inference_is_compute_optimal(name):
    law = get_law(name)
    budgets = np.logspace(19, 25, 7)
    plan, co = inference_optimal(law, 0.0, flops=budgets), compute_optimal(law, budgets)
    np.testing.assert_allclose(plan.n_params, co.n_params, rtol=1e-9)
    np.testing.assert_allclose(plan.n_tokens, co.n_tokens, rtol=1e-9)
    by_target = inference_optimal(law, 0.0, target_loss=float(co.loss[3]))
    assert by_target.n_params == pytest.approx(co.n_params[3], rel=1e-9)


laws = st.builds(ChinchillaLaw, E=st.floats(0.5, 3.0), A=st.floats(50, 5e3), B=st.floats(50, 5e3),
                 alpha=st.floats(0.15, 0.7), beta=st.floats(0.15, 0.7))


@settings(max_examples=40, deadline=None)
@given(law=laws, log10_flops=st.floats(19, 25), log10_tokens=st.lists(st.floats(9, 15), min_size=2, max_size=6))
def test_more_inference_never_means_a_larger_model(law, log10_flops, log10_tokens):
    tokens = np.sort(10.0 ** np.array(log10_tokens))
    plan = inference_optimal(law, tokens, flops=10.0**log10_flops)
    assert np.all(np.diff(plan.n_params) <= 1e-9 * plan.n_params[1:])
    assert np.all(plan.n_params <= plan.compute_optimal.n_params * (1 + 1e-9))
    np.testing.assert_allclose(plan.loss, plan.compute_optimal.loss, rtol=1e-9)
    assert np.all(plan.total_flops <= plan.compute_optimal_total_flops * (1 + 1e-12))


def test_target_loss_mode_and_report():
    plan = inference_optimal(BESIROGLU, 2e13, target_loss=2.0)
    ref = min_flops_for_loss(BESIROGLU, 2.0)
    assert plan.loss == pytest.approx(2.0, rel=1e-12)
    assert plan.n_params < ref.n_params and plan.flops > ref.flops  # smaller model, trained longer
    out = plan.to_dict()
    assert set(out) >= {"flops", "n_params", "n_tokens", "tokens_per_param", "loss", "law", "inference_tokens",
                        "inference_flops", "total_flops", "compute_optimal", "saved_fraction"}
    assert 0 < out["saved_fraction"] < 1


def test_bad_inputs():
    with pytest.raises(InputError, match="exactly one"):
        inference_optimal(BESIROGLU, 1e12)
    with pytest.raises(InputError, match="inference tokens"):
        inference_optimal(BESIROGLU, -1.0, flops=1e22)
    with pytest.raises(InputError, match="both"):
        inference_optimal(BESIROGLU, 1e12, flops=1e22, usd_per_training_flop=1e-18)
    with pytest.raises(InputError, match="irreducible"):
        inference_optimal(BESIROGLU, 1e12, target_loss=1.5)
