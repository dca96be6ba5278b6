"""IsoFLOP sweep design: for each compute budget, a few model sizes around the predicted optimum, each snapped
to a real transformer shape and given the tokens that spend exactly its budget.

For a budget C the prior law's compute-optimal size N*(C) (Hoffmann et al. 2022, eq. 4, via
the law's own ``compute_optimal``) is scaled by ``center`` and the k = ``sizes_per_budget`` targets are spread
log-uniformly over [N*/spread, N*·spread]:

    N_i = center · N*(C) · spread^(u_i),   u_i = −1 + 2i/(k−1),  i = 0..k−1.

Each target is snapped to a shape by ``isoflop.flops.propose_architecture``; from then on only the shape's
EXACT parameter count N is used. Tokens follow the FLOP convention: D = C / flops_per_token(N), i.e.
D = C/(6N) under the default "6N". D is rounded to whole optimiser steps of batch_size · seq_len tokens, so a
run's recorded ``flops`` (what it really spends) is within half a step of its budget. Batch size, learning
rate and warm-up come from a named rule in ``rules.py``; the schedule is warm-up + cosine to 10% over exactly
the run (``isoflop.train.spec.learning_rate``).

Warmup-stable-decay sweeps (``schedule = "wsd"``; Hägele et al. 2024, "Scaling Laws and Compute-Optimal
Training Beyond Fixed Training Durations", §3-4): every model size in ``sizes`` trains once at constant
learning rate (its *trunk*), and for each budget C a short cooldown branches off the trunk so that the point
ends at D = C / flops_per_token(N) tokens: with f = ``cooldown_fraction`` the branch is at D/(1 + f) tokens and
the cooldown trains the remaining f/(1 + f)·D (f = 0.2: the paper's ~20% cooldown). Each cooldown is a result
point (N, D, loss) of its own; the trunk is not. The design counts each stable phase once
(``total_flops``) and reports the FLOPs saved against the same points trained as separate cosine runs
(``grid_flops`` − ``total_flops``). All cooldowns of a size share the trunk's batch size and learning rate,
taken from the rule at the size's largest budget (or ``peak_lr`` / ``batch_tokens``).

Nothing here imports torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import UnionType
from typing import Union, get_args, get_origin, get_type_hints

import numpy as np

from ..errors import InputError
from ..flops import BLOCKS, CONVENTIONS, propose_architecture
from ..laws import point_law, require_nd_law
from ..planning import check_flops
from ..presets import get_law
from ..train.spec import DataSpec, TrainSpec, check_schedule_names, compile_pays
from ..units import format_quantity, is_number, parse_quantity
from .rules import get_rule

# Rough sustained training throughput for the design-time time estimate (override with --device-flops).
# cpu: 2e10 FLOP/s — tiny models on 2 cores of a recent x86 CPU sustain 1.5e10-1e11 FLOP/s (measured with
#      benchmarks/train_throughput.py); small models are overhead-bound, hence the low end.
# cuda: 1e14 FLOP/s — about 10% of an H100's dense bf16 peak (989 TFLOP/s): small models are far from
#      the 40-50% MFU that large ones reach.
DEVICE_FLOPS = {"cpu": 2e10, "cuda": 1e14}
# Seconds each optimiser step costs beyond its FLOPs (Python, the optimiser, data, kernel launches): the
# estimate of tiny models, which are overhead-bound, was 3.6x short without it. Measured with
# benchmarks/step_overhead.py (the 8 runs of `sweep design --budgets 1e10,3e10 --head-dim 8 --data markov`, 5,219
# steps, 1.6e11 FLOPs): cpu, 2 cores, 32 s (2026-11-26), 23 s beyond their FLOPs; cuda, an H100 (2026-11-26), 7.4 ms
# a step eager (the runs' own seconds; 48 s with each run's start), more than a CPU takes for such small models.
STEP_SECONDS = {"cpu": 4.4e-3, "cuda": 7.4e-3}
# Seconds torch.compile takes for each CUDA run it compiles (train.spec.compile_pays): 15-34 s measured on an H100
# for models of 0.86M-124M parameters (benchmarks/train_throughput.py, its first steps).
COMPILE_SECONDS = {"cpu": 0.0, "cuda": 30.0}
MAX_GRID = 1000  # budgets, or sizes per budget, in one sweep
# Largest model a sweep may target: 10× the largest dense models trained so far. A budget like 1e30 FLOPs puts
# N* near 1e14, an absurd model for a sweep and, before the search was bounded, an out-of-memory snap.
MAX_SWEEP_N_PARAMS = 1e13
# Most tokens one run of a sweep may train on: ~100× the largest pre-training sets (Llama 3: 15T). A fixed small
# size at a huge budget (20K params at 1e30 FLOPs) otherwise designs a run of 1e21 steps and 1e12 years.
MAX_RUN_TOKENS = 1e15


def _check_run_tokens(n_tokens: float, n_params: int, budget: float) -> None:
    if not n_tokens <= MAX_RUN_TOKENS:
        raise InputError(f"budgets: {budget:.3g} FLOPs trains the {n_params:,}-parameter model on {n_tokens:.3g} "
                         f"tokens, beyond the {MAX_RUN_TOKENS:.0e} a sweep run can; lower budgets or raise sizes")

# Query heads per key/value head of the llama block by default: Llama 2 70B and Llama 3 use 8 (64 / 8 heads);
# a sweep's small models have 1-16 heads, so 2 keeps at least a few key/value heads while still exercising
# grouped-query attention. Set query_groups in the config to change it.
LLAMA_QUERY_GROUPS = 2
# The rules warm up over N tokens (Porian et al. 2024), a handful of steps for a tiny model: 6 steps for 12K
# parameters at 2,048 tokens per step. Adam's second-moment estimate needs ~2/(1 − β2) steps before its updates
# settle (Ma & Yarats 2021, "On the adequacy of untuned warmup for adaptive optimization": 40 at β2 = 0.95),
# and below that the outcome is chaotic. Measured on the demo's byte-level GPTs (LR 0.01, 1.6M tokens, seeds
# 0-2; benchmarks/warmup_seeds.py): a 72K model's final loss spread 9.9% across seeds with 17 warm-up steps,
# 6.4% with 35, 2.9% with 40 and 1.1% with 100; a 181K one 0.6% with 89-100. Hence a floor of 100 steps (at
# most a quarter of the run, below).
MIN_WARMUP_STEPS = 100


@dataclass(frozen=True)
class SweepConfig:
    """What to sweep. Keys of a TOML config file are these field names (``data`` is a [data] table).

    budgets: compute budgets C in FLOPs. sizes_per_budget: model sizes per budget. spread: the largest size is
    spread × the centre and the smallest centre / spread. center: multiplies the prior law's N*(C) (1 = trust
    the prior). law: preset name of the prior law. flop_convention: how a run's FLOPs are counted
    (isoflop.flops.CONVENTIONS). seq_len, vocab_size (default: the data's), head_dim, aspect_ratio
    (d_model/n_layer), snap_tolerance (relative miss allowed when snapping): the shape. block: the block
    family trained, "gpt2" (LayerNorm, GELU, learned positions, biases, tied head) or "llama" (RMSNorm,
    SwiGLU, rotary, no biases, untied head; isoflop.flops.BLOCKS); tied_embeddings, bias: override the
    block's choice. query_groups: query heads per key/value head (grouped-query attention; default 1 for
    gpt2, LLAMA_QUERY_GROUPS for llama); shapes are snapped with the block's own parameter accounting.
    hyper_rule: batch/LR rule in rules.RULES; lr_multiplier scales its learning rate; batch_tokens / peak_lr
    override it. seed: every run's seed (shared, so runs see the same batches: common random numbers).
    evals_per_run, checkpoints_per_run, eval_sequences: measurement and checkpoint cadence.
    schedule: 'cosine' (a separate run per point) or 'wsd' (one trunk per size, a cooldown per point; see the
    module docstring). sizes: target model sizes used at every budget instead of the grid around N*(C)
    (required for wsd). cooldown_fraction: cooldown length as a fraction of the branch point's tokens;
    cooldown_shape: 'linear' or '1-sqrt'. min_tokens_per_param / max_tokens_per_param: drop grid points
    whose D/N falls outside; min_n_tokens: drop points of fewer tokens (runs of a few hundred steps are
    limited by optimisation, not by data, and bend the fitted exponents). min_warmup_steps: the fewest
    warm-up steps of any run (``warmup_steps``), whatever the rule's warm-up tokens give.
    """

    budgets: tuple[float, ...]
    sizes_per_budget: int = 4
    spread: float = 3.0
    center: float = 1.0
    law: str = "besiroglu2024"
    flop_convention: str = "6N"
    seq_len: int = 64
    vocab_size: int | None = None
    head_dim: int = 16
    aspect_ratio: float = 32.0
    snap_tolerance: float = 0.25
    tied_embeddings: bool | None = None
    bias: bool | None = None
    block: str = "gpt2"
    query_groups: int | None = None
    hyper_rule: str = "deepseek2024"
    lr_multiplier: float = 1.0
    batch_tokens: float | None = None
    peak_lr: float | None = None
    seed: int = 0
    evals_per_run: int = 20
    checkpoints_per_run: int = 5
    eval_sequences: int = 128
    data: DataSpec = field(default_factory=DataSpec)
    schedule: str = "cosine"
    sizes: tuple[float, ...] | None = None
    cooldown_fraction: float = 0.2
    cooldown_shape: str = "1-sqrt"
    min_tokens_per_param: float | None = None
    max_tokens_per_param: float | None = None
    min_n_tokens: float | None = None
    min_warmup_steps: int = MIN_WARMUP_STEPS

    def __post_init__(self):
        self._check_wsd()
        budgets = self.budgets if isinstance(self.budgets, (list, tuple)) else [self.budgets]
        if isinstance(self.budgets, np.ndarray):  # np.logspace(…): a list of budgets, as a notebook writes one
            budgets = self.budgets.ravel().tolist()
        if not budgets:
            raise InputError("budgets: give at least one compute budget in FLOPs, e.g. budgets = [1e11, 3e11]")
        object.__setattr__(self, "budgets", tuple(sorted(parse_quantity(b, "budgets") for b in budgets)))
        if len(budgets) > MAX_GRID:
            raise InputError(f"budgets: {len(budgets):,} budgets is more than a sweep of {MAX_GRID} can use; give fewer")
        # upper bounds: far beyond any real sweep, well before a grid that exhausts memory
        for name, low, high in (("sizes_per_budget", 1, MAX_GRID), ("seq_len", 1, 1 << 20), ("head_dim", 1, 1 << 16),
                                ("evals_per_run", 1, 100_000), ("checkpoints_per_run", 1, 100_000),
                                ("eval_sequences", 1, 1 << 20), ("seed", 0, 2**63 - 1),
                                ("min_warmup_steps", 0, 1_000_000)):
            value = getattr(self, name)
            if isinstance(value, np.integer):  # an integer all the same (np.arange, a pandas cell): stored as int
                value = int(value)
                object.__setattr__(self, name, value)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InputError(f"{name}: must be an integer from {low} to {high:,}, got {value!r}")
        for name in ("spread", "center", "aspect_ratio", "snap_tolerance", "lr_multiplier"):
            _check_positive_finite(name, getattr(self, name))
        if self.spread < 1 or (self.spread == 1 and self.sizes_per_budget > 1):
            raise InputError(f"spread: must be > 1 (largest size / centre) for {self.sizes_per_budget} sizes per budget "
                             f"(1 puts them all on one size), got {self.spread!r}")
        for name in ("batch_tokens", "peak_lr"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, parse_quantity(value, name))
        if self.flop_convention not in CONVENTIONS:
            raise InputError(f"flop_convention: unknown {self.flop_convention!r}; "
                             f"choose one of {', '.join(CONVENTIONS)}")
        get_rule(self.hyper_rule)
        if self.query_groups is None:
            object.__setattr__(self, "query_groups", LLAMA_QUERY_GROUPS if self.block == "llama" else 1)
        if isinstance(self.query_groups, bool) or not isinstance(self.query_groups, int) or self.query_groups < 1:
            raise InputError(f"query_groups: must be an integer ≥ 1 (query heads per key/value head), "
                             f"got {self.query_groups!r}")
        if self.block not in BLOCKS:
            raise InputError(f"block: unknown block {self.block!r}; choose one of {', '.join(BLOCKS)}")
        if BLOCKS[self.block]["position"] == "rotary" and self.head_dim % 2:  # every run failed in apply_rotary
            raise InputError(f"head_dim: rotary positions (block {self.block!r}) rotate pairs of a head's dimensions, "
                             f"so head_dim must be even, got {self.head_dim}")
        for name in ("tied_embeddings", "bias"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, BLOCKS[self.block][name])
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"{name}: must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.law, str):
            raise InputError(f"law: must be a preset name, got {self.law!r} (pass a law object to design_sweep)")
        if isinstance(self.data, str):  # data = "stdlib" shorthand
            object.__setattr__(self, "data", {"source": self.data})
        if not isinstance(self.data, (dict, DataSpec)):
            raise InputError(f"data: must be a [data] table or a source name, got {self.data!r}")
        if isinstance(self.data, dict):
            data = dict(self.data)
            if self.vocab_size is not None and data.get("source") == "tokens":
                data.setdefault("vocab_size", self.vocab_size)
            object.__setattr__(self, "data", _data_from_dict(data))
        get_law(self.law)
        if self.vocab_size is not None and self.vocab_size != self.data.n_vocab:
            raise InputError(f"vocab_size: {self.vocab_size} does not match data source {self.data.source!r}, "
                             f"which has {self.data.n_vocab} tokens; leave vocab_size out to use the data's")

    def _check_wsd(self) -> None:
        check_schedule_names(self.schedule, self.cooldown_shape)
        f = self.cooldown_fraction
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 1:
            raise InputError(f"cooldown_fraction: must be a number in (0, 1] (0.2 = a cooldown of 20% of the "
                             f"branch point's tokens), got {f!r}")
        if self.sizes is not None:
            sizes = self.sizes if isinstance(self.sizes, (list, tuple)) else [self.sizes]
            object.__setattr__(self, "sizes", tuple(sorted(parse_quantity(n, "sizes") for n in sizes)))
            if not self.sizes:
                raise InputError("sizes: give at least one model size, e.g. sizes = [1e4, 3e4, 1e5]")
            if self.sizes[-1] > MAX_SWEEP_N_PARAMS:
                raise InputError(f"sizes: {self.sizes[-1]:.3g} parameters is beyond the {MAX_SWEEP_N_PARAMS:.0e} "
                                 f"a sweep can train; give smaller sizes")
        elif self.schedule == "wsd":
            raise InputError("sizes: a wsd sweep trains one trunk per model size; list the sizes, "
                             "e.g. sizes = [1e4, 3e4, 1e5]")
        if self.min_n_tokens is not None:
            object.__setattr__(self, "min_n_tokens", parse_quantity(self.min_n_tokens, "min_n_tokens"))
        for name in ("min_tokens_per_param", "max_tokens_per_param"):
            if getattr(self, name) is not None:
                _check_positive_finite(name, getattr(self, name))

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["budgets"] = list(self.budgets)
        out["data"] = self.data.to_dict()
        # A config written before WSD keeps its keys: the later keys are left out while at their defaults.
        # Every key set to something else stays, since from_dict(to_dict()) must give the same design (the
        # CLI rebuilds configs this way; dropping min_n_tokens & co. once silently unfiltered cosine sweeps).
        defaults = {f.name: f.default for f in fields(self) if f.name in _WSD_KEYS}
        for name in _WSD_KEYS:
            if out[name] == defaults[name]:
                del out[name]
        if self.sizes is not None:
            out["sizes"] = list(self.sizes)
        return out

    @property
    def n_vocab(self) -> int:
        return self.data.n_vocab

    @classmethod
    def from_dict(cls, d: dict, source: str = "config") -> "SweepConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"{source}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}")
        if "budgets" not in d:
            raise InputError(f"{source}: missing key budgets (compute budgets in FLOPs, e.g. budgets = [1e11, 3e11])")
        check_types(cls, d, source)
        defaults = {f.name: f.default for f in fields(cls)}
        # a stored config (sweep.json) carries every key: only a value other than the default was chosen
        check_placing(d, [k for k in PLACING if k in d and d[k] != defaults[k]], source)
        if isinstance(d.get("data"), dict):
            check_types(DataSpec, d["data"], source, prefix="data.")
        try:
            return cls(**d)
        except InputError as exc:  # a value's own check: name the file it came from, as the type checks do
            if source == "config" or str(exc).startswith(source):
                raise
            raise InputError(f"{source}: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> "SweepConfig":
        try:
            import tomllib  # Python ≥ 3.11
        except ImportError:  # Python 3.10: the same parser, packaged as tomli
            try:
                import tomli as tomllib
            except ImportError:
                raise InputError("config: reading TOML on Python 3.10 needs tomli (pip install tomli)") from None
        path = Path(path)
        if path.is_dir():
            raise InputError(f"config: {path} is a folder, not a TOML config (a sweep folder is read by `isoflop "
                             f"sweep run` and `sweep status`)")
        if not path.is_file():
            raise InputError(f"config: {path} does not exist")
        try:
            d = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"config: {path} is not valid TOML ({exc})") from None
        data = d.get("data")
        if isinstance(data, dict) and isinstance(data.get("paths"), list) and all(
                isinstance(p, str) for p in data["paths"]):  # relative data paths are relative to the config file
            data["paths"] = [str((path.parent / p) if not Path(p).is_absolute() else Path(p))
                             for p in data["paths"]]
        check_placing(d, [k for k in PLACING if k in d], str(path))  # a file a person wrote: each key was chosen
        return cls.from_dict(d, source=str(path))


PLACING = ("sizes_per_budget", "spread", "center")  # the keys that place a grid's sizes around the prior's optimum


def check_placing(d: dict, chosen, source: str) -> None:
    """Refuse ``chosen`` keys of PLACING beside ``sizes``: they place the grid around the prior law's optimum, so
    beside fixed sizes they would do nothing (sizes_per_budget = 4, the default, was accepted in silence)."""
    if d.get("sizes") is not None and chosen:
        raise InputError(f"{source}: sizes lists the model sizes, so {', '.join(sorted(chosen))} (which place them "
                         f"around the prior law's optimum) do not apply; give one or the other")


def _check_positive_finite(name: str, value) -> None:
    """The dataclass's own check, as strict as the TOML path's (``check_types``): Python callers once got
    aspect_ratio = inf or lr_multiplier = inf accepted, and shapes or learning rates of inf."""
    if not is_number(value) or not math.isfinite(value) or value <= 0:
        raise InputError(f"{name}: must be a positive finite number, got {value!r}")


_WSD_KEYS = ("schedule", "sizes", "cooldown_fraction", "cooldown_shape", "min_tokens_per_param",
             "max_tokens_per_param", "min_n_tokens")


def _data_from_dict(d: dict) -> DataSpec:
    known = {f.name for f in fields(DataSpec)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise InputError(f"data: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}")
    return DataSpec.from_dict(d)


# ------------------------------------------------------------------------------------ config type checks

# Fields read by units.parse_quantity, which also takes text such as "70B" and names the key when it fails.
QUANTITY_FIELDS = ("budgets", "batch_tokens", "peak_lr")


def _describe_type(hint) -> str | None:
    """What a value of annotation ``hint`` must be, in words; None for kinds not checked here."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):
        inner = [a for a in args if a is not type(None)]
        described = _describe_type(inner[0]) if len(inner) == 1 else None
        return described and f"{described} (or left out)"
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        element = {str: "strings", int: "whole numbers", float: "finite numbers"}.get(args[0])
        return element and f"a list of {element}"
    return {bool: "true or false", int: "a whole number", float: "a finite number", str: "a string",
            DataSpec: "a [data] table or a source name"}.get(hint)


