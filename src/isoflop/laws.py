"""Scaling laws: expected loss (nats/token) as a function of parameters and training tokens.

Each law is a frozen dataclass of its constants. The constants may be floats or NumPy arrays: an array of
shape (k, 1) holds a k-member ensemble (e.g. bootstrap resamples), and every formula below broadcasts it
against inputs of shape (m,) into results of shape (k, m).

All parametric (N, D) laws implement one typed surface, the ``NDLaw`` protocol, which the planners in
`plan.py` rely on: ``loss(n_params, n_tokens)``, ``dloss_dlog_n_params``, ``dloss_dlog_n_tokens``,
``compute_optimal(flops) -> (n_params, n_tokens)`` under the convention C = 6·N·D, the frontier exponents,
``n_tokens_for_loss`` and ``param_convention``. ``LawEnsemble`` implements it too (through its point law),
so an ensemble goes wherever a law goes. ``LossVsComputeLaw`` does not: ``require_nd_law`` says so.

References
- Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models" (Chinchilla): eq. 2 (the form
  L = E + A/N^α + B/D^β) and eq. 4 (its compute-optimal frontier).
- Kaplan et al. 2020, "Scaling Laws for Neural Language Models": eq. 1.5 (the joint form L(N, D)) and
  eq. 1.3 (loss against compute).
- Muennighoff et al. 2023, "Scaling Data-Constrained Language Models", section 3: effective data D′ and
  effective parameters N′ under repetition; reference code in the datablations repository's README.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import InputError

FLOPS_PER_PARAM_TOKEN = 6.0  # C = 6·N·D: forward 2 FLOPs and backward 4 FLOPs per parameter per token


def _as_float(x):
    """Scalars stay Python floats (readable reprs, JSON), arrays become float arrays."""
    arr = np.asarray(x, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


# How a law counts N: every convention a run table or a FLOP count may carry (`runs.py`, `flops.py`).
PARAM_CONVENTIONS = ("total", "non_embedding", "active", "attention", "unknown")


def _set_constants(law, positive=(), nonnegative=(), finite=()) -> None:
    """Store the constants as floats (arrays for an ensemble's members) and refuse a scalar one that makes
    no law: a zero or negative exponent or scale, a negative irreducible loss, NaN or inf (one InputError
    naming it, not a plan of nonsense later). Members' arrays come from fits and are left as they are."""
    for names, ok, rule in ((positive, lambda v: v > 0, "a finite number > 0"),
                            (nonnegative, lambda v: v >= 0, "a finite number ≥ 0"),
                            (finite, lambda v: True, "a finite number")):
        for name in names:
            try:
                value = _as_float(getattr(law, name))
            except (TypeError, ValueError):
                raise InputError(f"{type(law).__name__}: {name} must be {rule}, got {getattr(law, name)!r}") from None
            if np.ndim(value) == 0 and not (np.isfinite(value) and ok(value)):
                raise InputError(f"{type(law).__name__}: {name} must be {rule}, got {value!r}")
            object.__setattr__(law, name, value)
    convention = getattr(law, "__dataclass_fields__", {}).get("param_convention")
    if convention is not None and law.param_convention not in PARAM_CONVENTIONS:
        raise InputError(f"{type(law).__name__}: param_convention must be one of {', '.join(PARAM_CONVENTIONS)}, "
                         f"got {law.param_convention!r}")


@runtime_checkable
class NDLaw(Protocol):
    """What every law of loss against parameters and tokens offers the planners (C = 6·N·D).

    Constants may be (k, 1) arrays (an ensemble's members); every method broadcasts them against its inputs.
    """

    name: str
    kind: str

    @property
    def param_convention(self) -> str: ...          # how n_params is counted: "total", "non_embedding", ...

    @property
    def irreducible_loss(self): ...                   # the loss with infinite N and D

    @property
    def n_params_exponent(self): ...                  # a in N*(C) ∝ C^a

    @property
    def n_tokens_exponent(self): ...                  # b in D*(C) ∝ C^b

    def loss(self, n_params, n_tokens): ...

    def dloss_dlog_n_params(self, n_params, n_tokens): ...

    def dloss_dlog_n_tokens(self, n_params, n_tokens): ...

    def compute_optimal(self, flops): ...             # (n_params, n_tokens) minimising loss at 6·N·D = flops

    def n_tokens_for_loss(self, n_params, loss): ...  # tokens at which n_params reaches loss (inf: never)

    def to_dict(self) -> dict: ...


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
        # An exponent of 0 is a fit on its bound (the identifiability verdict says so), not an impossible law.
        _set_constants(self, positive=("A", "B"), nonnegative=("E", "alpha", "beta"))

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
        """a in N*(C) ∝ C^a: a = β/(α+β) (Hoffmann et al. 2022, eq. 4); NaN for a degenerate α = β = 0."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return _as_float(np.divide(self.beta, np.add(self.alpha, self.beta)))

    @property
    def n_tokens_exponent(self):
        """b in D*(C) ∝ C^b: b = α/(α+β) = 1 − a (Hoffmann et al. 2022, eq. 4)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return _as_float(np.divide(self.alpha, np.add(self.alpha, self.beta)))

    @property
    def G(self):
        """G = (α·A / (β·B))^(1/(α+β)) (Hoffmann et al. 2022, eq. 4); in NumPy arithmetic, so an exponent of 0
        (allowed: a fit on its bound) gives 0 or inf, which the planners refuse, not a ZeroDivisionError."""
        return np.divide(self.alpha * self.A, self.beta * self.B) ** np.divide(1.0, self.alpha + self.beta)

    def compute_optimal(self, flops):
        """Closed-form minimiser of L subject to 6·N·D = C (Hoffmann et al. 2022, eq. 4):

        N*(C) = G·(C/6)^(β/(α+β)),  D*(C) = G⁻¹·(C/6)^(α/(α+β)).  Returns (n_params, n_tokens).
        """
        c6 = np.asarray(flops, float) / FLOPS_PER_PARAM_TOKEN
        return self.G * c6**self.n_params_exponent, c6**self.n_tokens_exponent / self.G

    def n_tokens_for_loss(self, n_params, loss):
        """Training tokens at which a model of ``n_params`` reaches ``loss``: eq. 2 solved for D,

        D = (B / (L − E − A/N^α))^(1/β);  ``inf`` where L ≤ E + A/N^α (unreachable with any data at this N).
        """
        excess = np.asarray(loss, float) - self.E - self.A / np.asarray(n_params, float) ** self.alpha
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(excess > 0, (self.B / excess) ** (1.0 / self.beta), np.inf)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "E": self.E, "A": self.A, "B": self.B, "alpha": self.alpha,
                "beta": self.beta, "param_convention": self.param_convention}


