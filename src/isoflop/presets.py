"""Published scaling laws by name, each with its source and the range it was fitted on.

Constants are quoted to the digits their sources give (see ORACLES.md in the project's shared notes).
``range_warnings`` says when a plan or diagnosis leaves a preset's stated range: past a break-down its
authors state (Kaplan et al. 2020: ~1e4 PF-days) or beyond the model sizes / token counts it was fitted on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .laws import RD_STAR_C4, RN_STAR_C4, ChinchillaLaw, DataConstrainedLaw, KaplanLaw, point_law
from .units import format_flops, format_number, format_quantity


PF_DAY = 1e15 * 86400  # one petaFLOP/s-day in FLOPs (Kaplan et al. 2020's compute unit): 8.64e19


@dataclass(frozen=True)
class ValidityRange:
    """Where a law was fitted (model sizes, token counts, in the law's parameter convention; ``source``) and,
    where its authors state one, the compute past which they expect it to break down (``max_flops``,
    ``max_flops_source``)."""

    n_params: tuple[float, float]
    n_tokens: tuple[float, float]
    source: str
    max_flops: float | None = None
    max_flops_source: str | None = None

    def to_dict(self) -> dict:
        return {"n_params": list(self.n_params), "n_tokens": list(self.n_tokens), "source": self.source,
                "max_flops": self.max_flops, "max_flops_source": self.max_flops_source}


@dataclass(frozen=True)
class Preset:
    law: ChinchillaLaw | KaplanLaw | DataConstrainedLaw
    citation: str
    note: str
    validity: ValidityRange | None = None

    @property
    def name(self) -> str:
        return self.law.name

    def to_dict(self) -> dict:
        return {"name": self.name, "law": self.law.to_dict(), "citation": self.citation, "note": self.note,
                "validity": None if self.validity is None else self.validity.to_dict()}


# Hoffmann et al. 2022 §3: "over 400 language models ranging from 70 million to over 16 billion parameters
# on 5 to 500 billion tokens"; Besiroglu et al. 2024 refit the same runs (digitised from Figure 4).
_CHINCHILLA_RANGE = ValidityRange(n_params=(7e7, 1.6e10), n_tokens=(5e9, 5e11),
                                  source="Hoffmann et al. 2022, §3: 70M to 16B parameters, 5B to 500B tokens")


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            ChinchillaLaw(E=1.69337368, A=406.401018, B=410.722827, alpha=0.33917084, beta=0.2849083,
                          name="hoffmann2022"),
            "Hoffmann et al. 2022, 'Training Compute-Optimal Large Language Models', approach 3 (eq. 10), "
            "unrounded constants as carried in Epoch AI's replication notebook",
            "Chinchilla approach 3; N counts all parameters.",
            _CHINCHILLA_RANGE,
        ),
        Preset(
            ChinchillaLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28, name="hoffmann2022-rounded"),
            "Hoffmann et al. 2022, 'Training Compute-Optimal Large Language Models', eq. 10 as printed",
            "Rounding moves the optimum: ~93 tokens/param at 5.76e23 FLOPs instead of ~59.",
            _CHINCHILLA_RANGE,
        ),
        Preset(
            ChinchillaLaw(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658, name="besiroglu2024"),
            "Besiroglu, Erdil, Barnett, You 2024, 'Chinchilla Scaling: A replication attempt', "
            "headline estimate (Huber fit to 240 points digitised from Chinchilla's Figure 4)",
            "Refit of Chinchilla's own data; consistent with ~20 tokens/param and approaches 1-2.",
            _CHINCHILLA_RANGE,
        ),
        Preset(
            DataConstrainedLaw(
                ChinchillaLaw(E=math.exp(0.6254804), A=math.exp(6.255414), B=math.exp(7.3049974),
                              alpha=0.3526596, beta=0.3526596, name="muennighoff2023"),
                rd_star=RD_STAR_C4, rn_star=RN_STAR_C4, name="muennighoff2023"),
            "Muennighoff et al. 2023, 'Scaling Data-Constrained Language Models', data-constrained law fitted "
            "on C4 (log-space a = 6.255414, b = 7.3049974, e = 0.6254804, alpha = beta = 0.3526596; "
            "R_D* = 15.387756, R_N* = 5.309743)",
            "Repeated data and excess parameters decay (R_D* = 15.39, R_N* = 5.31); without --unique-tokens "
            "it is the base single-epoch law.",
            ValidityRange(n_params=(1e7, 9e9), n_tokens=(1e8, 9e11),
                          source="Muennighoff et al. 2023, §1: models up to 9 billion parameters trained for up "
                                 "to 900 billion tokens (the smallest runs of their grid start near 10M params)"),
        ),
        Preset(
            KaplanLaw(n_c=6.4e13, alpha_n=0.076, d_c=1.8e13, alpha_d=0.103, name="kaplan2020"),
            "Kaplan et al. 2020, 'Scaling Laws for Neural Language Models', eq. 1.5 (= 4.1) with its joint fit, "
            "Table 2: alpha_N = 0.076, alpha_D = 0.103, N_c = 6.4e13, D_c = 1.8e13 tokens",
            "N is non-embedding parameters. Eq. 1.5 at convergence, minimised at fixed C = 6ND, gives "
            "N* ~ C^0.58 (alpha_D / (alpha_N + alpha_D)); the paper's compute-efficient N ~ C^0.73 (eq. 1.7 / 6.1) "
            "comes from its early-stopped L(N, S) analysis, not from eq. 1.5. The single-variable fits of "
            "eqs. 1.1-1.2 (Table 5: alpha_D = 0.095, N_c = 8.8e13, D_c = 5.4e13) are not this law.",
            ValidityRange(n_params=(768.0, 1.5e9), n_tokens=(2.2e7, 2.3e10),
                          source="Kaplan et al. 2020, §1-2: 768 to 1.5B non-embedding parameters, 22M to 23B tokens",
                          max_flops=1e4 * PF_DAY,
                          max_flops_source="Kaplan et al. 2020, §6.3: the laws must break down before ~1e4 "
                                           "PF-days (~1e12 parameters)"),
        ),
    ]
}


def get_law(name: str) -> ChinchillaLaw | KaplanLaw | DataConstrainedLaw:
    """The law of a preset by name; InputError listing the known names otherwise."""
    try:
        return PRESETS[name].law
    except KeyError:
        raise InputError(f"unknown law {name!r}; known laws: {', '.join(PRESETS)}") from None


def _outside(value, low, high):
    v = np.asarray(value, float)
    return bool(np.any(v < low) or np.any(v > high))


def warnings_for(law, **quantities) -> tuple[str, ...]:
    """``range_warnings`` when ``law`` is a published law itself (as `get_law` gives it); none for a fitted or
    hand-made law, whose distance from its runs `answers.py` and `fitting.predict` give instead. Every planner
    and prediction calls this, so Python and the CLI carry the same warnings."""
    preset = PRESETS.get(getattr(law, "name", None))
    return range_warnings(law.name, **quantities) if preset is not None and preset.law is law else ()


def convention_warnings(law) -> tuple[str, ...]:
    """A line when ``law`` does not count every parameter (Kaplan et al.'s non-embedding N): its n_params is
    not the model's size, and the plan's table said so nowhere."""
    law = point_law(law)
    convention = getattr(law, "param_convention", "total")
    if convention == "total":
        return ()
    how = {"non_embedding": "without embeddings: the model's total is larger by them",
           "active": "as those active per token: a mixture of experts' total is larger by its idle experts"}
    return (f"{law.name} counts n_params {how.get(convention, f'as {convention!r} parameters')}",)


# Muennighoff et al. 2023's own C4 runs (../shared/data/datablations_repeated_c4.csv: 2.8B-8.7B parameters, 1-44
# epochs) against the published repetition law: the loss's rise with repetition is tracked to ~7 epochs; at ~14
# epochs the measured rise was 1.0-1.8x the law's, at 44 epochs 2.4-2.7x (the law has no overfitting term).
REPETITION_TRACKED_EPOCHS = 7.0


def repetition_warnings(law, n_tokens, unique_tokens) -> tuple[str, ...]:
    """A line when a law with the published repetition constants (R_D* = 15.4, R_N* = 5.3: the preset, or a base
    law that borrows them to plan with unique data, ``laws.with_repetition``) is asked about more than
    REPETITION_TRACKED_EPOCHS epochs: its loss is optimistic there (1,000 epochs were planned with no word). A
    law whose repetition constants were fitted is left to its own runs' range."""
    law = point_law(law)
    borrowed = not isinstance(law, DataConstrainedLaw)
    if n_tokens is None or unique_tokens is None or not (borrowed or (law.rd_star, law.rn_star) == (RD_STAR_C4,
                                                                                                     RN_STAR_C4)):
        return ()
    epochs = float(np.max(np.asarray(n_tokens, float) / np.asarray(unique_tokens, float)))
    if not epochs > REPETITION_TRACKED_EPOCHS:
        return ()
    name = f"{law.name}+muennighoff2023-repetition" if borrowed else law.name
    return (f"{name}: {format_number(epochs, 3)} epochs over the unique data; past about "
            f"{REPETITION_TRACKED_EPOCHS:.0f}, Muennighoff et al.'s own C4 runs lost more to repetition than this "
            f"law predicts (the loss's rise was 1.0-1.8x the law's at 14 epochs, 2.4-2.7x at 44): its loss is "
            f"optimistic, and compute spent there gains less than it says",)


def range_warnings(name: str, *, flops=None, n_params=None, n_tokens=None, unique_tokens=None) -> tuple[str, ...]:
    """One warning line per quantity of a plan or diagnosis that leaves the preset's stated range.

    ``flops`` past ``max_flops`` (a break-down the authors state) and ``n_params`` / ``n_tokens`` outside the
    fitted range each give a line naming the preset, the value, the range and its source; so do
    ``unique_tokens`` below the least data it was fitted on (1,000 unique tokens planned 118 nats per token
    in silence). Scalars or arrays (a frontier); an unknown name raises InputError; a preset without a range
    gives no warnings.
    """
    try:
        validity = PRESETS[name].validity
    except KeyError:
        raise InputError(f"unknown law {name!r}; known laws: {', '.join(PRESETS)}") from None
    if validity is None:
        return ()
    out = []
    if flops is not None and validity.max_flops is not None and np.any(np.asarray(flops, float) > validity.max_flops):
        out.append(f"{name}: {format_flops(np.max(flops))} ({format_number(np.max(flops) / PF_DAY, 3)} PF-days) "
                   f"is past {format_flops(validity.max_flops)}, where the law is expected to break down "
                   f"({validity.max_flops_source})")
    for label, value, (low, high) in (("n_params", n_params, validity.n_params),
                                      ("n_tokens", n_tokens, validity.n_tokens)):
        if value is not None and _outside(value, low, high):
            shown = np.asarray(value, float)
            shown = shown.item() if shown.ndim == 0 else (shown.min() if np.any(shown < low) else shown.max())
            out.append(f"{name}: {label} {format_quantity(shown)} is outside {format_quantity(low)} to "
                       f"{format_quantity(high)}, the range the law was "
                       f"fitted on ({validity.source}): an extrapolation")
    least = validity.n_tokens[0]
    if unique_tokens is not None and np.any(np.asarray(unique_tokens, float) < least):
        out.append(f"{name}: unique_tokens {format_quantity(np.min(unique_tokens))} is below "
                   f"{format_quantity(least)}, the least data the law was fitted on ({validity.source}): an "
                   f"extrapolation, and losses there can exceed any a model would measure")
    return tuple(out)
