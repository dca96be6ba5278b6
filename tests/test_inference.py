"""Inference-aware allocation (Sardana et al. 2024) against a brute-force 2-D search and its limiting cases."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isoflop.errors import InputError
from isoflop.hardware import Cluster, get_accelerator
from isoflop.laws import ChinchillaLaw
from isoflop.planning import compute_optimal, inference_optimal, min_flops_for_loss
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
    plan = inference_optimal(law, inference_tokens, match_flops=flops)
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
    plan = inference_optimal(BESIROGLU, 3e12, match_flops=1e23, usd_per_training_flop=train.usd_per_flop,
                             usd_per_inference_flop=serve.usd_per_flop)
    n_bf, _, usd_bf = brute_force(BESIROGLU, co.loss, 3e12, co.n_params, co.n_tokens,
                                  train.usd_per_flop, serve.usd_per_flop)
    assert plan.total_usd <= usd_bf * (1 + 1e-12) and plan.total_usd == pytest.approx(usd_bf, rel=2e-3)
    assert plan.n_params == pytest.approx(n_bf, rel=0.03)
    # Dearer inference pushes towards a smaller model than the FLOP-only plan.
    assert plan.n_params < inference_optimal(BESIROGLU, 3e12, match_flops=1e23).n_params
    out = plan.to_dict()
    assert out["total_usd"] == pytest.approx(out["training_usd"] + out["inference_usd"])
    assert out["total_usd"] <= out["compute_optimal_total_usd"]
    # saved_fraction stays lifetime FLOPs, as in every inference plan; the dollars saved have their own field
    assert out["saved_fraction"] == pytest.approx(1 - out["total_flops"] / out["compute_optimal_total_flops"])
    assert out["saved_usd_fraction"] == pytest.approx(1 - out["total_usd"] / out["compute_optimal_total_usd"])


@pytest.mark.parametrize("name", ["besiroglu2024", "hoffmann2022", "kaplan2020", "muennighoff2023"])
def test_zero_inference_is_compute_optimal(name):
    law = get_law(name)
    budgets = np.logspace(19, 25, 7)
    plan, co = inference_optimal(law, 0.0, match_flops=budgets), compute_optimal(law, budgets)
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
    plan = inference_optimal(law, tokens, match_flops=10.0**log10_flops)
    assert np.all(np.diff(plan.n_params) <= 1e-9 * plan.n_params[1:])
    assert np.all(plan.n_params <= plan.compute_optimal.n_params * (1 + 1e-9))
    np.testing.assert_allclose(plan.loss, plan.compute_optimal.loss, rtol=1e-9)
    assert np.all(plan.total_flops <= plan.compute_optimal_total_flops * (1 + 1e-12))


def test_negligible_inference_never_costs_more_than_the_compute_optimal_run():
    """Hypothesis found it: with 1e9 inference tokens against a 1e25-FLOP model the optimum is the compute-optimal
    run itself, and the bisection's point, its D from inverting the loss, cost 7.2e-12 more."""
    law = ChinchillaLaw(E=1.0, A=50.0, B=56.0, alpha=0.6875, beta=0.5)
    plan = inference_optimal(law, np.array([1e9, 1e9]), match_flops=1e25)
    assert np.all(plan.total_flops <= plan.compute_optimal_total_flops)
    np.testing.assert_allclose(plan.n_params, plan.compute_optimal.n_params, rtol=1e-9)


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
    with pytest.raises(InputError, match="inference_tokens"):
        inference_optimal(BESIROGLU, -1.0, match_flops=1e22)
    with pytest.raises(InputError, match="both"):
        inference_optimal(BESIROGLU, 1e12, match_flops=1e22, usd_per_training_flop=1e-18)
    with pytest.raises(InputError, match="irreducible"):
        inference_optimal(BESIROGLU, 1e12, target_loss=1.5)


# Sardana et al. 2024 ("Beyond Chinchilla-Optimal") plan with Chinchilla's approach-3 form and
# A = 406.4, B = 410.7, E = 1.69, α = 0.336, β = 0.283, minimising 6·N·D + 2·N·D_inf in FLOPs (no request
# model: request counts and tokens per request enter only their dollar-cost analysis). The paper's section
# with the constants is not in the stored search corpus; these exponents were identified as the ones that
# reproduce all of the independent published numbers below at once (with eq. 10's rounded 0.34 / 0.28 the
# 13B example gives 8.0B and a 70B model is compute-optimal at 109 tokens/param, not 61). Where each number
# comes from:
# - 13B Chinchilla-quality, 2T inference tokens → 7B, 1.7e22 FLOPs (17%) saved: the paper's Figure 1 caption
#   (quoted in the liner.com review of arXiv 2401.00448).
# - 70B Chinchilla-quality at 4.26T tokens (61:1) → 41.6B on 7,920B tokens (190:1): arXiv v1, as quoted by
#   lifearchitect.ai/chinchilla; the 1e13 inference tokens are those that give 7,920B, and ~12% is the issue's.
# - 7B → 6B at 1e11 tokens and 30B → 13.6B saving 28% at 1e13: the paper's text as quoted in issue 11.
SARDANA = ChinchillaLaw(E=1.69, A=406.4, B=410.7, alpha=0.336, beta=0.283, name="sardana2024")


