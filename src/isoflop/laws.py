"""Scaling laws: expected loss (nats/token) as a function of parameters and training tokens.

Each law is a frozen dataclass of its constants. The constants may be floats or NumPy arrays: an array of
shape (k, 1) holds a k-member ensemble (e.g. bootstrap resamples), and every formula below broadcasts it
against inputs of shape (m,) into results of shape (k, m).

All parametric (N, D) laws share one small surface, which the planners in `plan.py` rely on:
``loss(n_params, n_tokens)``, ``dloss_dlog_n_params``, ``dloss_dlog_n_tokens`` and
``compute_optimal(flops) -> (n_params, n_tokens)`` under the convention C = 6·N·D.

References
- Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models" (Chinchilla): eq. 2 (the form
  L = E + A/N^α + B/D^β) and eq. 4 (its compute-optimal frontier).
- Kaplan et al. 2020, "Scaling Laws for Neural Language Models": eq. 1.5 (the joint form L(N, D)) and
  eq. 1.3 (loss against compute).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FLOPS_PER_PARAM_TOKEN = 6.0  # C = 6·N·D: forward 2 FLOPs and backward 4 FLOPs per parameter per token


def _as_float(x):
    """Scalars stay Python floats (readable reprs, JSON), arrays become float arrays."""
    arr = np.asarray(x, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


@dataclass(frozen=True)
class ChinchillaLaw:
    """L(N, D) = E + A / N^α + B / D^β  (Hoffmann et al. 2022, eq. 2).

    N is ``n_params`` (counted as ``param_convention`` says; Hoffmann counted all parameters, embeddings
    included), D is ``n_tokens`` (training tokens seen), L is in nats per token. E is the irreducible loss,
    A/N^α the excess from finite capacity and B/D^β the excess from finite data.
    """

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    param_convention: str = "total"
    name: str = "custom"
    kind: str = field(default="chinchilla", init=False)

    def __post_init__(self):
        for name in ("E", "A", "B", "alpha", "beta"):
            object.__setattr__(self, name, _as_float(getattr(self, name)))

    @property
    def irreducible_loss(self):
        return self.E

    def loss(self, n_params, n_tokens):
        N, D = np.asarray(n_params, float), np.asarray(n_tokens, float)
        return self.E + self.A / N**self.alpha + self.B / D**self.beta

    def dloss_dlog_n_params(self, n_params, n_tokens=None):
        """∂L/∂log N = −α·A/N^α (independent of D)."""
        return -self.alpha * self.A / np.asarray(n_params, float) ** self.alpha

    def dloss_dlog_n_tokens(self, n_params, n_tokens):
        """∂L/∂log D = −β·B/D^β (independent of N)."""
        return -self.beta * self.B / np.asarray(n_tokens, float) ** self.beta

    @property
    def n_params_exponent(self):
        """a in N*(C) ∝ C^a: a = β/(α+β) (Hoffmann et al. 2022, eq. 4)."""
        return self.beta / (self.alpha + self.beta)

    @property
    def n_tokens_exponent(self):
        """b in D*(C) ∝ C^b: b = α/(α+β) = 1 − a."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def G(self):
        """G = (α·A / (β·B))^(1/(α+β)) (Hoffmann et al. 2022, eq. 4)."""
        return (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))

    def compute_optimal(self, flops):
        """Closed-form minimiser of L subject to 6·N·D = C (Hoffmann et al. 2022, eq. 4):

        N*(C) = G·(C/6)^(β/(α+β)),  D*(C) = G⁻¹·(C/6)^(α/(α+β)).  Returns (n_params, n_tokens).
        """
        c6 = np.asarray(flops, float) / FLOPS_PER_PARAM_TOKEN
        return self.G * c6**self.n_params_exponent, c6**self.n_tokens_exponent / self.G

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "E": self.E, "A": self.A, "B": self.B, "alpha": self.alpha,
                "beta": self.beta, "param_convention": self.param_convention}


