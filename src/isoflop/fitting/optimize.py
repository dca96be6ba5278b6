"""Batched robust minimisation of Huber losses of log residuals for laws of log-sum-exp form.

Approach 3's laws predict log L as  s · LSE_j(u_ij),  u_ij = Σ_k M_ijk θ_k  (terms affine in θ; `LSEModel`),
with s ≡ 1 except for Kaplan's form, whose outer exponent α_D is a parameter; any other form with an analytic
Jacobian plugs in as a `BatchModel` (`forms.py`). The objective of batch member b is

    f_b(θ_b) = Σ_i c_bi · 2τ(r_bi) · h_δ(r_bi),   r_bi = log L̂_i(θ_b) − log L_i,

with h_δ Huber's loss (r²/2 for |r| ≤ δ, δ(|r| − δ/2) beyond; Hoffmann et al. 2022, eq. 3 uses δ = 1e-3),
c_bi point weights (bootstrap multiplicities) and τ(r) = τ where the law lies above the point (r > 0), 1 − τ
below: τ = 0.5 is Huber's loss itself, τ > 0.5 the lower-envelope objective (Huber's loss made asymmetric as
expectile regression makes least squares asymmetric: Newey & Powell 1987, Econometrica 55(4)). Because
h_δ(0) = h_δ′(0) = 0 the asymmetric loss is still continuously differentiable, so the same step applies.
A batch is many starts on one data set, or one start per bootstrap resample: all are advanced together by
NumPy array operations, no Python loop over members.

The step is Levenberg–Marquardt on the iteratively-reweighted (majorize–minimize) surrogate of the Huber
loss: with c′_i = c_i·2τ(r_i), ω_i = c′_i · min(1, δ/|r_i|) majorises c′_i h_δ by ω_i r²/2 + const, so one
damped Gauss–Newton step (JᵀΩJ + λ·diag(JᵀΩJ) + εI) Δ = −Jᵀ(c′·h′(r)) is a descent direction; a step is kept
only when the true objective falls (which also covers a residual changing side), and λ adapts per member
(÷3 on success, ×4 on failure). Box bounds are enforced by clipping, with the parameters that sit on a bound
and are pushed outwards held fixed for the step (an active set), so the others take a full Gauss–Newton
step. A member has converged when, three steps running, a step no longer lowers its objective by more than
``ftol`` relatively, moves θ by less than ``xtol``, or moves no log prediction by more than ``ptol``. The last
is what stops a parameter whose optimum lies at infinity (E → 0 when the runs show no irreducible loss): its
log crawls towards its bound, changing the predictions less at every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


def huber(r, delta):
    """Huber's loss h_δ(r) (as scipy.special.huber); δ = inf gives r²/2 (least squares)."""
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def huber_grad(r, delta):
    return np.clip(r, -delta, delta)


def side_weights(weights, r, asymmetry):
    """c_i · 2τ(r_i): the point weights of the asymmetric objective (τ where r > 0, 1 − τ elsewhere)."""
    if asymmetry == 0.5:
        return weights
    return weights * np.where(r > 0, 2.0 * asymmetry, 2.0 * (1.0 - asymmetry))


class BatchModel(Protocol):
    """What `minimize_batch` needs of a model of log L̂: predictions for a batch of θ (K, P) with whatever
    ``cache`` (a tuple of arrays with K first) the Jacobian is then built from, without recomputing them."""

    n_points: int

    def predict(self, theta) -> tuple[np.ndarray, tuple]:
        """log L̂ (K, n) and the cache for `jacobian`."""

    def jacobian(self, theta, cache) -> np.ndarray:
        """∂ log L̂ / ∂θ (K, n, P) from the cache `predict` returned for the same θ."""

    def take(self, rows) -> "BatchModel":
        """The same model on a subset of its points (a slice or an index array)."""


def residual_jacobian(model: BatchModel, theta, log_loss):
    """Log residuals log L̂ − log L (K, n) and their Jacobian (K, n, P) at θ (K, P)."""
    pred, cache = model.predict(theta)
    return pred - log_loss, model.jacobian(theta, cache)