@pytest.mark.parametrize("n_params,inference_tokens,expected_n_params,expected_saving", [
    (13e9, 2e12, 7e9, 0.17),      # Figure 1: 13B Chinchilla-quality, 2T tokens of demand → 7B, 17% (1.7e22) saved
    (7e9, 1e11, 6e9, None),       # a 7B model serving 1e11 tokens → ~6B
    (30e9, 1e13, 13.6e9, 0.28),   # 30B Chinchilla-quality, 1e13 tokens → 13.6B, 28% fewer FLOPs
    (70e9, 1e13, 41.6e9, 0.12),   # 70B (4.26T tokens) → 41.6B on 7,920B tokens, ~12% saved
])
def test_sardana_worked_examples(n_params, inference_tokens, expected_n_params, expected_saving):
    plan = inference_optimal(SARDANA, inference_tokens, n_params=n_params)
    assert plan.compute_optimal.n_params == pytest.approx(n_params, rel=1e-9)
    assert plan.loss == pytest.approx(plan.compute_optimal.loss, rel=1e-12)
    assert plan.n_params == pytest.approx(expected_n_params, rel=0.01)
    if expected_saving is not None:  # savings to the paper's whole percent
        assert plan.saved_fraction == pytest.approx(expected_saving, abs=0.005)


def test_sardana_reference_points():
    # The 70B Chinchilla-quality model trains on 4.26T tokens (61:1); the replacement on 7,920B (190:1).
    plan = inference_optimal(SARDANA, 1e13, n_params=70e9)
    assert plan.compute_optimal.n_tokens == pytest.approx(4.26e12, rel=0.01)
    assert plan.n_tokens == pytest.approx(7.92e12, rel=0.01)
    # Figure 1: the 13B example saves 1.7e22 FLOPs in absolute terms.
    small = inference_optimal(SARDANA, 2e12, n_params=13e9)
    assert small.compute_optimal_total_flops - small.total_flops == pytest.approx(1.7e22, rel=0.05)


def test_match_flops_names_the_target_not_the_budget():
    # The quality of the compute-optimal run at 1e23 FLOPs, served for 10T tokens: the plan itself trains
    # with MORE than 1e23 FLOPs, and says so in `flops` (its training FLOPs).
    plan = inference_optimal(BESIROGLU, 1e13, match_flops=1e23)
    assert plan.compute_optimal.flops == pytest.approx(1e23, rel=1e-12)
    assert plan.flops > 1e23 and plan.flops == pytest.approx(6 * plan.n_params * plan.n_tokens)
    with pytest.raises(InputError, match="exactly one"):
        inference_optimal(BESIROGLU, 1e13, match_flops=1e23, n_params=1e9)


def test_n_params_target_is_the_compute_optimal_model_of_that_size():
    plan = inference_optimal(BESIROGLU, 0.0, n_params=13e9)
    assert plan.n_params == pytest.approx(13e9, rel=1e-9)  # no inference: the compute-optimal 13B itself
    with pytest.raises(InputError, match="n_params"):
        inference_optimal(BESIROGLU, 1e12, n_params=-1.0)


def test_warns_past_10000_tokens_per_param():
    # Sardana et al. validated their law up to ~10,000 tokens per parameter.
    modest = inference_optimal(BESIROGLU, 2e12, n_params=13e9)
    assert modest.tokens_per_param < 1e4 and modest.warnings == ()
    extreme = inference_optimal(BESIROGLU, 1e17, n_params=1e9)
    assert extreme.tokens_per_param > 1e4
    assert len(extreme.warnings) == 1 and "10,000" in extreme.warnings[0]
    assert extreme.to_dict()["warnings"] == list(extreme.warnings)


def test_an_inference_aware_plan_keeps_the_size_floor_every_plan_has():
    """`plan --params 1` is refused (below 1,000 parameters), but with --inference-tokens it planned a 0.147-
    parameter model at 942 nats, and --match-flops 1e8 a 90-parameter one, exit 0. The oracle for the second
    case: lifetime compute 6·N·D(N) + 2·N·T minimised by brute force over sizes along the iso-loss curve of
    the compute-optimal run at 1e9 FLOPs (itself above the floor)."""
    import isoflop

    with pytest.raises(InputError, match="n_params 1 is below 1,000"):
        isoflop.plan("besiroglu2024", inference_tokens=1e12, n_params=1)
    law = get_law("besiroglu2024")
    assert isoflop.plan("besiroglu2024", flops=1e9).n_params >= 1_000
    target = law.loss(*law.compute_optimal(1e9))
    sizes = np.geomspace(1, 1e5, 200_001)
    with np.errstate(invalid="ignore", divide="ignore"):
        tokens = law.n_tokens_for_loss(sizes, target)
    lifetime = np.where(np.isfinite(tokens), 6 * sizes * tokens + 2 * sizes * 1e12, np.inf)
    assert sizes[np.argmin(lifetime)] < 1_000  # the least-cost model really is below the floor
    with pytest.raises(InputError, match="inference-aware plan .* below 1,000"):
        isoflop.plan("besiroglu2024", inference_tokens=1e12, match_flops=1e9)
    assert isoflop.plan("besiroglu2024", inference_tokens=1e6, match_flops=1e12).n_params >= 1_000  # above: planned
