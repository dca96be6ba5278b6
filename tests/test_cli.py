"""The command line: JSON keys, number forms and one-line errors."""

import json

import pytest
from typer.testing import CliRunner

from isoflop.cli import app
from isoflop.errors import InputError
from isoflop.units import parse_quantity

runner = CliRunner()


def run_json(*args):
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_plan_flops_json():
    out = run_json("plan", "--flops", "5.76e23", "--law", "besiroglu2024")
    assert set(out) >= {"flops", "n_params", "n_tokens", "tokens_per_param", "loss", "law"}
    assert out["n_params"] == pytest.approx(7.225e10, rel=5e-3)
    assert out["n_tokens"] == pytest.approx(1.329e12, rel=5e-3)
    assert out["law"] == "besiroglu2024"


def test_plan_params_tokens_target():
    by_n = run_json("plan", "--params", "70B", "--law", "besiroglu2024")
    assert by_n["n_params"] == 70e9 and by_n["flops"] == pytest.approx(6 * 70e9 * by_n["n_tokens"])
    by_d = run_json("plan", "--tokens", "1.4T", "--law", "hoffmann2022")
    assert by_d["n_tokens"] == 1.4e12
    target = run_json("plan", "--target-loss", "2.0")
    assert target["loss"] == pytest.approx(2.0, rel=1e-12)


def test_diagnose_json():
    out = run_json("diagnose", "--params", "280e9", "--tokens", "300e9", "--law", "besiroglu2024")
    assert set(out) >= {"regime", "tokens_per_param", "loss", "optimal", "compute_equivalent_flops",
                        "wasted_fraction", "limiting"}
    assert out["regime"] == "undertrained" and out["limiting"] == "tokens"
    assert set(out["optimal"]) >= {"flops", "n_params", "n_tokens", "tokens_per_param", "loss", "law"}


def test_flops_json():
    out = run_json("flops", "--layers", "12", "--d-model", "768", "--heads", "12", "--vocab", "50257",
                   "--seq-len", "1024")
    assert out["n_params"] == 124_439_808
    assert set(out["flops_per_token"]) == {"6N", "kaplan", "palm", "chinchilla"}


def test_laws_lists_presets():
    out = run_json("laws")
    assert set(out) == {"hoffmann2022", "hoffmann2022-rounded", "besiroglu2024", "kaplan2020", "muennighoff2023"}
    result = runner.invoke(app, ["laws"])
    assert result.exit_code == 0 and "Besiroglu" in result.stdout


@pytest.mark.parametrize("args", [
    ["plan", "--flops", "-5"],
    ["plan", "--flops", "0"],
    ["plan", "--flops", "nan"],
    ["plan", "--flops", "lots"],
    ["plan", "--flops", "1e22", "--law", "nope"],
    ["plan", "--target-loss", "1.5", "--law", "besiroglu2024"],
    ["plan"],
    ["plan", "--flops", "1e22", "--params", "1B"],
    ["diagnose", "--params", "0", "--tokens", "1B"],
    ["flops", "--layers", "2", "--d-model", "100", "--heads", "3", "--vocab", "256", "--seq-len", "64"],
])
def test_bad_input_is_one_line_exit_2(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error:")


@pytest.mark.parametrize("text,value", [("70B", 70e9), ("1.4T", 1.4e12), ("300M", 300e6), ("5.76e23", 5.76e23),
                                        ("2.5k", 2500.0), ("1_000", 1000.0), ("7G", 7e9)])
def test_parse_quantity(text, value):
    assert parse_quantity(text) == value


def test_parse_quantity_rejects():
    for bad in ("", "B", "1.2.3", "-1", "0", "inf"):
        with pytest.raises(InputError):
            parse_quantity(bad)