@dataclass(frozen=True)
class KaplanLaw:
    """L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D  (Kaplan et al. 2020, eq. 1.5).

    N is non-embedding parameters, D training tokens. There is no irreducible term: L → 0 as N, D → ∞.
    Minimising this form at fixed C = 6·N·D gives N* ∝ C^(α_D/(α_N+α_D)) ≈ C^0.575 (0.103 / 0.179), not the
    C^0.73 that Kaplan et al. report: their 0.73 comes from L(N, S_min) with early stopping and their critical batch
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
        _set_constants(self, positive=("n_c", "alpha_n", "d_c", "alpha_d"))

    @property
    def _p(self):
        return self.alpha_n / self.alpha_d

    def _inner(self, n_params, n_tokens):
        N, D = np.asarray(n_params, float), np.asarray(n_tokens, float)
        return (self.n_c / N) ** self._p + self.d_c / D

    @property
    def irreducible_loss(self):
        return 0.0  # eq. 1.5 has no irreducible term

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
        """Minimise Kaplan et al. 2020's eq. 1.5 along 6·N·D = C. L = S^α_D with S(N) = (N_c/N)^p + 6·D_c·N/C
        (p = α_N/α_D; D = C/(6N)), and L rises with S, so dS/dN = 0 gives N* = (p·N_c^p·C / (6·D_c))^(1/(1+p))
        (our derivation; the paper's own optimum, C^0.73, comes from its early-stopped fits, not eq. 1.5)."""
        C = np.asarray(flops, float)
        p = self._p
        n = (p * self.n_c**p * C / (FLOPS_PER_PARAM_TOKEN * self.d_c)) ** (1.0 / (1.0 + p))
        return n, C / (FLOPS_PER_PARAM_TOKEN * n)

    def n_tokens_for_loss(self, n_params, loss):
        """Eq. 1.5 solved for D: D = D_c / (L^(1/α_D) − (N_c/N)^(α_N/α_D)); ``inf`` where unreachable."""
        excess = np.asarray(loss, float) ** (1.0 / self.alpha_d) - (self.n_c / np.asarray(n_params, float)) ** self._p
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(excess > 0, self.d_c / excess, np.inf)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "n_c": self.n_c, "alpha_n": self.alpha_n, "d_c": self.d_c,
                "alpha_d": self.alpha_d, "param_convention": self.param_convention}


