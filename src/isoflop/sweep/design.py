"""IsoFLOP sweep design: for each compute budget, a few model sizes around the predicted optimum, each snapped
to a real transformer shape and given the tokens that spend exactly its budget.

For a budget C the prior law's compute-optimal size N*(C) (Hoffmann et al. 2022, eq. 4, via
``isoflop.planning.compute_optimal``) is scaled by ``center`` and the k = ``sizes_per_budget`` targets are spread
log-uniformly over [N*/spread, N*·spread]:

    N_i = center · N*(C) · spread^(u_i),   u_i = −1 + 2i/(k−1),  i = 0..k−1.

Each target is snapped to a shape by ``isoflop.flops.propose_architecture``; from then on only the shape's
EXACT parameter count N is used. Tokens follow the FLOP convention: D = C / flops_per_token(N), i.e.
D = C/(6N) under the default "6N". D is rounded to whole optimiser steps of batch_size · seq_len tokens, so a
run's recorded ``flops`` (what it really spends) is within half a step of its budget. Batch size, learning
rate and warm-up come from a named rule in ``rules.py``; the schedule is warm-up + cosine to 10% over exactly
the run (``isoflop.train.spec.learning_rate``).

Nothing here imports torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import UnionType
from typing import Union, get_args, get_origin, get_type_hints

import numpy as np

from ..errors import InputError
from ..flops import BLOCKS, CONVENTIONS, propose_architecture
from ..laws import require_nd_law
from ..planning import compute_optimal
from ..presets import get_law
from ..train.spec import DataSpec, TrainSpec
from ..units import format_quantity, parse_quantity
from .rules import get_rule

# Rough sustained training throughput for the design-time time estimate (override with --device-flops).
# cpu: 2e10 FLOP/s — tiny models on 2 cores of a recent x86 CPU sustain 1.5e10-1e11 FLOP/s (measured with
#      benchmarks/train_throughput.py); small models are overhead-bound, hence the low end.
# cuda: 1e14 FLOP/s — about 10% of an H100's dense bf16 peak (989 TFLOP/s): small models are far from
#      the 40-50% MFU that large ones reach.
DEVICE_FLOPS = {"cpu": 2e10, "cuda": 1e14}

# Query heads per key/value head of the llama block by default: Llama 2 70B and Llama 3 use 8 (64 / 8 heads);
# a sweep's small models have 1-16 heads, so 2 keeps at least a few key/value heads while still exercising
# grouped-query attention. Set query_groups in the config to change it.
LLAMA_QUERY_GROUPS = 2


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

    def __post_init__(self):
        budgets = self.budgets if isinstance(self.budgets, (list, tuple)) else [self.budgets]
        if not budgets:
            raise InputError("budgets: give at least one compute budget in FLOPs, e.g. budgets = [1e11, 3e11]")
        object.__setattr__(self, "budgets", tuple(sorted(parse_quantity(b, "budgets") for b in budgets)))
        for name, low in (("sizes_per_budget", 1), ("seq_len", 1), ("head_dim", 1), ("evals_per_run", 1),
                          ("checkpoints_per_run", 1), ("eval_sequences", 1), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InputError(f"{name}: must be an integer ≥ {low}, got {value!r}")
        for name in ("spread", "center", "aspect_ratio", "snap_tolerance", "lr_multiplier"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise InputError(f"{name}: must be a positive number, got {value!r}")
        if self.spread < 1:
            raise InputError(f"spread: must be ≥ 1 (largest size / centre), got {self.spread!r}")
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
        if isinstance(d.get("data"), dict):
            check_types(DataSpec, d["data"], source, prefix="data.")
        return cls(**d)

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
        return cls.from_dict(d, source=str(path))

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["budgets"] = list(self.budgets)
        out["data"] = self.data.to_dict()
        return out


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
        return isinstance(value, (list, tuple)) and all(_fits(v, args[0]) for v in value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if hint is DataSpec:
        return isinstance(value, (dict, str, DataSpec))
    return True


def _is_quantity(value) -> bool:
    """A number or text for parse_quantity; booleans are not numbers (true would read as 1 FLOP)."""
    if isinstance(value, (list, tuple)):
        return len(value) > 0 and all(_is_quantity(v) for v in value)
    return isinstance(value, (int, float, str)) and not isinstance(value, bool)


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
    grid point it was snapped from.
    """

    run_id: str
    flops_budget: float
    target_n_params: float
    train: TrainSpec

    @property
    def n_params(self) -> int:
        return self.train.n_params

    @property
    def n_tokens(self) -> int:
        return self.train.n_tokens

    @property
    def flops(self) -> float:
        return self.train.flops

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "flops_budget": self.flops_budget, "target_n_params": self.target_n_params,
                "n_params": self.n_params, "n_tokens": self.n_tokens, "flops": self.flops,
                "train": self.train.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        return cls(run_id=d["run_id"], flops_budget=float(d["flops_budget"]),
                   target_n_params=float(d["target_n_params"]), train=TrainSpec.from_dict(d["train"]))


