"""Accelerators, utilisation and cost: FLOP budgets ↔ GPU-hours, wall-clock days and dollars.

Peak throughputs are *dense* tensor-core figures from vendor datasheets. Vendors headline 2:4 structured-
sparsity numbers, twice these; dense training never reaches them, so they must not be used for budgets.

Conversions, with MFU the model-FLOPs utilisation (achieved model FLOP/s over peak; Chowdhery et al. 2022,
"PaLM", appendix B), default 0.40:

    sustained FLOP/s = n_gpus · peak · MFU            budget C = sustained FLOP/s · seconds
    gpu_hours = C / (peak · MFU) / 3600               days = gpu_hours / n_gpus / 24
    usd = gpu_hours · usd_per_gpu_hour                usd per FLOP = usd_per_gpu_hour / 3600 / (peak · MFU)

Memory: mixed-precision training with Adam keeps 16 bytes per parameter — fp16/bf16 weights (2) and
gradients (2), and fp32 master weights, momentum and variance (4 + 4 + 4) — Rajbhandari et al. 2020, "ZeRO:
Memory Optimizations Toward Training Trillion Parameter Models", §3.1 (2Ψ + 2Ψ + 12Ψ = 16Ψ bytes). Fully
sharded (ZeRO-3 / FSDP) these spread over all GPUs; activations, temporary buffers and fragmentation come on
top and are *not* counted, so leave headroom. Memory is counted in vendor GB (1e9 bytes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .units import is_number

DEFAULT_MFU = 0.40  # typical of large dense bf16 training: Llama 3 405B 38–43% on 16K H100s (Llama Team 2024,
# "The Llama 3 Herd of Models", Table 4); PaLM 540B 46.2% on TPU v4 (Chowdhery et al. 2022, Table 3)
ADAM_MIXED_PRECISION_BYTES_PER_PARAM = 16  # Rajbhandari et al. 2020 (ZeRO), §3.1
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86_400.0
PRECISIONS = ("bf16", "fp8")

TERA = 1e12
GB = 1e9


@dataclass(frozen=True)
class Accelerator:
    """One accelerator: dense peak FLOP/s per precision (``fp8_flops_per_second`` None where the chip has no
    fp8 matrix unit) and memory in bytes, with the datasheet it comes from."""

    key: str
    name: str
    bf16_flops_per_second: float
    fp8_flops_per_second: float | None
    memory_bytes: float
    source: str
    note: str = ""

    def peak_flops_per_second(self, precision: str = "bf16") -> float:
        if precision not in PRECISIONS:
            raise InputError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
        if precision == "fp8" and self.fp8_flops_per_second is None:
            raise InputError(f"{self.name} has no fp8 matrix unit{': ' + self.note if self.note else ''}; "
                             f"use --precision bf16")
        return self.bf16_flops_per_second if precision == "bf16" else self.fp8_flops_per_second

    def to_dict(self) -> dict:
        return {"key": self.key, "name": self.name, "bf16_flops_per_second": self.bf16_flops_per_second,
                "fp8_flops_per_second": self.fp8_flops_per_second, "memory_bytes": self.memory_bytes,
                "source": self.source, "note": self.note}


CATALOG: dict[str, Accelerator] = {
    a.key: a
    for a in [
        # NVIDIA A100 Tensor Core GPU datasheet: BF16 312 TFLOPS (624 with sparsity); 80 GB HBM2e (SXM).
        Accelerator("a100", "NVIDIA A100 SXM 80GB", 312 * TERA, None, 80 * GB,
                    "NVIDIA A100 Tensor Core GPU datasheet", "Ampere has no fp8 (fp8 arrived with Hopper)"),
        # NVIDIA H100 datasheet, SXM: BF16 1,979 / FP8 3,958 TFLOPS with sparsity → 989 / 1,979 dense
        # (H100 whitepaper: 989.4 dense bf16); 80 GB HBM3.
        Accelerator("h100-sxm", "NVIDIA H100 SXM", 989 * TERA, 1979 * TERA, 80 * GB,
                    "NVIDIA H100 Tensor Core GPU datasheet (SXM5)"),
        # Same datasheet, PCIe: BF16 1,513 / FP8 3,026 TFLOPS with sparsity → 756 / 1,513 dense; 80 GB.
        Accelerator("h100-pcie", "NVIDIA H100 PCIe", 756 * TERA, 1513 * TERA, 80 * GB,
                    "NVIDIA H100 Tensor Core GPU datasheet (PCIe)"),
        # NVIDIA H200 datasheet, SXM: same GH100 tensor cores as H100 SXM (989 / 1,979 dense); 141 GB HBM3e.
        Accelerator("h200", "NVIDIA H200 SXM", 989 * TERA, 1979 * TERA, 141 * GB,
                    "NVIDIA H200 Tensor Core GPU datasheet (SXM)"),
        # NVIDIA HGX B200 datasheet (nvidia.com/en-us/data-center/hgx, "Individual Blackwell GPU
        # Specifications", HGX B200 column; checked 2026-11): FP16/BF16 Tensor Core 4.5 PFLOPS and FP8/FP6
        # 9 PFLOPS per GPU, footnoted "with sparsity" → 2.25 / 4.5 PFLOPS dense (the dense matrix rates of the
        # 1,000 W HGX part; the 1,200 W GB200 part is rated 2.5 / 5 dense); GPU memory 180 GB HBM3E, 7.7 TB/s
        # (HGX B200 total "up to 1.4 TB" for 8 GPUs).
        Accelerator("b200", "NVIDIA B200 (HGX)", 2250 * TERA, 4500 * TERA, 180 * GB,
                    "NVIDIA HGX B200 datasheet, per-GPU specifications (4.5 / 9 PFLOPS bf16 / fp8 with sparsity, "
                    "180 GB HBM3E)", "192 GB HBM3e physically, 180 GB exposed per GPU"),
        # AMD Instinct MI300X datasheet: peak BF16 1,307.4 TFLOPS, FP8 2,614.9 TFLOPS dense (2× with
        # sparsity); 192 GB HBM3.
        Accelerator("mi300x", "AMD Instinct MI300X", 1307.4 * TERA, 2614.9 * TERA, 192 * GB,
                    "AMD Instinct MI300X accelerator datasheet"),
        # Google Cloud TPU v5e documentation: 197 TFLOPS bf16, 394 TOPS int8 per chip; 16 GB HBM2.
        Accelerator("tpu-v5e", "Google TPU v5e", 197 * TERA, None, 16 * GB,
                    "Google Cloud TPU v5e documentation (system architecture)",
                    "TPU v5e has no fp8; its 394 TOPS low-precision peak is int8"),
        # Google Cloud TPU v5p documentation (docs.cloud.google.com/tpu/docs/v5p, "System architecture",
        # checked 2026-11): peak compute per chip (bf16) 459 TFLOPs; HBM2e capacity and bandwidth 95 GB,
        # 2,765 GBps; int8 918 TOPs. Google quotes dense rates (TPUs have no 2:4 sparsity mode).
        Accelerator("tpu-v5p", "Google TPU v5p", 459 * TERA, None, 95 * GB,
                    "Google Cloud TPU v5p documentation, docs.cloud.google.com/tpu/docs/v5p (459 TFLOPs bf16, "
                    "95 GB HBM2e per chip)",
                    "TPU v5p has no fp8; its 918 TOPS low-precision peak is int8"),
    ]
}


def get_accelerator(key: str) -> Accelerator:
    """An accelerator by key; InputError listing the known keys otherwise."""
    try:
        return CATALOG[key.lower()]
    except KeyError:
        raise InputError(f"unknown GPU {key!r}; known: {', '.join(CATALOG)}") from None


@dataclass(frozen=True)
class ComputeCost:
    """What a budget of ``flops`` costs on a cluster: accelerator-hours, wall-clock (``days`` needs the GPU
    count) and dollars (needs a price). Arrays where ``flops`` is an array."""

    flops: float
    gpu_hours: float
    days: float | None
    usd: float | None

    @property
    def seconds(self):
        return None if self.days is None else self.days * SECONDS_PER_DAY

    def to_dict(self) -> dict:
        def plain(x):
            return None if x is None else (np.asarray(x).item() if np.ndim(x) == 0 else np.asarray(x).tolist())
        return {"covers": "training", "gpu_hours": plain(self.gpu_hours), "days": plain(self.days),
                "usd": plain(self.usd)}


@dataclass(frozen=True)
class MemoryCheck:
    """Do weights, gradients and Adam states (``bytes_per_param`` each) fit the cluster's memory, fully
    sharded? Activations and buffers are not counted."""

    n_params: float
    bytes_per_param: float
    required_bytes: float
    bytes_per_gpu: float
    n_gpus: int | None
    min_gpus: int

    @property
    def fits(self) -> bool | None:
        return None if self.n_gpus is None else self.n_gpus >= self.min_gpus

    def to_dict(self) -> dict:
        return {"counts": "params, grads, Adam; no activations",
                "bytes_per_param": self.bytes_per_param, "required_bytes": self.required_bytes,
                "bytes_per_gpu": self.bytes_per_gpu, "n_gpus": self.n_gpus, "min_gpus": self.min_gpus,
                "fits": self.fits}


MAX_GPUS = 10_000_000  # 100× the largest training clusters (~100,000 GPUs): more is a unit slip (1e30 was accepted)


@dataclass(frozen=True)
class Cluster:
    """``n_gpus`` accelerators (None: count not decided) at ``mfu``, optionally priced per GPU-hour."""

    accelerator: Accelerator
    n_gpus: int | None = None
    mfu: float = DEFAULT_MFU
    usd_per_gpu_hour: float | None = None
    precision: str = "bf16"

    def __post_init__(self):
        if isinstance(self.accelerator, str):  # Cluster("h100-sxm", 8): the name, as `--gpu` takes it
            object.__setattr__(self, "accelerator", get_accelerator(self.accelerator))
        if not isinstance(self.accelerator, Accelerator):
            raise InputError(f"accelerator: give an accelerator's name ({', '.join(CATALOG)}) or "
                             f"isoflop.get_accelerator(name), got {type(self.accelerator).__name__}")
        if not (is_number(self.mfu) and 0 < self.mfu <= 1):
            raise InputError(f"MFU (--mfu) must be in (0, 1], got {self.mfu!r} (0.4 is typical for large dense "
                             f"training)")
        if self.n_gpus is not None and not (is_number(self.n_gpus) and math.isfinite(self.n_gpus)
                                            and int(self.n_gpus) == self.n_gpus and 1 <= self.n_gpus <= MAX_GPUS):
            raise InputError(f"GPU count (--gpus) must be a whole number from 1 to {MAX_GPUS:,} (100x the largest "
                             f"clusters built), got "
                             f"{format(self.n_gpus, '.4g') if is_number(self.n_gpus) else repr(self.n_gpus)}")
        if self.usd_per_gpu_hour is not None and not (is_number(self.usd_per_gpu_hour)
                                                      and math.isfinite(self.usd_per_gpu_hour)
                                                      and self.usd_per_gpu_hour >= 0):
            raise InputError(f"price per GPU-hour (--usd-per-gpu-hour) must be finite and ≥ 0, got "
                             f"{self.usd_per_gpu_hour!r}")
        self.accelerator.peak_flops_per_second(self.precision)  # validates the precision for this chip

    @property
    def flops_per_gpu_second(self) -> float:
        """Sustained model FLOP/s of one accelerator: peak · MFU."""
        return self.accelerator.peak_flops_per_second(self.precision) * self.mfu

    @property
    def usd_per_flop(self) -> float | None:
        if self.usd_per_gpu_hour is None:
            return None
        return self.usd_per_gpu_hour / SECONDS_PER_HOUR / self.flops_per_gpu_second

    def _gpus(self) -> int:
        if self.n_gpus is None:
            raise InputError("give the GPU count (--gpus) to convert between wall-clock time and FLOPs")
        return self.n_gpus

    def flops_for_seconds(self, seconds):
        """The budget the cluster delivers in ``seconds`` of wall-clock: n_gpus · peak · MFU · seconds."""
        seconds = np.asarray(seconds, float)
        if not np.all(np.isfinite(seconds)) or np.any(seconds <= 0):
            raise InputError(f"training time (--days) must be positive and finite, got "
                             f"{np.ravel(seconds)[0] / 86400:g} days")
        return self._gpus() * self.flops_per_gpu_second * seconds

    def flops_for_days(self, days):
        return self.flops_for_seconds(np.asarray(days, float) * SECONDS_PER_DAY)

    def cost(self, flops) -> ComputeCost:
        """GPU-hours, days (with a GPU count) and dollars (with a price) for ``flops`` of training, at the
        cluster's MFU (model FLOPs utilisation: achieved / peak FLOP/s, Chowdhery et al. 2022, appendix B)."""
        flops = np.asarray(flops, float)
        gpu_hours = flops / self.flops_per_gpu_second / SECONDS_PER_HOUR
        days = None if self.n_gpus is None else gpu_hours / self.n_gpus / 24.0
        usd = None if self.usd_per_gpu_hour is None else gpu_hours * self.usd_per_gpu_hour
        return ComputeCost(flops=flops, gpu_hours=gpu_hours, days=days, usd=usd)

    def memory(self, n_params: float,
               bytes_per_param: float = ADAM_MIXED_PRECISION_BYTES_PER_PARAM) -> MemoryCheck:
        """Weights + gradients + Adam states against the cluster's memory; the minimum GPU count for them.
        16 bytes per parameter: fp16 weights and gradients (2 + 2) and fp32 Adam states with a master copy (12),
        Rajbhandari et al. 2020 (ZeRO), §3.1."""
        required = float(n_params) * bytes_per_param
        per_gpu = self.accelerator.memory_bytes
        return MemoryCheck(n_params=float(n_params), bytes_per_param=bytes_per_param, required_bytes=required,
                           bytes_per_gpu=per_gpu, n_gpus=self.n_gpus, min_gpus=max(1, math.ceil(required / per_gpu)))

    def to_dict(self) -> dict:
        return {"gpu": self.accelerator.key, "n_gpus": self.n_gpus, "mfu": self.mfu,
                "usd_per_gpu_hour": self.usd_per_gpu_hour, "precision": self.precision,
                "peak_flops_per_second": self.accelerator.peak_flops_per_second(self.precision)}