# Muennighoff et al. 2023, C4 fit: repetition half-lives in "epochs" of data and "multiples" of N_opt(U_D).
RD_STAR_C4 = 15.387756
RN_STAR_C4 = 5.309743


def _decayed(count, unique, r_star):
    """Muennighoff et al. 2023's effective count of ``count`` items of which ``unique`` are distinct.

    R = max(count/unique − 1, 0) repetitions; each repetition is worth exp(−R/R*) of a fresh item, so
    count′ = U + U·R*·(1 − exp(−R/R*)) with U = min(count, unique) (→ U·(1 + R*) as R → ∞). Returns (count′, R).
    """
    seen = np.minimum(count, unique)
    repeats = np.maximum(count / unique - 1.0, 0.0)
    return seen + seen * r_star * -np.expm1(-repeats / r_star), repeats


@dataclass(frozen=True)
class DataConstrainedLaw:
    """A base law evaluated at effective parameters N′ and effective data D′ (Muennighoff et al. 2023, §3).

    With U_D unique tokens (``unique_tokens``) repeated over D training tokens:

        R_D = max(D/U_D − 1, 0),       D′ = U_D + U_D·R_D*·(1 − exp(−R_D/R_D*))
        U_N = min(N, N_opt(U_D)),      R_N = max(N/U_N − 1, 0),   N′ = U_N + U_N·R_N*·(1 − exp(−R_N/R_N*))
        L(N, D, U_D) = base.loss(N′, D′)        (= E + A/N′^α + B/D′^β for Muennighoff's Chinchilla-form base)

    N_opt(U_D) is the base law's compute-optimal N for one epoch on U_D tokens (the N whose compute-optimal D
    is U_D). Repeated tokens and parameters beyond N_opt(U_D) lose value exponentially, with "half-lives"
    R_D* (repetitions) and R_N* (multiples of N_opt(U_D)); D′ saturates at U_D·(1 + R_D*).

    Two conventions where the paper is silent (its reference code asserts U_D ≤ D): a run shorter than one
    epoch sees min(D, U_D) unique tokens, so D′ = D; U_N is taken against the unique pool U_D, so that
    ``unique_tokens=None`` (unlimited data, U_D → ∞) is exactly the base law. The base law's frontier
    (``compute_optimal``, exponents, ``param_convention``) is this law's; its constants are ``base.E`` etc.
    """

    base: ChinchillaLaw | KaplanLaw | KaplanIrreducibleLaw
    rd_star: float = RD_STAR_C4
    rn_star: float = RN_STAR_C4
    name: str = "custom"
    kind: str = field(default="data-constrained", init=False)

    def __post_init__(self):
        if not isinstance(self.base, (ChinchillaLaw, KaplanLaw, KaplanIrreducibleLaw)):  # a name planned nonsense
            raise InputError(f"DataConstrainedLaw: base must be an (N, D) law: ChinchillaLaw, KaplanLaw or "
                             f"KaplanIrreducibleLaw (e.g. "
                             f"isoflop.law('besiroglu2024')), got {type(self.base).__name__} {self.base!r:.40}")
        _set_constants(self, positive=("rd_star", "rn_star"))

    @property
    def param_convention(self) -> str:
        return self.base.param_convention

    @property
    def irreducible_loss(self):
        return self.base.irreducible_loss

    @property
    def n_params_exponent(self):
        """The base law's a in N*(C) ∝ C^a (the frontier with unlimited unique data)."""
        return self.base.n_params_exponent

    @property
    def n_tokens_exponent(self):
        return self.base.n_tokens_exponent

    def compute_optimal(self, flops):
        """The base law's compute-optimal (n_params, n_tokens): the allocation with unlimited unique data."""
        return self.base.compute_optimal(flops)

    def n_params_for_unique_tokens(self, unique_tokens):
        """N_opt(U_D): the compute-optimal N of the base law at the budget whose optimal D is U_D.

        For the Chinchilla form this is G·(U_D·G)^(β/α) (``D_to_N`` in Muennighoff et al.'s code); in general
        the frontier D*(C) = D*(1)·C^b is inverted: C = (U_D/D*(1))^(1/b), N = N*(1)·C^a. Infinite U_D → ∞.
        """
        n_unit, d_unit = self.base.compute_optimal(1.0)
        flops = (np.asarray(unique_tokens, float) / d_unit) ** (1.0 / self.base.n_tokens_exponent)
        return n_unit * flops**self.base.n_params_exponent

    def effective_n_params(self, n_params, unique_tokens=None):
        """N′ (equal to N when ``unique_tokens`` is None or N ≤ N_opt(U_D))."""
        unique = np.inf if unique_tokens is None else unique_tokens
        return _decayed(np.asarray(n_params, float), self.n_params_for_unique_tokens(unique), self.rn_star)[0]

    def effective_n_tokens(self, n_tokens, unique_tokens=None):
        """D′ (equal to D when ``unique_tokens`` is None or D ≤ U_D)."""
        unique = np.inf if unique_tokens is None else np.asarray(unique_tokens, float)
        return _decayed(np.asarray(n_tokens, float), unique, self.rd_star)[0]

    def loss(self, n_params, n_tokens, unique_tokens=None):
        """L(N, D, U_D) = base.loss(N′, D′); ``unique_tokens=None`` means unlimited data (the base law)."""
        if unique_tokens is None:
            return self.base.loss(n_params, n_tokens)
        return self.base.loss(self.effective_n_params(n_params, unique_tokens),
                              self.effective_n_tokens(n_tokens, unique_tokens))

    def saturated_loss(self, unique_tokens, n_params=None):
        """The loss as D → ∞ (D′ → U_D·(1 + R_D*)) at ``n_params``, or also as N → ∞ when it is None
        (N′ → N_opt(U_D)·(1 + R_N*)): the best loss any compute reaches with these unique tokens."""
        unique = np.asarray(unique_tokens, float)
        if n_params is None:
            n_eff = self.n_params_for_unique_tokens(unique) * (1.0 + self.rn_star)
        else:
            n_eff = self.effective_n_params(n_params, unique)
        return self.base.loss(n_eff, unique * (1.0 + self.rd_star))

    def log_marginal_gains(self, n_params, n_tokens, unique_tokens=None):
        """(log(−∂L/∂log N), log(−∂L/∂log D)) at fixed U_D, by the chain rule through N′ and D′:

        ∂log N′/∂log N = (N/N′)·exp(−R_N/R_N*), and the same for D. Summed in log space, so the gains stay
        comparable when repetition makes them tiny (exp(−R/R*) underflows past ~10⁴ epochs).
        """
        N, D = np.asarray(n_params, float), np.asarray(n_tokens, float)
        unique = np.inf if unique_tokens is None else np.asarray(unique_tokens, float)
        n_eff, r_n = _decayed(N, self.n_params_for_unique_tokens(unique), self.rn_star)
        d_eff, r_d = _decayed(D, unique, self.rd_star)
        log_gain_n = np.log(-self.base.dloss_dlog_n_params(n_eff, d_eff)) + np.log(N / n_eff) - r_n / self.rn_star
        log_gain_d = np.log(-self.base.dloss_dlog_n_tokens(n_eff, d_eff)) + np.log(D / d_eff) - r_d / self.rd_star
        return log_gain_n, log_gain_d

    def dloss_dlog_n_params(self, n_params, n_tokens, unique_tokens=None):
        """∂L/∂log N at fixed D and U_D."""
        return -np.exp(self.log_marginal_gains(n_params, n_tokens, unique_tokens)[0])

    def dloss_dlog_n_tokens(self, n_params, n_tokens, unique_tokens=None):
        """∂L/∂log D at fixed N and U_D."""
        return -np.exp(self.log_marginal_gains(n_params, n_tokens, unique_tokens)[1])

    def n_tokens_for_loss(self, n_params, loss, unique_tokens=None):
        """Training tokens (repeats included) at which ``n_params`` reaches ``loss`` with U_D unique tokens.

        The base law gives the effective data needed, D′ = base.n_tokens_for_loss(N′, L); then D′ is mapped
        back: D = D′ while D′ ≤ U_D, else R_D = −R_D*·ln(1 − (D′/U_D − 1)/R_D*) and D = U_D·(1 + R_D).
        ``inf`` where even unlimited repetition (D′ → U_D·(1 + R_D*)) falls short.
        """
        if unique_tokens is None:
            return self.base.n_tokens_for_loss(n_params, loss)
        unique = np.asarray(unique_tokens, float)
        d_eff = self.base.n_tokens_for_loss(self.effective_n_params(n_params, unique), loss)
        fraction = (d_eff / unique - 1.0) / self.rd_star  # of the repetition value still to collect
        with np.errstate(divide="ignore", invalid="ignore"):
            repeated = unique * (1.0 - self.rd_star * np.log1p(-np.minimum(fraction, 1.0)))
        return np.where(d_eff <= unique, d_eff, np.where(fraction < 1.0, repeated, np.inf))

    def to_dict(self) -> dict:
        return {**self.base.to_dict(), "kind": self.kind, "base_kind": self.base.kind, "name": self.name,
                "rd_star": self.rd_star, "rn_star": self.rn_star}


