"""Laws and presets against ../shared/ORACLES.md and against brute-force minimisation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from isoflop.errors import InputError
from isoflop.laws import ChinchillaLaw, KaplanLaw
from isoflop.planning import compute_optimal
from isoflop.presets import PRESETS, get_law

# (law, flops, N*, D*, L*) — ORACLES.md "Derived" rows; tolerance 0.5 %.
DERIVED = [
    ("hoffmann2022-rounded", 5.76e23, 3.219e10, 2.982e12, 1.9307),
    ("hoffmann2022-rounded", 1e21, 1.824e9, 9.136e10, None),
    ("hoffmann2022", 5.76e23, 4.036e10, 2.379e12, 1.9184),
    ("besiroglu2024", 5.76e23, 7.225e10, 1.329e12, 1.9744),
    ("muennighoff2023", 5.76e23, 6.996e10, 1.372e12, None),
]


@pytest.mark.parametrize("name,flops,n_opt,d_opt,loss_opt", DERIVED)
def test_derived_allocations(name, flops, n_opt, d_opt, loss_opt):
    alloc = compute_optimal(get_law(name), flops)
    assert alloc.n_params == pytest.approx(n_opt, rel=5e-3)
    assert alloc.n_tokens == pytest.approx(d_opt, rel=5e-3)
    if loss_opt is not None:
        assert alloc.loss == pytest.approx(loss_opt, rel=5e-3)


def test_tokens_per_param_oracles():
    assert compute_optimal(get_law("hoffmann2022-rounded"), 5.76e23).tokens_per_param == pytest.approx(92.7, rel=5e-3)
    assert compute_optimal(get_law("hoffmann2022"), 5.76e23).tokens_per_param == pytest.approx(58.9, rel=5e-3)
    assert compute_optimal(get_law("besiroglu2024"), 5.76e23).tokens_per_param == pytest.approx(18.4, rel=5e-3)


def test_preset_constants_as_published():
    h = get_law("hoffmann2022-rounded")
    assert (h.E, h.A, h.B, h.alpha, h.beta) == (1.69, 406.4, 410.7, 0.34, 0.28)
    m = get_law("muennighoff2023")
    assert m.base.A == pytest.approx(math.exp(6.255414)) and m.base.B == pytest.approx(math.exp(7.3049974))
    assert m.base.E == pytest.approx(math.exp(0.6254804)) and m.base.alpha == m.base.beta == 0.3526596
    k = get_law("kaplan2020")  # Kaplan et al. 2020, Table 2: the joint fit of eq. 1.5 (not Table 5's)
    assert (k.n_c, k.alpha_n, k.d_c, k.alpha_d) == (6.4e13, 0.076, 1.8e13, 0.103)
    assert all(p.citation for p in PRESETS.values())


def test_approach3_exponents():
    # Hoffmann et al. 2022: approach 3 gives N* ∝ C^0.46, D* ∝ C^0.54; Epoch's refit gives 0.513.
    assert get_law("hoffmann2022").n_params_exponent == pytest.approx(0.46, abs=0.005)
    assert get_law("hoffmann2022").n_tokens_exponent == pytest.approx(0.54, abs=0.005)
    assert get_law("besiroglu2024").n_params_exponent == pytest.approx(0.513, abs=0.001)


def test_unknown_law():
    with pytest.raises(InputError, match="known laws"):
        get_law("chinchila")


def _brute_force_n_opt(law, flops):
    """Minimise L(N, C/6N) over log N with a bounded scalar search."""
    res = minimize_scalar(lambda logn: float(law.loss(math.exp(logn), flops / (6 * math.exp(logn)))),
                          bounds=(math.log(1e2), math.log(flops / 6 / 1e2)), method="bounded",
                          options={"xatol": 1e-10})
    return math.exp(res.x)


laws = st.builds(
    ChinchillaLaw,
    E=st.floats(0.5, 3.0), A=st.floats(10, 5e3), B=st.floats(10, 5e3),
    alpha=st.floats(0.1, 0.8), beta=st.floats(0.1, 0.8),
)


@settings(max_examples=60, deadline=None)
@given(law=laws, log10_flops=st.floats(16, 26))
def test_closed_form_matches_brute_force(law, log10_flops):
    flops = 10.0**log10_flops
    n_opt, d_opt = law.compute_optimal(flops)
    assert 6 * n_opt * d_opt == pytest.approx(flops, rel=1e-12)
    if not 1e3 < n_opt < flops / 6 / 1e3:
        return  # optimum too close to the search bounds for a fair brute-force comparison
    n_brute = _brute_force_n_opt(law, flops)
    # The closed form is never beaten, and the search lands on it (up to the flatness of the valley).
    assert law.loss(n_opt, d_opt) <= law.loss(n_brute, flops / (6 * n_brute)) * (1 + 1e-13)
    assert n_opt == pytest.approx(n_brute, rel=1e-3)


@settings(max_examples=30, deadline=None)
@given(alpha_n=st.floats(0.03, 0.3), alpha_d=st.floats(0.03, 0.3), log10_flops=st.floats(18, 26))
def test_kaplan_closed_form_matches_brute_force(alpha_n, alpha_d, log10_flops):
    law = KaplanLaw(n_c=8.8e13, alpha_n=alpha_n, d_c=5.4e13, alpha_d=alpha_d)
    flops = 10.0**log10_flops
    n_opt, _ = law.compute_optimal(flops)
    if not 1e3 < n_opt < flops / 6 / 1e3:
        return
    assert n_opt == pytest.approx(_brute_force_n_opt(law, flops), rel=1e-4)


def test_kaplan_formula():
    law = get_law("kaplan2020")
    n, d = 1e9, 2e10
    expected = ((6.4e13 / n) ** (0.076 / 0.103) + 1.8e13 / d) ** 0.103
    assert law.loss(n, d) == pytest.approx(expected, rel=1e-14)
    # With D → ∞ eq. 1.5 reduces to the form of L(N) = (N_c/N)^α_N (Kaplan et al. eq. 1.1).
    assert law.loss(n, 1e40) == pytest.approx((6.4e13 / n) ** 0.076, rel=1e-9)


@pytest.mark.parametrize("law", [get_law("hoffmann2022"), get_law("kaplan2020")], ids=lambda l: l.name)
def test_log_derivatives_match_finite_differences(law):
    n, d, h = 3e9, 7e10, 1e-6
    num_n = (law.loss(n * math.exp(h), d) - law.loss(n * math.exp(-h), d)) / (2 * h)
    num_d = (law.loss(n, d * math.exp(h)) - law.loss(n, d * math.exp(-h))) / (2 * h)
    assert law.dloss_dlog_n_params(n, d) == pytest.approx(num_n, rel=1e-6)
    assert law.dloss_dlog_n_tokens(n, d) == pytest.approx(num_d, rel=1e-6)


def test_ensemble_parameters_broadcast():
    # A law whose constants are (k, 1) arrays evaluates k members against m inputs → (k, m).
    law = ChinchillaLaw(E=np.array([[1.8], [1.9]]), A=400.0, B=np.array([[400.0], [2000.0]]), alpha=0.34, beta=0.3)
    n, d = law.compute_optimal(np.array([1e20, 1e22, 1e24]))
    assert n.shape == (2, 3)
    single = ChinchillaLaw(E=1.9, A=400.0, B=2000.0, alpha=0.34, beta=0.3)
    np.testing.assert_allclose(n[1], single.compute_optimal(np.array([1e20, 1e22, 1e24]))[0], rtol=1e-14)