@dataclass(frozen=True)
class KaplanLaw:
    """L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D  (Kaplan et al. 2020, eq. 1.5).

    N is non-embedding parameters, D training tokens. There is no irreducible term: L → 0 as N, D → ∞.
    Minimising this form at fixed C = 6·N·D gives N* ∝ C^(α_D/(α_N+α_D)) ≈ C^0.56, not the C^0.73 that
    Kaplan et al. report: their 0.73 comes from L(N, S_min) with early stopping and their critical batch
    size (section 6), not from eq. 1.5. We plan with eq. 1.5 and say so.
    """

    n_c: float
    alpha_n: float
    d_c: float
    alpha_d: float
    param_convention: str = "non_embedding"
    name: str = "custom"
    kind: str = field(default="kaplan", init=False)

    def __post_init__(self):
        for name in ("n_c", "alpha_n", "d_c", "alpha_d"):
            object.__setattr__(self, name, _as_float(getattr(self, name)))

    @property
    def _p(self):
        return self.alpha_n / self.alpha_d

    def _inner(self, n_params, n_tokens):
        N, D = np.asarray(n_params, float), np.asarray(n_tokens, float)
        return (self.n_c / N) ** self._p + self.d_c / D

    irreducible_loss = 0.0

    def loss(self, n_params, n_tokens):
        return self._inner(n_params, n_tokens) ** self.alpha_d

    def dloss_dlog_n_params(self, n_params, n_tokens):
        """∂L/∂log N = −α_N · S^(α_D−1) · (N_c/N)^(α_N/α_D), with S the bracket of eq. 1.5."""
        S = self._inner(n_params, n_tokens)
        return -self.alpha_n * S ** (self.alpha_d - 1) * (self.n_c / np.asarray(n_params, float)) ** self._p

    def dloss_dlog_n_tokens(self, n_params, n_tokens):
        """∂L/∂log D = −α_D · S^(α_D−1) · D_c/D."""
        S = self._inner(n_params, n_tokens)
        return -self.alpha_d * S ** (self.alpha_d - 1) * self.d_c / np.asarray(n_tokens, float)

    @property
    def n_params_exponent(self):
        return 1.0 / (1.0 + self._p)

    @property
    def n_tokens_exponent(self):
        return self._p / (1.0 + self._p)

    def compute_optimal(self, flops):
        """Minimise S(N) = (N_c/N)^p + 6·D_c·N/C (p = α_N/α_D): N* = (p·N_c^p·C / (6·D_c))^(1/(1+p))."""
        C = np.asarray(flops, float)
        p = self._p
        n = (p * self.n_c**p * C / (FLOPS_PER_PARAM_TOKEN * self.d_c)) ** (1.0 / (1.0 + p))
        return n, C / (FLOPS_PER_PARAM_TOKEN * n)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "n_c": self.n_c, "alpha_n": self.alpha_n, "d_c": self.d_c,
                "alpha_d": self.alpha_d, "param_convention": self.param_convention}


@dataclass(frozen=True)
class LossVsComputeLaw:
    """L(C) = E + (C0/C)^γ: loss of the compute-optimal model against training FLOPs.

    With E = 0 this is Kaplan et al. 2020, eq. 1.3 (L = (C_c/C_min)^α_C); E adds the irreducible loss.
    """

    E: float
    C0: float
    gamma: float
    name: str = "custom"
    kind: str = field(default="loss-vs-compute", init=False)

    def __post_init__(self):
        for name in ("E", "C0", "gamma"):
            object.__setattr__(self, name, _as_float(getattr(self, name)))

    def loss(self, flops):
        return self.E + (self.C0 / np.asarray(flops, float)) ** self.gamma

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "E": self.E, "C0": self.C0, "gamma": self.gamma}


@dataclass(frozen=True)
class LawEnsemble:
    """A point-estimate law with an ensemble of alternatives (e.g. bootstrap resamples of a fit).

    ``members`` is a law of the same class whose constants are arrays of shape (k, 1): evaluated on inputs
    of shape (m,) it gives (k, m), so a planner computes every member at once and reports percentiles over
    axis 0 as intervals.
    """

    point: ChinchillaLaw | KaplanLaw | LossVsComputeLaw
    members: ChinchillaLaw | KaplanLaw | LossVsComputeLaw

    @property
    def name(self) -> str:
        return self.point.name