def with_repetition(law, rd_star: float = RD_STAR_C4, rn_star: float = RN_STAR_C4):
    """``law`` if it already models repeated data, else a DataConstrainedLaw on it.

    A law fitted on single-epoch runs says nothing about repetition, so this borrows Muennighoff et al.'s C4
    constants R_D* = 15.39, R_N* = 5.31 by default — an assumption, recorded in the returned law's name.
    """
    if isinstance(law, DataConstrainedLaw):
        return law
    if isinstance(law, LawEnsemble):
        return LawEnsemble(with_repetition(law.point, rd_star, rn_star),
                           with_repetition(law.members, rd_star, rn_star))
    if not isinstance(law, (ChinchillaLaw, KaplanLaw, KaplanIrreducibleLaw)):
        raise InputError(f"law {law.name!r} ({law.kind}) has no (N, D) form to model repeated data with")
    return DataConstrainedLaw(base=law, rd_star=rd_star, rn_star=rn_star, name=f"{law.name}+muennighoff2023-repetition")


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
        _set_constants(self, positive=("C0", "gamma"), nonnegative=("E",))

    def loss(self, flops):
        return self.E + (self.C0 / np.asarray(flops, float)) ** self.gamma

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "E": self.E, "C0": self.C0, "gamma": self.gamma}


