"""Token sources for training: synthetic Markov chains with a known entropy rate, byte-level text corpora
(the Python standard library by default) and nanoGPT-style token files. NumPy only.

Every source hands out batches of shape (batch_size, seq_len + 1) (inputs are ``[:, :-1]``, next-token
targets ``[:, 1:]``) as a pure function of (seed, step): a resumed run sees exactly the batches it would
have seen, and no data-loader state needs checkpointing. Validation batches are fixed per source, so every
run of a sweep is scored on the same held-out tokens.
"""

from __future__ import annotations

import hashlib
import platform
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .spec import DataSpec, check_token_file, split_point

# Folders left out of the stdlib corpus: installed third-party packages (they differ between machines)
# and the test suites (large, and full of deliberately odd bytes).
_STDLIB_SKIP = {"site-packages", "dist-packages", "__pycache__", "test", "tests", "idle_test"}


def _train_rng(seed: int, step: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), 0, int(step)])


@dataclass(frozen=True, eq=False)
class MarkovChain:
    """A first-order Markov chain over symbols 0..k−1 with row-stochastic ``transition`` P (P[i, j] = p(j | i))."""

    transition: np.ndarray

    @classmethod
    def random(cls, n_states: int, concentration: float = 0.5, seed: int = 0) -> "MarkovChain":
        """Rows drawn from Dirichlet(concentration·1): smaller concentration → peakier rows, lower entropy."""
        rng = np.random.default_rng([int(seed), 7])
        P = rng.dirichlet(np.full(n_states, float(concentration)), size=n_states)
        P = np.maximum(P, 1e-12)  # no exact zeros: every transition stays possible, log P stays finite
        return cls(P / P.sum(axis=1, keepdims=True))

    @property
    def n_states(self) -> int:
        return self.transition.shape[0]

    def stationary(self) -> np.ndarray:
        """π with π·P = π and Σπ = 1: the least-squares solution of [Pᵀ − I; 1ᵀ]·π = [0; 1]."""
        k = self.n_states
        A = np.vstack([self.transition.T - np.eye(k), np.ones((1, k))])
        b = np.zeros(k + 1)
        b[-1] = 1.0
        pi = np.linalg.lstsq(A, b, rcond=None)[0]
        return pi / pi.sum()

    def entropy_rate(self) -> float:
        """H = −Σ_i π_i Σ_j P_ij·ln P_ij in nats per token: the loss of the true next-token distribution,
        the floor no model's expected loss goes below."""
        P = self.transition
        row_entropy = -(P * np.log(P)).sum(axis=1)
        return float(self.stationary() @ row_entropy)

    def sample(self, n_seqs: int, length: int, rng: np.random.Generator) -> np.ndarray:
        """``n_seqs`` independent stretches of the chain in its stationary regime, shape (n_seqs, length).

        The first symbol is drawn from π, so every position has marginal π and every next-token prediction
        has the previous symbol as context: the best achievable mean loss is exactly the entropy rate.
        Sequential in time, vectorised over sequences (inverse-CDF sampling).
        """
        cdf = np.cumsum(self.transition, axis=1)
        cdf[:, -1] = 1.0
        out = np.empty((n_seqs, length), dtype=np.int64)
        out[:, 0] = rng.choice(self.n_states, size=n_seqs, p=self.stationary())
        u = rng.random((n_seqs, length))
        for t in range(1, length):
            rows = cdf[out[:, t - 1]]
            out[:, t] = (u[:, t, None] >= rows).sum(axis=1)
        return np.minimum(out, self.n_states - 1)

    def log_loss(self, tokens: np.ndarray) -> float:
        """Mean −ln P(x_{t+1} | x_t) of the true chain over the transitions in ``tokens`` (n_seqs, length):
        the empirical loss of the perfect model on the same sample."""
        return float(-np.log(self.transition[tokens[:, :-1], tokens[:, 1:]]).mean())