def _fits(value, hint) -> bool:
    """Whether ``value`` (as TOML or JSON gives it) fits annotation ``hint``; kinds not listed pass (the
    dataclass's own checks see them)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):
        return (value is None and type(None) in args) or any(_fits(value, a) for a in args if a is not type(None))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return isinstance(value, (list, tuple, np.ndarray)) and all(_fits(v, args[0]) for v in value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:  # NumPy's integers too: a notebook's np.arange or pandas value
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if hint is float:
        return (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
                and math.isfinite(value))
    if hint is str:
        return isinstance(value, str)
    if hint is DataSpec:
        return isinstance(value, (dict, str, DataSpec))
    return True


def _is_quantity(value) -> bool:
    """A number or text for parse_quantity; booleans are not numbers (true would read as 1 FLOP)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return len(value) > 0 and all(_is_quantity(v) for v in value)
    return isinstance(value, (int, float, str, np.integer, np.floating)) and not isinstance(value, bool)


def check_types(cls, d: dict, source: str, prefix: str = "") -> None:
    """InputError naming the file, key and expected type for the first value of ``d`` whose type does not
    fit ``cls``'s field annotation (TOML hands over whatever was written: ``concentration = "high"``,
    ``hyper_rule = ["x"]``, ``center = inf``). Keys that are not fields are left to the caller."""
    hints = get_type_hints(cls)
    for key, value in d.items():
        if key not in hints:
            continue
        if key in QUANTITY_FIELDS:
            ok, expected = value is None or _is_quantity(value), "a number such as 1e11 or 70B, or a list of them"
        else:
            ok, expected = _fits(value, hints[key]), _describe_type(hints[key]) or f"of type {hints[key]}"
        if not ok:
            raise InputError(f"{source}: {prefix}{key} must be {expected}, got {value!r} "
                             f"({type(value).__name__})")


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: its ``run_id``, the budget it was designed for, and what to train.

    ``n_params`` (exact, total), ``n_tokens`` and ``flops`` (= n_tokens · flops per token under
    ``train.flop_convention``) are what the run really does; ``flops_budget`` and ``target_n_params`` are the
    grid point it was snapped from. ``trunk``: for a WSD cooldown, the run id of the trunk it branches from.
    """

    run_id: str
    flops_budget: float
    target_n_params: float
    train: TrainSpec
    trunk: str | None = None

    @property
    def kind(self) -> str:
        """'cosine' (a run of its own), 'trunk' (a WSD stable phase; not a result point) or 'cooldown'."""
        if self.train.schedule != "wsd":
            return "cosine"
        return "cooldown" if self.trunk is not None else "trunk"

    @property
    def is_point(self) -> bool:
        """Whether the run's final loss is a result point (N, D, loss) for the fits; a trunk's is not."""
        return self.kind != "trunk"

    @property
    def train_flops(self) -> float:
        """FLOPs this run trains itself: a cooldown only its cooldown steps (its stable phase is the trunk's)."""
        return self.steps_trained * self.train.tokens_per_step * self.train.flops_per_token

    @property
    def n_params(self) -> int:
        return self.train.n_params

    @property
    def steps_trained(self) -> int:
        """Optimiser steps this run trains itself: a cooldown only its cooldown steps."""
        return self.train.cooldown_steps if self.kind == "cooldown" else self.train.n_steps

    @property
    def n_tokens(self) -> int:
        return self.train.n_tokens

    @property
    def flops(self) -> float:
        return self.train.flops

    def to_dict(self) -> dict:
        out = {"run_id": self.run_id, "flops_budget": self.flops_budget, "target_n_params": self.target_n_params,
               "n_params": self.n_params, "n_tokens": self.n_tokens, "flops": self.flops,
               "train": self.train.to_dict()}
        if self.kind != "cosine":
            out.update(kind=self.kind, trunk=self.trunk)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        return cls(run_id=d["run_id"], flops_budget=float(d["flops_budget"]),
                   target_n_params=float(d["target_n_params"]), train=TrainSpec.from_dict(d["train"]),
                   trunk=d.get("trunk"))


@dataclass(frozen=True)
class SweepDesign:
    """The grid: the config it came from, the prior law's name, the runs and notes (e.g. merged sizes)."""

    config: SweepConfig
    law: str
    runs: tuple[RunSpec, ...]
    warnings: tuple[str, ...] = ()

    def __repr__(self) -> str:  # each run's whole spec (~900 characters) filled a notebook cell; .runs has them
        return (f"SweepDesign(law={self.law!r}, runs={len(self.runs)} ({len(self.points)} points over "
                f"{len(self.config.budgets)} budgets), total_flops={self.total_flops:.3g}, warnings={self.warnings!r})")

    @property
    def total_flops(self) -> float:
        """FLOPs the sweep trains: each WSD stable phase counted once (``RunSpec.train_flops``)."""
        return float(sum(r.train_flops for r in self.runs))

    @property
    def points(self) -> tuple[RunSpec, ...]:
        """The runs whose final losses are result points (every run but WSD trunks)."""
        return tuple(r for r in self.runs if r.is_point)

    @property
    def grid_flops(self) -> float:
        """FLOPs of the same points trained as separate runs (a cosine run each)."""
        return float(sum(r.flops for r in self.points))

    @property
    def flops_saved(self) -> float:
        """grid_flops − total_flops: what sharing the stable phases saves (0 for a cosine sweep)."""
        return self.grid_flops - self.total_flops

    def estimate_seconds(self, device_flops: float, step_seconds: float = 0.0, compile_seconds: float = 0.0) -> float:
        """Rough wall time: training and evaluation FLOPs / ``device_flops`` (sustained FLOP/s), plus
        ``step_seconds`` per optimiser step trained (`STEP_SECONDS`) and ``compile_seconds`` for each run that is
        compiled by default on CUDA (`compiled_runs`; `COMPILE_SECONDS`). Evaluation counts: 16.7M sequences
        per evaluation were estimated at 3 minutes by training alone."""
        steps = sum(r.steps_trained for r in self.runs)
        return ((self.total_flops + sum(r.train.eval_flops for r in self.runs)) / device_flops
                + steps * step_seconds + len(self.compiled_runs) * compile_seconds)

    @property
    def compiled_runs(self) -> tuple[RunSpec, ...]:
        """The runs ``sweep run`` compiles on CUDA unless told (train.spec.compile_pays)."""
        return tuple(r for r in self.runs if compile_pays(r.n_params, r.steps_trained))

    def to_dict(self) -> dict:
        return {"law": self.law, "total_flops": self.total_flops, "grid_flops": self.grid_flops,
                "flops_saved": self.flops_saved, "n_points": len(self.points), "n_runs": len(self.runs),
                "warnings": list(self.warnings), "config": self.config.to_dict(),
                "runs": [r.to_dict() for r in self.runs]}

    @classmethod
    def from_dict(cls, d: dict) -> "SweepDesign":
        return cls(config=SweepConfig.from_dict(d["config"]), law=d["law"],
                   runs=tuple(RunSpec.from_dict(r) for r in d["runs"]), warnings=tuple(d.get("warnings", ())))


def format_budget(flops: float) -> str:
    """1e13 → '1e13', 3e11 → '3e11', 1.5e11 → '1.5e11' (for run ids)."""
    mantissa, exponent = f"{flops:.3g}".split("e") if "e" in f"{flops:.3g}" else (f"{flops:.3g}", "0")
    return f"{mantissa}e{int(exponent)}"


def _check_distinct_budgets(budgets) -> None:
    """Run ids carry the budget to 3 significant digits (``format_budget``): two budgets with the same id
    would design their runs into the same folders."""
    seen = {}
    for budget in budgets:
        label = format_budget(budget)
        if label in seen:
            same = "is given twice" if seen[label] == budget else f"and {seen[label]:g} both round to {label}"
            raise InputError(f"budgets: {budget:g} {same}; give each budget once, differing in its first 3 "
                             f"significant digits")
        seen[label] = budget


def design_sweep(config: SweepConfig, law=None) -> SweepDesign:
    """The IsoFLOP grid for ``config``; ``law`` (an ``NDLaw``: a preset, a fit or its bootstrap ensemble, which
    plans as its point law) overrides ``config.law``.

    Raises InputError naming the field when two budgets would share run ids, a size cannot be snapped to a
    shape, or a budget cannot pay for one optimiser step. Two targets that snap to the same shape are merged
    (noted in ``warnings``). With ``config.sizes`` every budget uses those sizes; ``schedule = "wsd"`` designs
    trunks and cooldowns (``_design_wsd``).
    """
    if isinstance(config, dict):  # the TOML's tables as a dict, as `from_dict` reads them
        config = SweepConfig.from_dict(config)
    if not isinstance(config, SweepConfig):
        raise InputError(f"design_sweep takes a SweepConfig (or a dict of its fields, or SweepConfig.from_toml(path)), "
                         f"got {type(config).__name__}")
    _check_distinct_budgets(config.budgets)  # both schedules name runs by budget (a WSD twin was never trained)
    if config.schedule == "wsd":
        config.data.check_files(config.seq_len)
        return _noting_repeated_data(_noting_short_runs(_design_wsd(config)))
    law = require_nd_law(get_law(config.law) if law is None else law)
    law_name = law.name
    count = "non_embedding" if law.param_convention == "non_embedding" else "total"
    rule = get_rule(config.hyper_rule)
    config.data.check_files(config.seq_len)
    budgets = np.asarray(config.budgets, dtype=float)
    try:  # a LawEnsemble gives its point estimate's N*
        check_flops(budgets)
    except InputError as exc:
        raise InputError(f"budgets: {exc}") from None
    # the prior's optimum only places the grid (× center, snapped to real shapes whose steps are checked
    # below), so it may lie below the planners' 1,000-parameter floor
    prior = point_law(law)
    centres = config.center * np.asarray(prior.compute_optimal(budgets)[0], dtype=float).reshape(-1)
    k = config.sizes_per_budget
    u = np.linspace(-1.0, 1.0, k) if k > 1 else np.zeros(1)
    largest = centres[-1] * config.spread ** u[-1]
    if config.sizes is None and not largest <= MAX_SWEEP_N_PARAMS:
        raise InputError(f"budgets: {budgets[-1]:.3g} FLOPs puts the largest model of the grid at {largest:.3g} "
                         f"parameters (the prior's N* × center × spread), beyond the {MAX_SWEEP_N_PARAMS:.0e} a "
                         f"sweep can train; lower budgets, center or spread")

    runs, warnings = [], []
    for budget, centre in zip(budgets, centres):
        seen = set()
        for target in (config.sizes if config.sizes is not None else centre * config.spread**u):
            # the grid's targets count parameters as the prior law does; listed sizes are total parameters,
            # as a WSD sweep's are (kaplan2020 read them as non-embedding counts: 20,000 → 32,600 params)
            arch = _snap_distinct(config, target, count if config.sizes is None else "total",
                                  f"at budget {budget:.3g} FLOPs the target size",
                                  "raise budgets or center, lower spread or head_dim, or raise snap_tolerance"
                                  if config.sizes is None else "give larger sizes, a smaller head_dim or seq_len, "
                                  "or raise snap_tolerance", seen, warnings,
                                  f"budget {budget:.3g}")
            if arch is None:
                continue
            n_params = arch.n_params
            flops_per_token = arch.flops_per_token(config.flop_convention)
            hp = rule(n_params, budget, arch.n_params_non_embedding)
            batch_size, tokens_per_step, peak_lr = _recipe(config, hp)
            n_steps = round(budget / flops_per_token / tokens_per_step)
            _check_run_tokens(n_steps * tokens_per_step, n_params, budget)
            if n_steps < 1:
                raise InputError(f"budgets: {budget:.3g} FLOPs cannot pay for one optimiser step of the "
                                 f"{n_params:,}-parameter model ({tokens_per_step:.4g} tokens × "
                                 f"{flops_per_token:.3g} FLOPs/token = {tokens_per_step * flops_per_token:.3g} FLOPs); "
                                 f"raise the budget or lower batch_tokens/seq_len")
            if not _tokens_ok(config, n_steps * tokens_per_step, n_params):
                continue
            warmup = warmup_steps(config, hp, tokens_per_step, n_steps)
            train = TrainSpec(arch=arch, n_steps=n_steps, batch_size=batch_size, peak_lr=peak_lr,
                              warmup_steps=warmup, seed=config.seed, data=config.data,
                              flop_convention=config.flop_convention,
                              eval_every=math.ceil(n_steps / config.evals_per_run),
                              eval_sequences=config.eval_sequences,
                              checkpoint_every=math.ceil(n_steps / config.checkpoints_per_run))
            runs.append(RunSpec(run_id=f"c{format_budget(budget)}-n{n_params}", flops_budget=float(budget),
                                target_n_params=float(target), train=train))
    if not runs:  # every point filtered out: an empty sweep would "succeed" with nothing to train
        raise InputError(f"no grid point in range: every point of budgets {', '.join(f'{b:.3g}' for b in budgets)} "
                         f"falls outside {_filters(config)}; widen or remove these keys, or change budgets")
    design = SweepDesign(config=config, law=law_name, runs=tuple(runs), warnings=_fold_collisions(warnings))
    return _noting_repeated_data(_noting_short_runs(design))


def _filters(config: SweepConfig) -> str:
    """The token filters that are set, as 'min_n_tokens = 1e+15, ...' (for errors)."""
    keys = ("min_tokens_per_param", "max_tokens_per_param", "min_n_tokens")
    return ", ".join(f"{k} = {getattr(config, k):g}" for k in keys if getattr(config, k) is not None)


def warmup_steps(config: SweepConfig, hp, tokens_per_step: int, first_steps: int) -> int:
    """Warm-up steps: the rule's warm-up tokens (N tokens, Porian et al. 2024's short warm-up: `rules.py`), at
    least ``config.min_warmup_steps`` (isoflop's floor, measured in benchmarks/warmup_seeds.py), and at most a
    quarter of ``first_steps`` (the run's steps; for a WSD trunk its first branch point, which must come after
    warm-up; isoflop's own cap)."""
    steps = max(round(hp.warmup_tokens / tokens_per_step), config.min_warmup_steps)
    return int(np.clip(steps, 1, max(1, first_steps // 4)))


def _recipe(config: SweepConfig, hp) -> tuple[int, int, float]:
    """(batch size in sequences, tokens per step, peak LR) of a run: the config's batch_tokens and peak_lr where
    given, else the hyperparameter rule's ``hp`` (its LR times lr_multiplier)."""
    batch_tokens = config.batch_tokens if config.batch_tokens is not None else hp.batch_tokens
    peak_lr = float(config.peak_lr if config.peak_lr is not None else hp.peak_lr * config.lr_multiplier)
    batch_size = max(1, round(batch_tokens / config.seq_len))
    return batch_size, batch_size * config.seq_len, peak_lr


def _snap_distinct(config: SweepConfig, target: float, count: str, what: str, fix: str, seen: set, warnings: list,
                   where: str):
    """``_snap`` to ``target``, or None when an earlier target already snapped to that shape (two targets on one
    shape give one run, not two; the warning names ``where``). ``seen`` collects the parameter counts taken."""
    arch = _snap(config, target, count, what, fix)
    if arch.n_params in seen:
        warnings.append(f"{where}: target {format_quantity(target)} snapped to the same shape as a neighbour "
                        f"({arch.n_params:,} parameters); kept once")
        return None
    seen.add(arch.n_params)
    return arch


FEW_STEPS = 20  # runs of fewer optimiser steps are mostly warm-up: their loss says little about the law


def _noting_repeated_data(design: SweepDesign) -> SweepDesign:
    """``design``, with a warning when runs train on more tokens than the data's training split holds: a 5 KB
    text trained for 132 epochs, its validation loss rising, with no word. Repeated tokens are worth less than
    fresh ones (Muennighoff et al. 2023), so such runs measure another law than single-epoch runs."""
    unique = design.config.data.training_tokens()
    repeated = [r for r in design.points if unique is not None and r.n_tokens > unique]
    if not repeated:
        return design
    most = max(repeated, key=lambda r: r.n_tokens)
    note = (f"{len(repeated)} run(s) train on more tokens than the data's training split holds ({unique:,}): "
            f"{most.run_id} repeats it {most.n_tokens / unique:.3g} times; repeated data is worth less than fresh "
            f"(Muennighoff et al. 2023), so these losses do not follow the single-epoch law: give more data or "
            f"lower the budgets")
    return replace(design, warnings=(*design.warnings, note))


def _noting_short_runs(design: SweepDesign) -> SweepDesign:
    """``design``, with a warning when runs train for fewer than FEW_STEPS optimiser steps (seq_len = 1048576
    designed runs of 2-4 steps of one sequence, in silence)."""
    short = [r for r in design.runs if r.train.n_steps < FEW_STEPS]
    if not short:
        return design
    fewest = min(short, key=lambda r: r.train.n_steps)
    note = (f"{len(short)} run(s) train for fewer than {FEW_STEPS} optimiser steps (fewest: {fewest.run_id}, "
            f"{fewest.train.n_steps}); their losses say little about the law: raise budgets, or lower "
            f"batch_tokens or seq_len")
    return replace(design, warnings=(*design.warnings, note))


SHOWN_COLLISIONS = 5  # "snapped to the same shape" lines shown; more are counted in one line


def _fold_collisions(warnings: list) -> tuple[str, ...]:
    """The design's warnings with its shape collisions folded past SHOWN_COLLISIONS (sizes_per_budget = 200
    printed 193 "kept once" lines)."""
    collisions = [w for w in warnings if "snapped to the same shape" in w]
    if len(collisions) <= SHOWN_COLLISIONS:
        return tuple(warnings)
    rest = [w for w in warnings if "snapped to the same shape" not in w]
    return (*rest, *collisions[:SHOWN_COLLISIONS],
            f"… and {len(collisions) - SHOWN_COLLISIONS} more targets snapped to a neighbour's shape (kept once): "
            f"there are fewer distinct shapes than sizes_per_budget asks for; lower it or raise spread")


def _tokens_ok(config: SweepConfig, n_tokens: float, n_params: float) -> bool:
    """Whether a point of ``n_tokens`` on ``n_params`` passes the config's tokens and D/N filters."""
    low, high, least = config.min_tokens_per_param, config.max_tokens_per_param, config.min_n_tokens
    ratio = n_tokens / n_params
    return (low is None or ratio >= low) and (high is None or ratio <= high) and (least is None or n_tokens >= least)


def _snap(config: SweepConfig, target: float, count: str, what: str, fix: str):
    """The config's block (gpt2 or llama, its norms, MLP, positions, grouped-query attention) snapped to
    ``target`` parameters counted as ``count``; an InputError naming ``what`` and ``fix`` when no shape fits."""
    block = {**BLOCKS[config.block], "tied_embeddings": config.tied_embeddings, "bias": config.bias}
    try:
        return propose_architecture(target, vocab_size=config.n_vocab, seq_len=config.seq_len,
                                    aspect_ratio=config.aspect_ratio, head_dim=config.head_dim, count=count,
                                    tolerance=config.snap_tolerance, query_groups=config.query_groups, **block)
    except InputError as exc:
        key = "sizes" if config.sizes is not None else "budgets/center/spread (the grid around the prior's N*)"
        raise InputError(f"{key}: {what} {format_quantity(target)} parameters cannot be snapped to a shape "
                         f"({exc}); {fix}") from None


def _design_wsd(config: SweepConfig) -> SweepDesign:
    """One trunk per size of ``config.sizes`` and one cooldown per budget (see the module docstring).

    For size N (exact count after snapping) and budget C the point ends at n = round(C / fpt / tokens_per_step)
    steps; it branches at b = round(n / (1 + f)) and cools down for n − b steps. The trunk trains to the
    largest b at constant learning rate and keeps its state at every b. Sizes come first in ascending order,
    each trunk before its cooldowns, so a one-process executor can run them in order.
    """
    rule = get_rule(config.hyper_rule)
    f = config.cooldown_fraction
    runs, warnings, seen = [], [], set()
    for target in config.sizes:
        arch = _snap_distinct(config, target, "total", "the target size",
                              "change sizes or head_dim, or raise snap_tolerance", seen, warnings, "sizes")
        if arch is None:
            continue
        n_params = arch.n_params
        fpt = arch.flops_per_token(config.flop_convention)
        budgets = [c for c in config.budgets if _tokens_ok(config, c / fpt, n_params)]
        if not budgets:
            warnings.append(f"sizes: no budget gives the {n_params:,}-parameter model a token count in range "
                            f"(min_n_tokens, min/max_tokens_per_param); size left out")
            continue
        hp = rule(n_params, budgets[-1], arch.n_params_non_embedding)  # the longest run's settings serve all
        batch_size, tokens_per_step, peak_lr = _recipe(config, hp)
        branches = {}  # branch step → (budget, steps of the point)
        for budget in budgets:
            n_steps = round(budget / fpt / tokens_per_step)
            _check_run_tokens(n_steps * tokens_per_step, n_params, budget)
            branch = round(n_steps / (1 + f))
            if branch < 1 or n_steps - branch < 1:
                raise InputError(f"budgets: {budget:.3g} FLOPs cannot pay for a stable step and a cooldown step "
                                 f"of the {n_params:,}-parameter model ({tokens_per_step} tokens per step, "
                                 f"cooldown_fraction {f:g}); raise the budget or cooldown_fraction, or lower "
                                 f"batch_tokens/seq_len")
            if branch in branches:
                warnings.append(f"budget {budget:.3g}: the {n_params:,}-parameter model branches at the same step "
                                f"as budget {branches[branch][0]:.3g}; kept once")
                continue
            branches[branch] = (budget, n_steps)
        first, last = min(branches), max(branches)
        warmup = warmup_steps(config, hp, tokens_per_step, first)
        common = dict(arch=arch, batch_size=batch_size, peak_lr=peak_lr, warmup_steps=warmup, seed=config.seed,
                      data=config.data, flop_convention=config.flop_convention, schedule="wsd",
                      cooldown_shape=config.cooldown_shape, final_lr_ratio=0.0,  # Hägele et al. cool down to 0
                      eval_sequences=config.eval_sequences)
        trunk_id = f"n{n_params}-trunk"
        trunk = TrainSpec(n_steps=last, cooldown_steps=0, keep_checkpoints=tuple(branches),
                          eval_every=math.ceil(last / config.evals_per_run),
                          checkpoint_every=math.ceil(last / config.checkpoints_per_run), **common)
        runs.append(RunSpec(run_id=trunk_id, flops_budget=float(budgets[-1]), target_n_params=float(target),
                            train=trunk))
        for branch, (budget, n_steps) in sorted(branches.items()):
            cool = n_steps - branch
            # evaluated at its end only (the trunk holds the curve); checkpoints as often as a run's
            spec = TrainSpec(n_steps=n_steps, cooldown_steps=cool, eval_every=n_steps,
                             checkpoint_every=math.ceil(cool / config.checkpoints_per_run) if cool > 1 else 1,
                             **common)
            runs.append(RunSpec(run_id=f"c{format_budget(budget)}-n{n_params}", flops_budget=float(budget),
                                target_n_params=float(target), train=spec, trunk=trunk_id))
    if not runs:
        raise InputError(f"no grid point in range: no size of sizes has a budget inside {_filters(config)}; "
                         f"widen or remove these keys, or change sizes or budgets")
    return SweepDesign(config=config, law=config.law, runs=tuple(runs), warnings=tuple(warnings))