@dataclass(frozen=True)
class KaplanIrreducibleLaw:
    """L(N, D) = E + [(N_c/N)^(α_N/α_D) + D_c/D]^α_D: Kaplan et al. 2020's joint form (eq. 1.5) plus an
    irreducible loss E, the "power-law plus constant" of Henighan et al. 2020 ("Scaling Laws for
    Autoregressive Generative Modeling", abstract and section 2). Unlike Chinchilla's additive form, N and D
    interact: the data term's weight depends on N. E is additive and the outer power monotone, so the
    compute-optimal allocation is Kaplan's (minimise the bracket along 6·N·D = C) and the gradients are
    Kaplan's: the planners use this law as they use `KaplanLaw`.
    """

    E: float
    n_c: float
    alpha_n: float
    d_c: float
    alpha_d: float
    param_convention: str = "total"
    name: str = "custom"
    kind: str = field(default="kaplan-irreducible", init=False)

    def __post_init__(self):
        _set_constants(self, positive=("n_c", "alpha_n", "d_c", "alpha_d"), nonnegative=("E",))

    @property
    def _bracket(self) -> KaplanLaw:
        """The law without E (Kaplan's eq. 1.5), which carries the allocation and the gradients."""
        return KaplanLaw(n_c=self.n_c, alpha_n=self.alpha_n, d_c=self.d_c, alpha_d=self.alpha_d,
                         param_convention=self.param_convention, name=self.name)

    @property
    def irreducible_loss(self):
        return self.E

    def loss(self, n_params, n_tokens):
        return self.E + self._bracket.loss(n_params, n_tokens)

    def dloss_dlog_n_params(self, n_params, n_tokens):
        return self._bracket.dloss_dlog_n_params(n_params, n_tokens)

    def dloss_dlog_n_tokens(self, n_params, n_tokens):
        return self._bracket.dloss_dlog_n_tokens(n_params, n_tokens)

    @property
    def n_params_exponent(self):
        return self._bracket.n_params_exponent

    @property
    def n_tokens_exponent(self):
        return self._bracket.n_tokens_exponent

    def compute_optimal(self, flops):
        """Kaplan's closed form (`KaplanLaw.compute_optimal`): E does not move the optimum."""
        return self._bracket.compute_optimal(flops)

    def n_tokens_for_loss(self, n_params, loss):
        """Kaplan's inversion at the reducible loss L − E; ``inf`` where L ≤ E or unreachable at this N."""
        with np.errstate(invalid="ignore", divide="ignore"):
            excess = np.asarray(loss, float) - self.E
            return np.where(excess > 0, self._bracket.n_tokens_for_loss(n_params, np.maximum(excess, 1e-300)),
                            np.inf)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "E": self.E, "n_c": self.n_c, "alpha_n": self.alpha_n,
                "d_c": self.d_c, "alpha_d": self.alpha_d, "param_convention": self.param_convention}