@dataclass(frozen=True)
class SweepDesign:
    """The grid: the config it came from, the prior law's name, the runs and notes (e.g. merged sizes)."""

    config: SweepConfig
    law: str
    runs: tuple[RunSpec, ...]
    warnings: tuple[str, ...] = ()

    @property
    def total_flops(self) -> float:
        return float(sum(r.flops for r in self.runs))

    def estimate_seconds(self, device_flops: float) -> float:
        """Rough wall time: total FLOPs / ``device_flops`` (sustained FLOP/s), ignoring evaluation."""
        return self.total_flops / device_flops

    def to_dict(self) -> dict:
        return {"law": self.law, "total_flops": self.total_flops, "n_runs": len(self.runs),
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
    shape, or a budget cannot pay for one optimiser step. Two targets that snap to the same shape are merged (noted in ``warnings``).
    """
    law = require_nd_law(get_law(config.law) if law is None else law)
    law_name = law.name
    count = "non_embedding" if law.param_convention == "non_embedding" else "total"
    rule = get_rule(config.hyper_rule)
    config.data.check_files()
    budgets = np.asarray(config.budgets, dtype=float)
    _check_distinct_budgets(config.budgets)
    try:  # a LawEnsemble gives its point estimate's N*
        optimal = compute_optimal(law, budgets)
    except InputError as exc:
        raise InputError(f"budgets: {exc}") from None
    centres = config.center * np.asarray(optimal.n_params, dtype=float).reshape(-1)
    k = config.sizes_per_budget
    u = np.linspace(-1.0, 1.0, k) if k > 1 else np.zeros(1)
    T, V = config.seq_len, config.n_vocab

    runs, warnings = [], []
    for budget, centre in zip(budgets, centres):
        seen = set()
        for target in centre * config.spread**u:
            try:
                block = {**BLOCKS[config.block], "tied_embeddings": config.tied_embeddings, "bias": config.bias}
                arch = propose_architecture(target, vocab_size=V, seq_len=T, aspect_ratio=config.aspect_ratio,
                                            head_dim=config.head_dim, count=count, tolerance=config.snap_tolerance,
                                            query_groups=config.query_groups, **block)
            except InputError as exc:
                raise InputError(f"sizes: at budget {budget:.3g} FLOPs the target size {format_quantity(target)} "
                                 f"parameters cannot be snapped to a shape ({exc}); raise budgets, lower spread "
                                 f"or head_dim, or raise snap_tolerance") from None
            n_params = arch.n_params
            if n_params in seen:
                warnings.append(f"budget {budget:.3g}: target {format_quantity(target)} snapped to the same shape "
                                f"as a neighbour ({n_params:,} parameters); kept once")
                continue
            seen.add(n_params)
            flops_per_token = arch.flops_per_token(config.flop_convention)
            hp = rule(n_params, budget, arch.n_params_non_embedding)
            batch_tokens = config.batch_tokens if config.batch_tokens is not None else hp.batch_tokens
            peak_lr = config.peak_lr if config.peak_lr is not None else hp.peak_lr * config.lr_multiplier
            batch_size = max(1, round(batch_tokens / T))
            tokens_per_step = batch_size * T
            n_steps = round(budget / flops_per_token / tokens_per_step)
            if n_steps < 1:
                raise InputError(f"budgets: {budget:.3g} FLOPs cannot pay for one optimiser step of the "
                                 f"{n_params:,}-parameter model ({tokens_per_step} tokens × "
                                 f"{flops_per_token:.3g} FLOPs/token = {tokens_per_step * flops_per_token:.3g} FLOPs); "
                                 f"raise the budget or lower batch_tokens/seq_len")
            warmup = int(np.clip(round(hp.warmup_tokens / tokens_per_step), 1, max(1, n_steps // 4)))
            train = TrainSpec(arch=arch, n_steps=n_steps, batch_size=batch_size, peak_lr=float(peak_lr),
                              warmup_steps=warmup, seed=config.seed, data=config.data,
                              flop_convention=config.flop_convention,
                              eval_every=math.ceil(n_steps / config.evals_per_run),
                              eval_sequences=config.eval_sequences,
                              checkpoint_every=math.ceil(n_steps / config.checkpoints_per_run))
            runs.append(RunSpec(run_id=f"c{format_budget(budget)}-n{n_params}", flops_budget=float(budget),
                                target_n_params=float(target), train=train))
    return SweepDesign(config=config, law=law_name, runs=tuple(runs), warnings=tuple(warnings))
