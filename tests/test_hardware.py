"""Accelerator catalog, budget ↔ time/cost conversions and the memory check."""

import math

import numpy as np
import pytest

from isoflop.errors import InputError
from isoflop.hardware import CATALOG, Cluster, get_accelerator

T = 1e12


@pytest.mark.parametrize("key,bf16,fp8,memory_gb", [
    # ORACLES.md (dense, vendor datasheets): A100 312; H100 SXM 989 / 1979; H100 PCIe 756; H200 989 / 1979;
    # MI300X 1307; the rest from the datasheets cited in hardware.py.
    ("a100", 312, None, 80), ("h100-sxm", 989, 1979, 80), ("h100-pcie", 756, 1513, 80), ("h200", 989, 1979, 141),
    ("b200", 2250, 4500, 180), ("mi300x", 1307.4, 2614.9, 192), ("tpu-v5e", 197, None, 16),
    ("tpu-v5p", 459, None, 95),
])
def test_catalog_dense_peaks(key, bf16, fp8, memory_gb):
    chip = get_accelerator(key)
    assert chip.bf16_flops_per_second == pytest.approx(bf16 * T)
    assert chip.fp8_flops_per_second == (None if fp8 is None else pytest.approx(fp8 * T))
    assert chip.memory_bytes == memory_gb * 1e9
    assert chip.source


def test_dense_not_sparse():
    # fp8 doubles bf16 on every chip that has it; the 2:4-sparsity headline would double it again.
    for chip in CATALOG.values():
        if chip.fp8_flops_per_second is not None:
            assert chip.fp8_flops_per_second == pytest.approx(2 * chip.bf16_flops_per_second, rel=0.001)
    assert get_accelerator("H100-SXM").bf16_flops_per_second < 1000 * T  # 1,979 is the sparse figure


def test_no_fp8_is_said():
    with pytest.raises(InputError, match="int8"):
        Cluster(get_accelerator("tpu-v5e"), precision="fp8")
    with pytest.raises(InputError, match="no fp8"):
        get_accelerator("a100").peak_flops_per_second("fp8")
    assert Cluster(get_accelerator("h100-sxm"), precision="fp8").flops_per_gpu_second == pytest.approx(1979 * T * 0.4)


def test_budget_from_gpus_days_mfu():
    # The check: 1024 H100 SXM × 30 days × 0.40 MFU ≈ 1.05e24 FLOPs.
    cluster = Cluster(get_accelerator("h100-sxm"), n_gpus=1024, mfu=0.40)
    flops = cluster.flops_for_days(30)
    assert flops == pytest.approx(1024 * 989e12 * 0.40 * 2_592_000, rel=1e-14)
    assert flops == pytest.approx(1.05e24, rel=1e-3)


def test_budget_to_gpu_hours_days_usd_and_back():
    cluster = Cluster(get_accelerator("h100-sxm"), n_gpus=512, mfu=0.4, usd_per_gpu_hour=2.5)
    cost = cluster.cost(5.76e23)
    gpu_hours = 5.76e23 / (989e12 * 0.4) / 3600
    assert cost.gpu_hours == pytest.approx(gpu_hours, rel=1e-14)
    assert cost.days == pytest.approx(gpu_hours / 512 / 24, rel=1e-14)
    assert cost.usd == pytest.approx(2.5 * gpu_hours, rel=1e-14)
    assert cluster.flops_for_days(cost.days) == pytest.approx(5.76e23, rel=1e-12)
    assert cluster.usd_per_flop * 5.76e23 == pytest.approx(cost.usd, rel=1e-12)
    budgets = np.array([1e21, 1e24])
    np.testing.assert_allclose(cluster.cost(budgets).gpu_hours, budgets / (989e12 * 0.4 * 3600))
    no_count = Cluster(get_accelerator("h100-sxm")).cost(1e24)
    assert no_count.days is None and no_count.usd is None and no_count.gpu_hours > 0
    assert set(cost.to_dict()) == {"covers", "gpu_hours", "days", "usd"} and cost.to_dict()["covers"] == "training"