class MarkovSource:
    """Training and validation sequences from a ``MarkovChain``: unlimited fresh data, known loss floor."""

    def __init__(self, chain: MarkovChain, val_seed: int = 0):
        self.chain = chain
        self.vocab_size = chain.n_states
        self.val_seed = int(val_seed)
        self.name = f"markov(k={chain.n_states})"

    @property
    def entropy_rate(self) -> float:
        return self.chain.entropy_rate()

    def train_batch(self, step: int, batch_size: int, seq_len: int, seed: int) -> np.ndarray:
        return self.chain.sample(batch_size, seq_len + 1, _train_rng(seed, step))

    def val_batch(self, n_seqs: int, seq_len: int) -> np.ndarray:
        return self.chain.sample(n_seqs, seq_len + 1, np.random.default_rng([self.val_seed, 1]))


class CorpusSource:
    """Random windows from a training token array; evenly spaced fixed windows from a validation array."""

    def __init__(self, train: np.ndarray, val: np.ndarray, vocab_size: int, name: str):
        self.train, self.val, self.vocab_size, self.name = train, val, int(vocab_size), name

    def _check_length(self, tokens: np.ndarray, seq_len: int, split: str):
        if len(tokens) < seq_len + 1:
            raise InputError(f"data: the {split} split of {self.name} has {len(tokens)} tokens, fewer than "
                             f"seq_len + 1 = {seq_len + 1}; give more data or a shorter seq_len")

    def _gather(self, tokens: np.ndarray, starts: np.ndarray, seq_len: int) -> np.ndarray:
        batch = np.asarray(tokens[starts[:, None] + np.arange(seq_len + 1)], dtype=np.int64)
        top = int(batch.max())
        if top >= self.vocab_size:
            raise InputError(f"data.vocab_size: {self.name} holds token id {top}, not below vocab_size "
                             f"{self.vocab_size}")
        return batch

    def train_batch(self, step: int, batch_size: int, seq_len: int, seed: int) -> np.ndarray:
        self._check_length(self.train, seq_len, "training")
        starts = _train_rng(seed, step).integers(0, len(self.train) - seq_len, size=batch_size)
        return self._gather(self.train, starts, seq_len)

    def val_batch(self, n_seqs: int, seq_len: int) -> np.ndarray:
        self._check_length(self.val, seq_len, "validation")
        starts = np.linspace(0, len(self.val) - seq_len - 1, n_seqs).astype(np.int64)
        return self._gather(self.val, starts, seq_len)


def stdlib_files(root: str | Path | None = None) -> list[Path]:
    """The standard library's ``*.py`` files, sorted by relative path, without third-party packages or
    test suites. ``root`` defaults to ``sysconfig.get_paths()["stdlib"]``."""
    root = Path(root or sysconfig.get_paths()["stdlib"])
    files = [p for p in root.rglob("*.py") if not _STDLIB_SKIP.intersection(p.relative_to(root).parts[:-1])]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def _read_bytes(paths, allow_empty: bool = False) -> np.ndarray:
    chunks = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise InputError(f"data.paths: {path} does not exist or is not a file")
        data = path.read_bytes()
        if not data and not allow_empty:
            raise InputError(f"data.paths: {path} is empty")
        chunks.append(data)
    return np.frombuffer(b"".join(chunks), dtype=np.uint8)


def _split_tail(tokens: np.ndarray, val_fraction: float):
    cut = split_point(len(tokens), val_fraction)
    return tokens[:cut], tokens[cut:]


def _token_file(path: Path, dtype: str) -> np.ndarray:
    check_token_file(path, dtype)
    return np.memmap(path, dtype=np.dtype(dtype), mode="r")  # memory-mapped: only the sampled windows are read


_SAMPLED = 64 << 20  # files larger than this are hashed from 64 evenly spaced blocks of 64 KiB, not read whole
_BLOCK = 64 << 10