@dataclass(frozen=True)
class BrokenPowerLaw:
    """L(C) = E + b·C^(−c0)·(1 + (C/d1)^(1/f1))^(−c1·f1): a broken power law in training compute with one
    break (Caballero et al. 2022, "Broken Neural Scaling Laws", eq. 1 with n = 1). The slope in log-log is c0
    well below the break d1 and c0 + c1 well above it; f1 sets how sharp the bend is. Predicts loss against
    compute (like `LossVsComputeLaw`), so it cannot split a budget into N and D.
    """

    E: float
    b: float
    c0: float
    c1: float
    d1: float
    f1: float
    name: str = "custom"
    kind: str = field(default="broken-power-law", init=False)

    def __post_init__(self):
        _set_constants(self, positive=("b", "d1", "f1"), nonnegative=("E",), finite=("c0", "c1"))

    def loss(self, flops):
        log_c = np.log(np.asarray(flops, float))
        # log of the reducible part, with log(1 + x^(1/f)) as logaddexp so large C does not overflow
        log_excess = (np.log(self.b) - self.c0 * log_c
                      - self.c1 * self.f1 * np.logaddexp(0.0, (log_c - np.log(self.d1)) / self.f1))
        return self.E + np.exp(log_excess)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "E": self.E, "b": self.b, "c0": self.c0, "c1": self.c1,
                "d1": self.d1, "f1": self.f1}


def count_members(members) -> int:
    """How many laws a members law holds: the length of its (K, 1) constants (1 for a single law)."""
    return int(np.size(members.to_dict()[_FIRST_CONSTANT[members.kind]]))


