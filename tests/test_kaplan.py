"""Kaplan et al. 2020 done right: Table 2's joint fit, its overfitting rule (eq. 4.4) and its stated range."""

import numpy as np
import pytest

from isoflop.errors import InputError
from isoflop.presets import PF_DAY, PRESETS, get_law, range_warnings


def overfitting_tokens(law, n_params, penalty=0.02):
    """The D at which L(N, D) / L(N, ∞) − 1 = penalty: eq. 1.5 solved for D at the loss (1 + penalty)·L(N, ∞)."""
    return law.n_tokens_for_loss(n_params, (1 + penalty) * law.loss(n_params, np.inf))


def test_eq_4_4_overfitting_rule_within_10_percent():
    # Kaplan et al. 2020, eq. 4.4: D ≳ (5 × 10^3) · N^0.74 keeps the overfitting penalty at or below ~2%.
    law = get_law("kaplan2020")
    n = np.logspace(7, 10, 13)
    ratio = overfitting_tokens(law, n) / (5e3 * n**0.74)
    assert np.all(np.abs(ratio - 1) < 0.10), ratio
    # ... and the exponent is α_N/α_D ≈ 0.74 (Kaplan et al. §4.2).
    slope = np.polyfit(np.log(n), np.log(overfitting_tokens(law, n)), 1)[0]
    assert slope == pytest.approx(0.74, abs=0.005)


def test_mixed_single_variable_constants_miss_eq_4_4():
    # The preset used to carry Table 5's single-variable constants (α_D = 0.095, N_c = 8.8e13, D_c = 5.4e13)
    # inside eq. 1.5: that puts the rule's exponent at 0.80 and misses eq. 4.4 by far more than 10%.
    from isoflop.laws import KaplanLaw
    mixed = KaplanLaw(n_c=8.8e13, alpha_n=0.076, d_c=5.4e13, alpha_d=0.095)
    n = np.logspace(7, 10, 13)
    ratio = overfitting_tokens(mixed, n) / (5e3 * n**0.74)
    assert np.max(np.abs(ratio - 1)) > 0.2


def test_planning_exponent_and_note():
    law = get_law("kaplan2020")
    assert law.n_params_exponent == pytest.approx(0.103 / (0.076 + 0.103), rel=1e-12)  # ≈ 0.58, not 0.73
    note = PRESETS["kaplan2020"].note
    assert "0.73" in note and "L(N, S)" in note and "eq. 1.7" in note
    assert "Table 2" in PRESETS["kaplan2020"].citation


def test_range_warnings():
    # Kaplan et al. §6.3: the laws must break down before ~1e4 PF-days; fitted on 768 to 1.5e9 parameters.
    assert range_warnings("kaplan2020", flops=1e4 * PF_DAY * 0.99, n_params=1e9, n_tokens=2e10) == ()
    warnings = range_warnings("kaplan2020", flops=1e24, n_params=1.75e11, n_tokens=3e11)
    assert len(warnings) == 3
    assert "PF-days" in warnings[0] and "break down" in warnings[0]
    assert "n_params 175B is outside 768 to 1.5B" in warnings[1] and "n_tokens 300B" in warnings[2]
    assert PF_DAY == 8.64e19
    # Arrays (a frontier) warn once per quantity.
    assert len(range_warnings("kaplan2020", flops=np.logspace(20, 25, 6))) == 1
    assert range_warnings("besiroglu2024", n_params=1e9, n_tokens=2e10) == ()
    assert len(range_warnings("besiroglu2024", n_params=7e10)) == 1  # Chinchilla-70B is past the fitted 16B
    with pytest.raises(InputError, match="known laws"):
        range_warnings("kaplan", flops=1e20)


def test_every_preset_states_a_range():
    for preset in PRESETS.values():
        assert preset.validity is not None and preset.validity.source
        assert preset.to_dict()["validity"]["n_params"][0] < preset.to_dict()["validity"]["n_params"][1]