@dataclass(frozen=True)
class LSEModel:
    """log L̂ = s · LSE_j(o_ij + Σ_k M_ijk θ_k), with M stored sparsely.

    ``entries``: (term j, parameter k, coefficient per point (n,)) triples — the non-zero slices M[:, j, k];
    ``n_terms``; ``offset`` o: (n, terms) or None; ``scale_index``: the θ index of s (None: s = 1).
    Each slice costs one (K, n) multiply-add, so evaluation and Jacobian are O(K·n·entries).
    """

    entries: tuple
    n_terms: int
    n_points: int
    offset: np.ndarray | None = None
    scale_index: int | None = None

    def take(self, rows) -> "LSEModel":
        """The same model on a subset of its points (a slice or an index array)."""
        entries = tuple((j, k, c[rows]) for j, k, c in self.entries)
        offset = None if self.offset is None else self.offset[rows]
        n = len(range(self.n_points)[rows]) if isinstance(rows, slice) else len(rows)
        return LSEModel(entries, self.n_terms, n, offset, self.scale_index)

    def predict(self, theta):
        """Predictions (K, n) and the cache (term softmax (K, terms, n), LSE values (K, n)).

        Terms are the middle axis so that every per-term slice is contiguous: the max, exp and sum over a few
        terms then run as whole-array operations (a reduction over a short last axis is several times slower).
        """
        K, T = theta.shape[0], self.n_terms
        u = np.zeros((K, T, self.n_points))
        if self.offset is not None:
            u += self.offset.T
        for j, k, c in self.entries:
            u[:, j, :] += theta[:, k:k + 1] * c
        m = u[:, 0, :].copy()
        for j in range(1, T):
            np.maximum(m, u[:, j, :], out=m)
        u -= m[:, None, :]
        e = np.exp(u, out=u)
        s = e[:, 0, :].copy()
        for j in range(1, T):
            s += e[:, j, :]
        lse = m + np.log(s)
        p = np.divide(e, s[:, None, :], out=e)
        scale = 1.0 if self.scale_index is None else theta[:, self.scale_index][:, None]
        return scale * lse, (p, lse)

    def jacobian(self, theta, cache):
        """∂ log L̂ / ∂θ (K, n, P) from the term softmax and LSE values that `predict` returned for θ."""
        p, lse = cache
        J = np.zeros((theta.shape[0], theta.shape[1], self.n_points))  # built parameter-major, returned (K, n, P)
        for j, k, c in self.entries:
            J[:, k, :] += p[:, j, :] * c
        if self.scale_index is not None:
            J *= theta[:, self.scale_index][:, None, None]
            J[:, self.scale_index, :] = lse
        return J.transpose(0, 2, 1)


@dataclass(frozen=True)
class BatchResult:
    theta: np.ndarray  # (K, P)
    objective: np.ndarray  # (K,)
    converged: np.ndarray  # (K,) bool
    iterations: int


