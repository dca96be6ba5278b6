"""Named rules that derive batch size, peak learning rate and warm-up from a run's size and budget.

nanochat's idea: one dial (there ``--depth``) drives every other hyper-parameter through fixed, documented
rules, so a sweep varies what it means to vary and nothing else. Here the dials are the compute budget C
(FLOPs) and the model size N (parameters); each rule returns a ``Hyperparameters``.

- ``deepseek2024`` (default): DeepSeek-AI 2024, "DeepSeek LLM: Scaling Open-Source Language Models with
  Longtermism", §3.1, eq. 1 — fitted on compute-optimal runs from 1e17 to 3e20 FLOPs:
      η_opt = 0.3118 · C^(−0.1250)        B_opt = 0.2920 · C^(0.3271)  tokens per step.
  Both depend on the budget only, so all sizes of one IsoFLOP slice share batch and learning rate and the
  slice varies N against D alone. (DeepSeek count C with non-embedding FLOPs per token; we pass the
  budget as given. Far below 1e17 this is an extrapolation; it trains our tiny CPU models well, e.g. η ≈ 0.013
  and 1.2K tokens per step at 1e11 FLOPs.)
- ``kaplan2020``: Kaplan et al. 2020, "Scaling Laws for Neural Language Models", appendix D.6, eq. D.1:
      η(N) ≈ 0.003239 − 0.0001395 · ln N     (N non-embedding parameters; floored at 1e-4, since the fit
  turns negative past N ≈ 1e10), with DeepSeek's batch size as Kaplan's critical batch needs the loss.

Warm-up (both rules): N tokens — the short warm-up of Porian et al. 2024, "Resolving Discrepancies in
Compute-Optimal Scaling of Language Models" (§3.3), who show that a long fixed warm-up penalises small models
and bends the fitted exponent; the design caps it at a quarter of the run.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..errors import InputError


@dataclass(frozen=True)
class Hyperparameters:
    """``batch_tokens``: tokens per optimiser step; ``peak_lr``: AdamW peak learning rate; ``warmup_tokens``."""

    batch_tokens: float
    peak_lr: float
    warmup_tokens: float

    def to_dict(self) -> dict:
        return asdict(self)


def deepseek2024(n_params: float, flops: float, n_params_non_embedding: float | None = None) -> Hyperparameters:
    """DeepSeek LLM (2024) eq. 1: η = 0.3118·C^−0.125, B = 0.2920·C^0.3271 tokens; warm-up N tokens."""
    return Hyperparameters(batch_tokens=0.2920 * flops**0.3271, peak_lr=0.3118 * flops**-0.1250,
                           warmup_tokens=float(n_params))


def kaplan2020(n_params: float, flops: float, n_params_non_embedding: float | None = None) -> Hyperparameters:
    """Kaplan et al. (2020) eq. D.1: η = 0.003239 − 0.0001395·ln N_ne (≥ 1e-4); batch as deepseek2024."""
    n_ne = n_params if n_params_non_embedding is None else n_params_non_embedding
    lr = max(0.003239 - 0.0001395 * math.log(max(n_ne, 1.0)), 1e-4)
    return Hyperparameters(batch_tokens=0.2920 * flops**0.3271, peak_lr=lr, warmup_tokens=float(n_params))


RULES = {"deepseek2024": deepseek2024, "kaplan2020": kaplan2020}


def get_rule(name: str):
    try:
        return RULES[name]
    except KeyError:
        raise InputError(f"hyper_rule: unknown rule {name!r}; choose one of {', '.join(RULES)}") from None