@pytest.mark.parametrize("mfu", [0.0, -0.1, 1.01, float("nan")])
def test_mfu_must_be_a_fraction(mfu):
    with pytest.raises(InputError, match="MFU"):
        Cluster(get_accelerator("a100"), mfu=mfu)


def test_mfu_of_one_allowed():
    assert Cluster(get_accelerator("a100"), mfu=1.0).flops_per_gpu_second == 312e12


def test_unknown_gpu_lists_known():
    with pytest.raises(InputError, match="h100-sxm, h100-pcie"):
        get_accelerator("h300")


def test_other_bad_inputs():
    chip = get_accelerator("h100-sxm")
    with pytest.raises(InputError, match="GPU count"):
        Cluster(chip, n_gpus=0)
    with pytest.raises(InputError, match="--gpus"):
        Cluster(chip).flops_for_days(3)
    with pytest.raises(InputError, match="training time"):
        Cluster(chip, n_gpus=8).flops_for_days(0)
    with pytest.raises(InputError, match="usd"):
        Cluster(chip, usd_per_gpu_hour=-1.0)


def test_memory_check():
    # 16 bytes/param (Rajbhandari et al. 2020): 70B params → 1.12e12 bytes → 14 × 80 GB H100s at least.
    chip = get_accelerator("h100-sxm")
    check = Cluster(chip, n_gpus=8).memory(70e9)
    assert check.required_bytes == 70e9 * 16
    assert check.min_gpus == math.ceil(70e9 * 16 / 80e9) == 14
    assert check.fits is False
    assert Cluster(chip, n_gpus=16).memory(70e9).fits is True
    assert Cluster(chip).memory(1e6).min_gpus == 1 and Cluster(chip).memory(1e6).fits is None
    assert Cluster(get_accelerator("mi300x")).memory(70e9).min_gpus == 6


def test_b200_and_tpu_v5p_against_their_vendor_data_sheets():
    # NVIDIA HGX B200 data sheet, per GPU: FP16/BF16 4.5 PFLOPS and FP8 9 PFLOPS "with sparsity", 180 GB HBM3E:
    # dense is half the sparse headline.
    b200 = get_accelerator("b200")
    assert b200.bf16_flops_per_second == pytest.approx(4.5e15 / 2)
    assert b200.fp8_flops_per_second == pytest.approx(9e15 / 2)
    assert b200.memory_bytes == 180e9 and "HGX B200" in b200.source
    # Google Cloud TPU v5p documentation: 459 TFLOPs bf16 per chip, 95 GB HBM2e, no fp8.
    v5p = get_accelerator("tpu-v5p")
    assert v5p.bf16_flops_per_second == pytest.approx(459e12) and v5p.memory_bytes == 95e9
    assert v5p.fp8_flops_per_second is None and "docs.cloud.google.com/tpu/docs/v5p" in v5p.source


@pytest.mark.parametrize("device_name, key", [
    ("NVIDIA H100 80GB HBM3", "h100-sxm"), ("NVIDIA H100 PCIe", "h100-pcie"), ("NVIDIA H200", "h200"),
    ("NVIDIA A100-SXM4-80GB", "a100"), ("NVIDIA H100 NVL", None), ("Tesla T4", None)])
def test_throughput_benchmark_takes_each_gpu_peak_from_the_catalog(device_name, key, monkeypatch):
    """benchmarks/train_throughput.py divides by the peak of the GPU it runs on. An H100 NVL (94 GB, its own
    clocks and peak) matched "H100" and was given the SXM's 989 TFLOP/s; a GPU not in the catalog has no peak
    (its MFU needs --peak-flops), never another card's."""
    import importlib.util
    from pathlib import Path

    pytest.importorskip("torch")
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "train_throughput.py"
    spec = importlib.util.spec_from_file_location("train_throughput", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module.torch.cuda, "get_device_name", lambda *a: device_name)
    expected = None if key is None else get_accelerator(key).peak_flops_per_second("bf16")
    assert module.device_peak_flops("cuda") == (device_name, expected)
    assert module.device_peak_flops("cpu") == ("cpu", None)