def minimize_batch(model: BatchModel, log_loss, weights, theta0, *, delta, lower, upper, free=None,
                   max_iter=1000, ftol=1e-13, xtol=1e-11, ptol=1e-10, progress=None, asymmetry=0.5) -> BatchResult:
    """Minimise Σ_i c_bi 2τ(r_bi) h_δ(r_bi) for every batch member b from ``theta0`` (K, P).

    ``weights``: (n,) or (K, n). ``free``: boolean mask (P,) of the parameters that move (fixed ones keep
    their value from ``theta0``); ``lower``/``upper``: (P,) box bounds. Members that have converged are
    dropped from the working set, so the cost follows the members still moving. ``progress``: optional
    callable(n_converged), called whenever members converge. ``asymmetry``: τ (0.5: Huber's loss itself);
    ``ftol``, ``xtol``, ``ptol``: the convergence tests of the module docstring.
    """
    theta_out = np.clip(np.array(theta0, dtype=float), lower, upper)
    K, P = theta_out.shape
    free = np.ones(P, bool) if free is None else np.asarray(free, bool)
    weights_all = np.broadcast_to(np.asarray(weights, float), (K, log_loss.shape[-1]))
    f_out = np.empty(K)
    converged = np.zeros(K, bool)
    reg = 1e-12 * np.eye(P)[free][:, free]

    idx = np.arange(K)  # the working set: members still moving
    theta, w = theta_out[idx], weights_all[idx]
    r, J = residual_jacobian(model, theta, log_loss)
    Jt = J.transpose(0, 2, 1)  # (K, P, n), contiguous: the normal equations below are plain matrix products
    f = (side_weights(w, r, asymmetry) * huber(r, delta)).sum(axis=1)
    lam = np.full(K, 1e-3)
    stall = np.zeros(K, int)
    it = 0
    for it in range(1, max_iter + 1):
        Jf = Jt[:, free, :]
        ws = side_weights(w, r, asymmetry)
        g = np.matmul(Jf, (ws * huber_grad(r, delta))[:, :, None])[:, :, 0]
        omega = ws * np.minimum(1.0, delta / np.maximum(np.abs(r), 1e-300))
        H = np.matmul(Jf * omega[:, None, :], np.swapaxes(Jf, 1, 2))
        diag = np.einsum("bkk->bk", H)
        A = H + lam[:, None, None] * (diag[:, :, None] * np.eye(diag.shape[1])) + reg * (1 + diag.max(axis=1))[:, None, None]
        # Active set: a parameter on a bound whose descent direction points outside stays put this step.
        th = theta[:, free]
        pinned = ((th <= lower[free]) & (g > 0)) | ((th >= upper[free]) & (g < 0))
        if pinned.any():
            keep = ~pinned
            A = A * keep[:, :, None] * keep[:, None, :] + pinned[:, :, None] * np.eye(diag.shape[1])
            g = np.where(pinned, 0.0, g)
        step = np.zeros_like(theta)
        step[:, free] = -np.linalg.solve(A, g[..., None])[..., 0]
        trial = np.clip(theta + step, lower, upper)
        pred, cache = model.predict(trial)  # kept: an accepted trial's Jacobian is built from it
        r_trial = pred - log_loss
        f_trial = (side_weights(w, r_trial, asymmetry) * huber(r_trial, delta)).sum(axis=1)
        better = f_trial < f
        gain = np.where(better, (f - f_trial) / np.maximum(np.abs(f), 1e-300), 0.0)
        moved = np.abs(trial - theta).max(axis=1)
        still = better & (np.abs(r_trial - r).max(axis=1) < ptol)  # an accepted step that moved no prediction
        theta = np.where(better[:, None], trial, theta)
        f = np.where(better, f_trial, f)
        lam = np.where(better, np.maximum(lam / 3, 1e-12), np.minimum(lam * 4, 1e16))
        # Converged: an accepted step gains almost nothing or moves no prediction, or even heavy damping can't
        # find a decrease.
        small = (better & ((gain < ftol) | (moved < xtol))) | still | (~better & ((lam >= 1e16) | (moved < xtol)))
        stall = np.where(small, stall + 1, 0)
        done = stall >= 3
        if done.any():
            theta_out[idx[done]], f_out[idx[done]] = theta[done], f[done]
            converged[idx[done]] = True
            if progress is not None:
                progress(int(converged.sum()))
            keep = ~done
            idx, theta, w, f, lam, stall = idx[keep], theta[keep], w[keep], f[keep], lam[keep], stall[keep]
            r, Jt, better = r[keep], Jt[keep], better[keep]
            r_trial, cache = r_trial[keep], tuple(c[keep] for c in cache)
            if idx.size == 0:
                break
        if better.any():  # rejected members keep their point, so r and J change only where a step was taken
            r[better] = r_trial[better]
            Jt[better] = model.jacobian(theta[better], tuple(c[better] for c in cache)).transpose(0, 2, 1)
    theta_out[idx], f_out[idx] = theta, f
    return BatchResult(theta=theta_out, objective=f_out, converged=converged, iterations=it)