@dataclass(frozen=True)
class LawEnsemble:
    """A point-estimate law with an ensemble of alternatives (e.g. bootstrap resamples of a fit).

    ``members`` is a law of the same class whose constants are arrays of shape (k, 1): evaluated on inputs
    of shape (m,) it gives (k, m), so a planner computes every member at once and reports percentiles over
    axis 0 as intervals. As a law (``NDLaw``) an ensemble is its point law: everything that reads a law —
    a sweep's prior, the planners, a loss prediction — gets the same answer from the ensemble as from the
    point, and the planners add intervals from the members.
    """

    point: ChinchillaLaw | KaplanLaw | DataConstrainedLaw | LossVsComputeLaw
    members: ChinchillaLaw | KaplanLaw | DataConstrainedLaw | LossVsComputeLaw

    def __post_init__(self):
        if type(self.point) is not type(self.members):
            raise InputError(f"an ensemble's members must be of the point law's class ({type(self.point).__name__}), "
                             f"got {type(self.members).__name__}")

    def __repr__(self) -> str:  # the members' (k, 1) arrays would fill a notebook cell
        return f"LawEnsemble(point={self.point!r}, n_members={self.n_members})"

    @property
    def name(self) -> str:
        return self.point.name

    @property
    def kind(self) -> str:
        return self.point.kind

    @property
    def n_members(self) -> int:
        return count_members(self.members)

    @property
    def param_convention(self) -> str:
        return require_nd_law(self.point).param_convention

    @property
    def irreducible_loss(self):
        return require_nd_law(self.point).irreducible_loss

    @property
    def n_params_exponent(self):
        return require_nd_law(self.point).n_params_exponent

    @property
    def n_tokens_exponent(self):
        return require_nd_law(self.point).n_tokens_exponent

    def loss(self, *args, **kwargs):
        return self.point.loss(*args, **kwargs)

    def dloss_dlog_n_params(self, *args, **kwargs):
        return require_nd_law(self.point).dloss_dlog_n_params(*args, **kwargs)

    def dloss_dlog_n_tokens(self, *args, **kwargs):
        return require_nd_law(self.point).dloss_dlog_n_tokens(*args, **kwargs)

    def compute_optimal(self, flops):
        return require_nd_law(self.point).compute_optimal(flops)

    def n_tokens_for_loss(self, *args, **kwargs):
        return require_nd_law(self.point).n_tokens_for_loss(*args, **kwargs)

    def to_dict(self) -> dict:
        return dict(self.point.to_dict(), n_members=self.n_members)


# A constant every law of a kind has, to count an ensemble's members by.
_FIRST_CONSTANT = {"chinchilla": "E", "kaplan": "n_c", "data-constrained": "rd_star", "loss-vs-compute": "E",
                   "kaplan-irreducible": "E", "broken-power-law": "E"}


def point_law(law):
    """The law itself, or an ensemble's point law (a fit's own constants, not a member's)."""
    return law.point if isinstance(law, LawEnsemble) else law


def require_nd_law(law):
    """``law`` itself when it predicts loss from parameters and tokens (``NDLaw``); an InputError that says why
    not otherwise (a loss-vs-compute law knows the frontier's loss, not its N and D)."""
    point = point_law(law)
    if isinstance(point, (ChinchillaLaw, KaplanLaw, KaplanIrreducibleLaw, DataConstrainedLaw)):
        return law  # (not isinstance(point, NDLaw): a runtime Protocol check evaluates every property)
    if isinstance(point, (LossVsComputeLaw, BrokenPowerLaw)):
        raise InputError(f"law {point.name!r} ({point.kind}) gives loss against compute only, not N and D: "
                         f"plan with a chinchilla, kaplan or data-constrained law (e.g. fit --form chinchilla)")
    raise InputError(f"not a scaling law: {type(point).__name__} {point!r:.40} (give a law, e.g. "
                     f"isoflop.law('besiroglu2024'))")
