"""What one training run is: an architecture, a token budget, optimiser settings and a learning-rate schedule.

Pure Python/NumPy (no torch), so sweep design, the run store and the CLI can read and write specs without
the training extra.

Learning-rate schedule (``learning_rate``): linear warm-up to the peak, then a cosine decay to 10% of the
peak whose cycle ends exactly at the last step. Hoffmann et al. 2022 (Chinchilla, §3.1 and appendix B) show
that the cosine cycle must match the run's length — an overlong cycle leaves shorter runs under-decayed and
biases their loss upward — and decay by 10×.

Warmup-stable-decay (``schedule="wsd"``, ``wsd_learning_rate``): linear warm-up, then the constant peak, then
a cooldown over the last ``cooldown_steps`` steps to ``final_lr_ratio``·peak, linear or "1−sqrt" in shape
(Hägele et al. 2024, "Scaling Laws and Compute-Optimal Training Beyond Fixed Training Durations", §3 and
fig. 3: a cooldown of ~20% of the run, 1−sqrt best, matches or beats a cosine cycle of the same length).
Because nothing before the cooldown depends on the run's length, one constant-LR "trunk" serves every
length: a run of T steps with cooldown c is the trunk's state at step T − c, cooled down (see
``TrainSpec.stable_key``).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..flops import CONVENTIONS, Architecture

DATA_SOURCES = ("stdlib", "markov", "text", "tokens")
SCHEDULES = ("cosine", "wsd")
COOLDOWN_SHAPES = ("linear", "1-sqrt")
# torch.compile pays on CUDA only for larger models trained long enough. On an H100 (2026-11-26,
# benchmarks/train_throughput.py, compiled against --no-compile) a shape's first steps took 15-34 s to compile, and
# then a step took 33.3 against 7.0 ms eager (0.13M params, 256×256 tokens), 13.3 against 11.7 ms (0.86M), 31.6
# against 66.5 ms (19.5M) and 47.5 against 81.9 ms (124M): compiling repays itself after 700-1,000 steps from 20M
# parameters and never at 1M or below. A sweep of 8 tiny models ran 113 s compiled and 48 s eager. Between them,
# on an H200 (128×256 tokens a step): compiling saved 1.4 ms a step at 3.3M parameters (repaid after 8,400 steps)
# and 10.6 ms at 10.0M (after 1,700 steps; 18 s to compile).
COMPILE_MIN_PARAMS = 10_000_000
COMPILE_MIN_STEPS = 2_000


def compile_pays(n_params: int, n_steps: int) -> bool:
    """Whether a CUDA run of ``n_params`` parameters training ``n_steps`` optimiser steps is compiled by default
    (measured above; ``--compile``/``--no-compile`` override it)."""
    return n_params >= COMPILE_MIN_PARAMS and n_steps >= COMPILE_MIN_STEPS


def learning_rate(step, *, peak_lr: float, warmup_steps: int, n_steps: int, final_lr_ratio: float = 0.1):
    """Learning rate used by optimiser step ``step`` (0-based; scalars or NumPy arrays).

    With t = step + 1 the number of updates done once this step is taken, w = ``warmup_steps``, T = ``n_steps``,
    η = ``peak_lr`` and r = ``final_lr_ratio``:

        t ≤ w:  lr = η·t / w                                   (linear warm-up, reaches η at t = w)
        t > w:  lr = r·η + (1 − r)·η·½·(1 + cos(π·(t − w)/(T − w)))   (cosine, reaches r·η at t = T)

    The schedule is continuous at t = w and its last step (t = T) uses exactly r·η. A cosine decayed 10× over
    the run's own length is Hoffmann et al. 2022's (§3.1: a schedule longer than the run overestimates its loss).
    """
    t = np.asarray(step, dtype=float) + 1.0
    w, T = float(warmup_steps), float(n_steps)
    warm = peak_lr * t / max(w, 1.0)
    progress = np.clip((t - w) / max(T - w, 1.0), 0.0, 1.0)
    decay = peak_lr * (final_lr_ratio + (1.0 - final_lr_ratio) * 0.5 * (1.0 + np.cos(math.pi * progress)))
    lr = np.where(t <= w, warm, decay)
    return float(lr) if lr.ndim == 0 else lr


def wsd_learning_rate(step, *, peak_lr: float, warmup_steps: int, n_steps: int, cooldown_steps: int,
                      shape: str = "1-sqrt", final_lr_ratio: float = 0.0):
    """Warmup-stable-decay learning rate of optimiser step ``step`` (0-based; scalars or NumPy arrays).

    Hägele et al. 2024, §3 (the cooldown functions of their fig. 3). With t = step + 1, w = ``warmup_steps``,
    T = ``n_steps``, c = ``cooldown_steps``, S = T − c (the cooldown's start), η = ``peak_lr``,
    r = ``final_lr_ratio`` and x = (t − S)/c the share of the cooldown done:

        t ≤ w:       lr = η·t / w                       (linear warm-up, as ``learning_rate``)
        w < t ≤ S:   lr = η                             (stable)
        t > S:       lr = η·(r + (1 − r)·(1 − x))       (shape "linear")
                     lr = η·(r + (1 − r)·(1 − √x))      (shape "1-sqrt")

    The last step (t = T) uses exactly r·η. c = 0 gives a constant learning rate after warm-up: a trunk
    that cooldowns branch from. Steps before S do not depend on T or c.
    """
    if shape not in COOLDOWN_SHAPES:
        raise InputError(f"cooldown_shape: unknown {shape!r}; choose one of {', '.join(COOLDOWN_SHAPES)}")
    t = np.asarray(step, dtype=float) + 1.0
    w, c = float(warmup_steps), float(cooldown_steps)
    start = float(n_steps) - c
    warm = peak_lr * t / max(w, 1.0)
    x = np.clip((t - start) / max(c, 1.0), 0.0, 1.0)
    fall = x if shape == "linear" else np.sqrt(x)
    decay = peak_lr * (final_lr_ratio + (1.0 - final_lr_ratio) * (1.0 - fall))
    lr = np.where(t <= w, warm, np.where(t <= start, peak_lr, decay))
    return float(lr) if lr.ndim == 0 else lr


def check_token_file(path: Path, dtype: str) -> None:
    """A token file that exists and holds a whole, non-zero number of ``dtype`` tokens (NumPy's "Size of
    available data is not a multiple of the data-type size" named no file); at design and at load."""
    if not path.is_file():
        raise InputError(f"data.paths: token file {path} does not exist")
    size, itemsize = path.stat().st_size, np.dtype(dtype).itemsize
    if size == 0:
        raise InputError(f"data.paths: token file {path} is empty")
    if size % itemsize:
        raise InputError(f"data.paths: token file {path} holds {size:,} bytes, not a whole number of {dtype} tokens "
                         f"({itemsize} bytes each); check data.dtype")


def split_point(n_tokens: int, val_fraction: float) -> int:
    """Where one text or token file is split: its first round(n · (1 − val_fraction)) tokens train, the tail
    validates (`data.load_source`; the design-time checks count the same split)."""
    return int(round(n_tokens * (1 - val_fraction)))


SCAN_TOKENS = 1 << 24  # tokens read at a time by the id scan: 32 MiB of uint16, memory flat in the file's size


MIN_WIDTH_SAMPLE = 1024  # token pairs the uint32-read-as-uint16 check needs before it judges


def _uint32_read_as_uint16(head, dtype: str) -> bool:
    """Whether a file's first tokens, read as ``dtype``, are uint32 ids read as uint16: a zero high half at every
    second position, with some id non-zero."""
    return (np.dtype(dtype) == np.uint16 and len(head) >= 2 * MIN_WIDTH_SAMPLE and not head[1::2].any()
            and bool(head.any()))


def check_token_ids(path: Path, dtype: str, vocab_size: int) -> None:
    """Every token id in ``path`` below ``vocab_size``, found by one chunked scan at design time (a run met a
    bad id only when a random batch drew it, possibly hours in, and every run of the sweep failed on it). A
    uint32 file read as uint16 passed when its ids were small (below 65,536): every second uint16 is then the
    zero high half of an id, which the scan refuses (real text never puts token 0 at every other position)."""
    tokens = np.memmap(path, dtype=np.dtype(dtype), mode="r")
    for start in range(0, len(tokens), SCAN_TOKENS):
        chunk = tokens[start:start + SCAN_TOKENS]
        if start == 0 and _uint32_read_as_uint16(chunk, dtype):
            raise InputError(f"data.dtype: token file {path} read as uint16 has 0 at every second position (the "
                             f"first {len(chunk):,} tokens): it holds uint32 ids; set dtype = 'uint32'")
        top = int(chunk.max())
        if top >= vocab_size:
            first = start + int(np.argmax(chunk >= vocab_size))
            raise InputError(f"data.vocab_size: token file {path} holds token id {int(tokens[first])} at token "
                             f"{first:,}, not below vocab_size {vocab_size}; raise vocab_size to the tokenizer's "
                             f"or check data.dtype ({dtype})")


@dataclass(frozen=True)
class DataSpec:
    """Where tokens come from.

    source:
      ``stdlib``  the Python standard library's own ``*.py`` sources (code, docstrings and the documentation
                  text of ``pydoc_data/topics.py``) as bytes, vocab 256; nothing to download.
      ``markov``  a random first-order Markov chain over ``n_states`` symbols, whose entropy rate (the best
                  achievable loss) is known exactly; rows of its transition matrix are Dirichlet(``concentration``).
      ``text``    the bytes of the text files in ``paths`` (vocab 256).
      ``tokens``  nanoGPT-style token files of ``dtype`` (uint16/uint32): ``paths`` is a folder holding
                  ``train.bin`` and ``val.bin``, or [train.bin, val.bin], or one .bin file split at the end.
    seed: the data's own seed (the Markov chain; not the run's seed). val_fraction: share held out for
    validation for ``text`` and single-file ``tokens`` (the tail) and ``stdlib`` (every k-th file).
    """

    source: str = "stdlib"
    paths: tuple[str, ...] = ()
    n_states: int = 8
    concentration: float = 0.5
    seed: int = 0
    dtype: str = "uint16"
    vocab_size: int | None = None
    val_fraction: float = 0.1

    def __post_init__(self):
        # absolute: sweep.json keeps them, and a sweep run from another folder must find the same files
        object.__setattr__(self, "paths", tuple(os.path.abspath(p) for p in self.paths))
        if self.source not in DATA_SOURCES:
            raise InputError(f"data.source: unknown source {self.source!r}; choose one of {', '.join(DATA_SOURCES)}")
        if self.source in ("text", "tokens") and not self.paths:
            raise InputError(f"data.paths: source {self.source!r} needs at least one file in data.paths")
        if self.source not in ("text", "tokens") and self.paths:  # ignored: the runs trained on stdlib or Markov data
            raise InputError(f"data.paths: files are read by source 'text' or 'tokens' (data.source, --data); source "
                             f"{self.source!r} has its own data, so {self.paths[0]} would be ignored")
        if self.source == "markov" and not (isinstance(self.n_states, int) and 2 <= self.n_states <= 65536):
            raise InputError(f"data.n_states: must be an integer from 2 to 65536, got {self.n_states!r}")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**63):  # NumPy's generator refused it at run time
            raise InputError(f"data.seed: a whole number from 0 to 2^63 - 1, got {self.seed!r}")
        if not self.concentration > 0:
            raise InputError(f"data.concentration: must be positive, got {self.concentration!r}")
        if self.dtype not in ("uint16", "uint32"):
            raise InputError(f"data.dtype: must be 'uint16' or 'uint32', got {self.dtype!r}")
        if not 0 < self.val_fraction < 1:
            raise InputError(f"data.val_fraction: must be between 0 and 1, got {self.val_fraction!r}")
        if self.source == "stdlib" and self.val_fraction > 0.5:  # it was capped at 1 file in 2 in silence
            raise InputError(f"data.val_fraction: stdlib holds out every k-th file (k = round(1/val_fraction) ≥ 2), "
                             f"so at most 0.5; got {self.val_fraction!r}")
        if self.source == "tokens" and self.vocab_size is None:
            raise InputError("data.vocab_size: token files need their vocabulary size (e.g. 50257 for GPT-2)")
        if self.vocab_size is not None and not (isinstance(self.vocab_size, int) and self.vocab_size >= 2):
            raise InputError(f"data.vocab_size: a vocabulary of at least 2 tokens, got {self.vocab_size!r}")
        if self.source != "tokens" and self.vocab_size is not None:  # it was ignored: bytes are 256, Markov n_states
            raise InputError(f"data.vocab_size: applies to token files; source {self.source!r} has its own vocabulary "
                             f"({'n_states' if self.source == 'markov' else '256 byte values'}); leave it out")

    def check_files(self, seq_len: int | None = None) -> None:
        """Fail fast, at design time, on data no run could train on (each run used to fail on it instead):
        missing or empty files, token files that are not whole tokens of ``dtype``, a token folder without
        train.bin and val.bin, more than two token files, and (given ``seq_len``) text too short for one
        window of seq_len + 1 bytes in both its training and validation parts, and token ids not below
        vocab_size (one scan of each token file: about a second per GB)."""
        paths = [Path(p) for p in self.paths]
        for path in paths:
            if path.is_dir() and self.source == "text":
                raise InputError(f"data.paths: {path} is a folder; source 'text' reads files: list them")
            if not (path.is_file() or (self.source == "tokens" and path.is_dir())):
                raise InputError(f"data.paths: {path} does not exist")
        if self.source == "text":
            sizes = [path.stat().st_size for path in paths]
            for path, size in zip(paths, sizes):
                if size == 0:
                    raise InputError(f"data.paths: {path} is empty")
            shortest_part = sum(sizes) * min(self.val_fraction, 1 - self.val_fraction)
            if seq_len is not None and shortest_part < seq_len + 1:
                raise InputError(f"data.paths: {sum(sizes):,} bytes of text hold no window of seq_len + 1 = "
                                 f"{seq_len + 1} bytes in both the training and the validation part "
                                 f"(val_fraction {self.val_fraction:g}); give more text or a shorter seq_len")
        if self.source == "tokens":
            files = self.token_files()
            for path in files:
                check_token_file(path, self.dtype)
                check_token_ids(path, self.dtype, self.n_vocab)
            parts = self._token_split()
            if seq_len is not None and min(parts) < seq_len + 1:
                held = " and ".join(f"{c:,}" for c in parts)
                raise InputError(f"data.paths: {', '.join(map(str, files))} hold {held} training and validation "
                                 f"tokens, too few for one window of seq_len + 1 = {seq_len + 1}; give more tokens "
                                 f"or a shorter seq_len")

    def training_tokens(self) -> int | None:
        """Tokens in the training split of a ``text`` or ``tokens`` source (its bytes or tokens less the held-out
        part); None for ``stdlib`` and ``markov`` (a Markov chain never repeats; the standard library is read
        only to train)."""
        if self.source == "text":
            return split_point(sum(Path(p).stat().st_size for p in self.paths), self.val_fraction)
        if self.source == "tokens":
            return self._token_split()[0]
        return None

    def _token_split(self) -> tuple[int, int]:
        """(training, validation) tokens of a ``tokens`` source: a [train, val] pair's, or one file's split."""
        counts = [path.stat().st_size // np.dtype(self.dtype).itemsize for path in self.token_files()]
        if len(counts) == 2:
            return counts[0], counts[1]
        train = split_point(counts[0], self.val_fraction)
        return train, counts[0] - train

    def token_files(self) -> list[Path]:
        """The token files of a ``tokens`` source: one (split at its tail), a [train, val] pair, or a folder's
        train.bin and val.bin."""
        paths = [Path(p) for p in self.paths]
        if len(paths) > 2:
            raise InputError(f"data.paths: give one token file, a train/val pair or a folder, got {len(paths)} paths")
        if len(paths) == 1 and paths[0].is_dir():
            return [paths[0] / "train.bin", paths[0] / "val.bin"]
        return paths

    @property
    def n_vocab(self) -> int:
        """Vocabulary size the data implies: 256 for bytes, n_states for Markov, the given size for tokens."""
        if self.source == "markov":
            return self.n_states
        if self.source == "tokens":
            return int(self.vocab_size)
        return 256

    def to_dict(self) -> dict:
        out = asdict(self)
        out["paths"] = list(self.paths)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "DataSpec":
        return cls(**{**d, "paths": tuple(d.get("paths", ()))})


def check_schedule_names(schedule: str, cooldown_shape: str) -> None:
    """InputError naming the key when the schedule or the cooldown's shape is not one this trainer knows."""
    if schedule not in SCHEDULES:
        raise InputError(f"schedule: unknown {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    if cooldown_shape not in COOLDOWN_SHAPES:
        raise InputError(f"cooldown_shape: unknown {cooldown_shape!r}; choose one of {', '.join(COOLDOWN_SHAPES)}")


@dataclass(frozen=True)
class TrainSpec:
    """Everything the trainer needs to train one model, deterministically given ``seed``.

    Units: ``batch_size`` in sequences of ``arch.seq_len`` tokens per optimiser step; ``n_tokens`` =
    n_steps·batch_size·seq_len training tokens; ``flops`` = n_tokens·arch.flops_per_token(flop_convention);
    ``eval_every`` and ``checkpoint_every`` in steps; ``eval_sequences`` validation sequences per evaluation.
    AdamW with β = (0.9, 0.95), weight decay 0.1 and gradient clipping at 1.0 are the GPT-3/nanoGPT settings
    (Brown et al. 2020, appendix B).
    """

    arch: Architecture
    n_steps: int
    batch_size: int
    peak_lr: float
    warmup_steps: int
    seed: int = 0
    data: DataSpec = field(default_factory=DataSpec)
    final_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    flop_convention: str = "6N"
    eval_every: int = 100
    eval_sequences: int = 64
    checkpoint_every: int = 200
    # Warmup-stable-decay (see wsd_learning_rate); to_dict leaves these out for cosine runs, so the specs
    # of existing sweeps read and compare as before.
    schedule: str = "cosine"
    cooldown_steps: int = 0
    cooldown_shape: str = "1-sqrt"
    keep_checkpoints: tuple[int, ...] = ()  # steps whose state is kept as branch-STEP.pt (cooldowns start there)

    def __post_init__(self):
        for name in ("n_steps", "batch_size", "warmup_steps", "eval_every", "eval_sequences", "checkpoint_every"):
            value = getattr(self, name)
            if int(value) != value or value < (0 if name == "warmup_steps" else 1):
                raise InputError(f"{name}: must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if not self.peak_lr > 0:
            raise InputError(f"peak_lr: must be positive, got {self.peak_lr!r}")
        if self.flop_convention not in CONVENTIONS:
            raise InputError(f"flop_convention: unknown {self.flop_convention!r}; "
                             f"choose one of {', '.join(CONVENTIONS)}")
        self._check_schedule()
        if self.arch.vocab_size != self.data.n_vocab:
            raise InputError(f"vocab_size: the model has {self.arch.vocab_size} tokens but data source "
                             f"{self.data.source!r} has {self.data.n_vocab}")

    def _check_schedule(self) -> None:
        check_schedule_names(self.schedule, self.cooldown_shape)
        c = self.cooldown_steps
        if isinstance(c, bool) or int(c) != c or not 0 <= c <= self.n_steps:
            raise InputError(f"cooldown_steps: must be an integer from 0 to n_steps ({self.n_steps}), got {c!r}")
        object.__setattr__(self, "cooldown_steps", int(c))
        if self.schedule == "cosine" and (self.cooldown_steps or self.keep_checkpoints):
            raise InputError("cooldown_steps/keep_checkpoints: only a schedule = 'wsd' run has a cooldown")
        keep = tuple(sorted({int(k) for k in self.keep_checkpoints}))
        if any(not 1 <= k <= self.n_steps for k in keep):
            raise InputError(f"keep_checkpoints: steps must lie in 1..n_steps ({self.n_steps}), got {keep}")
        object.__setattr__(self, "keep_checkpoints", keep)

    @property
    def seq_len(self) -> int:
        return self.arch.seq_len

    @property
    def decay_start(self) -> int:
        """Optimiser steps taken before the cooldown begins (n_steps for cosine: no shared stable phase)."""
        return self.n_steps - self.cooldown_steps if self.schedule == "wsd" else self.n_steps

    def stable_key(self) -> dict:
        """What fixes the trajectory up to ``decay_start`` under WSD: two WSD specs with equal keys reach the
        same state at any step both take before their cooldowns (batches depend on (seed, step) only)."""
        d = self.to_dict()
        for name in ("n_steps", "cooldown_steps", "cooldown_shape", "final_lr_ratio", "keep_checkpoints",
                     "eval_every", "checkpoint_every", "eval_sequences"):
            d.pop(name, None)
        return d

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.arch.seq_len

    @property
    def n_params(self) -> int:
        return self.arch.n_params

    @property
    def n_tokens(self) -> int:
        return self.n_steps * self.tokens_per_step

    @property
    def flops_per_token(self) -> float:
        return self.arch.flops_per_token(self.flop_convention)

    @property
    def flops(self) -> float:
        return self.n_tokens * self.flops_per_token

    @property
    def eval_flops(self) -> float:
        """Forward FLOPs of the run's evaluations (every ``eval_every`` steps and at the end, ``eval_sequences``
        sequences each): a third of the training count per token (forward only, Kaplan et al. 2020, §2.1)."""
        n_evals = self.n_steps // self.eval_every + (self.n_steps % self.eval_every != 0)
        return n_evals * self.eval_sequences * self.seq_len * self.flops_per_token / 3.0

    def lr(self, step):
        """Learning rate of optimiser step ``step`` (0-based); see ``learning_rate`` / ``wsd_learning_rate``."""
        if self.schedule == "wsd":
            return wsd_learning_rate(step, peak_lr=self.peak_lr, warmup_steps=self.warmup_steps,
                                     n_steps=self.n_steps, cooldown_steps=self.cooldown_steps,
                                     shape=self.cooldown_shape, final_lr_ratio=self.final_lr_ratio)
        return learning_rate(step, peak_lr=self.peak_lr, warmup_steps=self.warmup_steps, n_steps=self.n_steps,
                             final_lr_ratio=self.final_lr_ratio)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.schedule == "cosine":  # the keys a cosine spec had before WSD existed, nothing more
            for name in ("schedule", "cooldown_steps", "cooldown_shape", "keep_checkpoints"):
                del out[name]
        else:
            out["keep_checkpoints"] = list(self.keep_checkpoints)
        arch = self.arch
        out["arch"] = {f.name: getattr(arch, f.name) for f in fields(arch)}
        out["data"] = self.data.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "TrainSpec":
        return cls(**{**d, "arch": Architecture(**d["arch"]), "data": DataSpec.from_dict(d["data"]),
                      "keep_checkpoints": tuple(d.get("keep_checkpoints", ()))})
