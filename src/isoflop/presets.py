"""Published scaling laws by name, each with its source.

Constants are quoted to the digits their sources give (see ORACLES.md in the project's shared notes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import InputError
from .laws import RD_STAR_C4, RN_STAR_C4, ChinchillaLaw, DataConstrainedLaw, KaplanLaw


@dataclass(frozen=True)
class Preset:
    law: ChinchillaLaw | KaplanLaw | DataConstrainedLaw
    citation: str
    note: str

    @property
    def name(self) -> str:
        return self.law.name

    def to_dict(self) -> dict:
        return {"name": self.name, "law": self.law.to_dict(), "citation": self.citation, "note": self.note}


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            ChinchillaLaw(E=1.69337368, A=406.401018, B=410.722827, alpha=0.33917084, beta=0.2849083,
                          name="hoffmann2022"),
            "Hoffmann et al. 2022, 'Training Compute-Optimal Large Language Models', approach 3 (eq. 10), "
            "unrounded constants as carried in Epoch AI's replication notebook",
            "Chinchilla approach 3; N counts all parameters.",
        ),
        Preset(
            ChinchillaLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28, name="hoffmann2022-rounded"),
            "Hoffmann et al. 2022, 'Training Compute-Optimal Large Language Models', eq. 10 as printed",
            "Rounding moves the optimum: ~93 tokens/param at 5.76e23 FLOPs instead of ~59.",
        ),
        Preset(
            ChinchillaLaw(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658, name="besiroglu2024"),
            "Besiroglu, Erdil, Barnett, You 2024, 'Chinchilla Scaling: A replication attempt', "
            "headline estimate (Huber fit to 240 points digitised from Chinchilla's Figure 4)",
            "Refit of Chinchilla's own data; consistent with ~20 tokens/param and approaches 1-2.",
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
        ),
        Preset(
            KaplanLaw(n_c=8.8e13, alpha_n=0.076, d_c=5.4e13, alpha_d=0.095, name="kaplan2020"),
            "Kaplan et al. 2020, 'Scaling Laws for Neural Language Models', eq. 1.5 and Table 2",
            "N is non-embedding parameters. Planning with eq. 1.5 gives N* ~ C^0.56; the paper's "
            "C^0.73 comes from its early-stopped L(N, S) analysis.",
        ),
    ]
}


def get_law(name: str) -> ChinchillaLaw | KaplanLaw | DataConstrainedLaw:
    """The law of a preset by name; InputError listing the known names otherwise."""
    try:
        return PRESETS[name].law
    except KeyError:
        raise InputError(f"unknown law {name!r}; known laws: {', '.join(PRESETS)}") from None