def _file_digest(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        if size <= _SAMPLED:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        else:
            for i in range(64):
                fh.seek((size - _BLOCK) * i // 63)
                digest.update(fh.read(_BLOCK))
    return digest.hexdigest()


def data_fingerprint(spec: DataSpec) -> list[dict]:
    """What identifies the data a ``DataSpec`` reads, so a sweep notices data changed between its design and
    a later run (runs trained on other data than the rest): for each text or token file its path, size and
    SHA-256 (over 64 evenly spaced 64 KiB blocks when it is over 64 MiB); for ``stdlib`` one entry for all its
    files together, with the Python version they came with (another Python has another library); nothing for
    ``markov`` (generated from its seed). A missing file has size None."""
    if spec.source == "markov":
        return []
    if spec.source == "stdlib":
        digest, total, files = hashlib.sha256(), 0, stdlib_files()
        for f in files:
            data = f.read_bytes()
            digest.update(f"{len(data)}:".encode() + data)
            total += len(data)
        return [{"path": "the Python standard library", "files": len(files), "size": total,
                 "sha256": digest.hexdigest(), "python": platform.python_version()}]
    out = []
    for path in (spec.token_files() if spec.source == "tokens" else [Path(p) for p in spec.paths]):
        try:
            size = path.stat().st_size
            out.append({"path": str(path), "size": size, "sha256": _file_digest(path, size)})
        except OSError:
            out.append({"path": str(path), "size": None, "sha256": None})
    return out


def data_change(before: list[dict], now: list[dict]) -> str | None:
    """Why the data fingerprinted as ``now`` is not the data fingerprinted as ``before``, or None. Entries are
    compared on their path, size and digest (the Python version of a ``stdlib`` entry only explains a change,
    and sweeps designed before it was recorded lack it)."""
    def key(entry):
        return tuple(entry.get(k) for k in ("path", "size", "sha256")) if isinstance(entry, dict) else entry

    if len(before) == len(now) and all(key(a) == key(b) for a, b in zip(before, now)):
        return None

    def described(entry) -> str:  # ``before`` is read from sweep.json, which a person may have edited
        if not isinstance(entry, dict) or not isinstance(entry.get("size"), int):
            return "missing" if isinstance(entry, dict) and entry.get("size") is None else f"{entry!r:.60}"
        python = f" (Python {entry['python']})" if isinstance(entry.get("python"), str) else ""
        return f"{entry['size']:,} bytes, sha256 {str(entry.get('sha256'))[:12]}…{python}"

    for old, new in zip(before, now):
        if key(old) != key(new):
            why = f"{new['path']} was {described(old)}, is now {described(new)}"
            if "python" in new:
                why += "; run it with the Python it was designed with"
            return why
    paths = (", ".join(str(d.get("path") if isinstance(d, dict) else d) for d in files) for files in (before, now))
    return "its files were {}, are now {}".format(*paths)


def load_source(spec: DataSpec):
    """The token source a ``DataSpec`` describes. Missing or empty files raise InputError naming the path."""
    if spec.source == "markov":
        return MarkovSource(MarkovChain.random(spec.n_states, spec.concentration, spec.seed), val_seed=spec.seed)
    if spec.source == "stdlib":
        files = stdlib_files()
        if not files:
            raise InputError(f"data.source: no standard-library sources found under {sysconfig.get_paths()['stdlib']}")
        stride = max(2, int(round(1 / spec.val_fraction)))
        val = [f for i, f in enumerate(files) if i % stride == stride // 2]  # every stride-th file, fixed
        train = [f for i, f in enumerate(files) if i % stride != stride // 2]
        return CorpusSource(_read_bytes(train, True), _read_bytes(val, True), 256, "the Python standard library")
    if spec.source == "text":
        train, val = _split_tail(_read_bytes(spec.paths), spec.val_fraction)
        return CorpusSource(train, val, 256, f"text files ({len(spec.paths)})")
    paths = spec.token_files()  # one file split at its tail, or [train, val]
    arrays = [_token_file(p, spec.dtype) for p in paths]
    train, val = _split_tail(arrays[0], spec.val_fraction) if len(arrays) == 1 else arrays
    return CorpusSource(train, val, spec.n_vocab, f"token files {', '.join(map(str, paths))}")
