"""The command line: JSON keys, number forms and one-line errors."""

import json
from pathlib import Path

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
    assert set(out["flops_per_token"]) == {"6N", "kaplan", "palm", "hoffmann-table-a4",
                                           "hoffmann-appendix-f-as-printed"}


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


# ------------------------------------------------- data-constrained, inference-aware and hardware plans

def test_loss_command_matches_readme():
    out = run_json("loss", "--law", "muennighoff2023", "--params", "6.34e9", "--tokens", "242e9",
                   "--unique-tokens", "25e9")
    assert out["loss"] == pytest.approx(2.2256440889984477, rel=1e-9)
    assert out["epochs"] == pytest.approx(9.68) and out["law"] == "muennighoff2023"
    base = run_json("loss", "--law", "besiroglu2024", "--params", "70B", "--tokens", "1.4T")
    assert base["loss"] == pytest.approx(1.8172 + 482.01 / 70e9**0.3478 + 2085.43 / 1.4e12**0.3658)


def test_plan_muennighoff_base_unchanged_and_constrained():
    base = run_json("plan", "--law", "muennighoff2023", "--flops", "5.76e23")
    assert base["n_params"] == pytest.approx(6.996e10, rel=5e-3) and "epochs" not in base
    out = run_json("plan", "--law", "muennighoff2023", "--flops", "1e22", "--unique-tokens", "25e9")
    assert out["n_params"] == pytest.approx(7.026e9, rel=5e-3) and out["n_tokens"] == pytest.approx(2.372e11, rel=5e-3)
    assert out["epochs"] == pytest.approx(out["n_tokens"] / 25e9)


def test_plan_data_optimal_and_data_for_target():
    out = run_json("plan", "--law", "muennighoff2023", "--unique-tokens", "25e9")
    assert out["best_loss"] < out["loss"] and out["epochs"] > 1 and out["rel_improvement"] == 0.005
    need = run_json("plan", "--law", "muennighoff2023", "--params", "6.34e9", "--target-loss", "2.2256440889984477",
                    "--unique-tokens", "25e9")
    assert need["n_tokens"] == pytest.approx(242e9, rel=1e-9)


def test_plan_inference_aware():
    out = run_json("plan", "--match-flops", "1e23", "--inference-tokens", "1e13")  # the quality, not a budget
    assert out["n_params"] < out["compute_optimal"]["n_params"]
    assert out["loss"] == pytest.approx(out["compute_optimal"]["loss"], rel=1e-12)
    priced = run_json("plan", "--match-flops", "1e23", "--inference-tokens", "1e13", "--gpu", "h100-sxm",
                      "--usd-per-gpu-hour", "2", "--inference-mfu", "0.1")
    assert priced["n_params"] < out["n_params"] and priced["total_usd"] < priced["compute_optimal_total_usd"]


def test_a_budget_is_not_an_inference_plans_quality():
    result = runner.invoke(app, ["plan", "--flops", "1e23", "--inference-tokens", "1e13"])
    assert result.exit_code == 2 and "--match-flops" in result.stderr


def test_plan_from_hardware():
    out = run_json("plan", "--gpu", "h100-sxm", "--gpus", "1024", "--days", "30", "--mfu", "0.4",
                   "--usd-per-gpu-hour", "2.5")
    assert out["flops"] == pytest.approx(1024 * 989e12 * 0.4 * 30 * 86400, rel=1e-12)
    cost = out["cost"]  # the plan's cost sits under "cost" (front-door issue: one Plan shape)
    assert cost["days"] == pytest.approx(30) and cost["gpu_hours"] == pytest.approx(1024 * 30 * 24)
    assert cost["usd"] == pytest.approx(2.5 * 1024 * 30 * 24)
    assert out["memory"]["fits"] is True and out["memory"]["min_gpus"] >= 1
    given = run_json("plan", "--flops", "5.76e23", "--gpu", "h100-sxm", "--gpus", "512")
    assert given["cost"]["gpu_hours"] == pytest.approx(5.76e23 / (989e12 * 0.4) / 3600)
    assert given["cost"]["days"] == pytest.approx(given["cost"]["gpu_hours"] / 512 / 24)
    assert given["cost"]["usd"] is None


@pytest.mark.parametrize("args,message", [
    (["plan", "--flops", "1e22", "--unique-tokens", "0"], "unique"),
    (["plan", "--flops", "1e22", "--unique-tokens", "-3B"], "unique"),
    (["plan", "--gpu", "h100-sxm", "--gpus", "8", "--days", "1", "--mfu", "1.5"], "MFU"),
    (["plan", "--gpu", "h100-sxm", "--gpus", "8", "--days", "1", "--mfu", "0"], "MFU"),
    (["plan", "--gpu", "h300", "--gpus", "8", "--days", "1"], "known: a100, h100-sxm"),
    (["plan", "--flops", "1e6"], "smallest sensible model"),
    (["plan", "--gpu", "h100-sxm", "--gpus", "1", "--days", "1e-16"], "smallest sensible model"),
    (["plan", "--gpu", "h100-sxm", "--days", "3"], "--gpus"),
    (["plan", "--gpu", "tpu-v5e", "--gpus", "8", "--days", "1", "--precision", "fp8"], "int8"),
    (["plan", "--flops", "1e22", "--days", "3", "--gpu", "a100", "--gpus", "8"], "not both"),
    (["plan", "--gpus", "8", "--flops", "1e22"], "--gpu"),
    (["plan", "--flops", "1e22", "--inference-tokens", "-1"], "--inference-tokens"),
    (["plan", "--flops", "1e22", "--unique-tokens", "1e9", "--inference-tokens", "1e9"], "combined"),
    (["plan", "--params", "7e9", "--target-loss", "1.9", "--law", "besiroglu2024"], "out of reach"),
    (["plan", "--unique-tokens", "1e9", "--rel-improvement", "2"], "rel_improvement"),
    (["loss", "--params", "1e9", "--tokens", "1e10", "--unique-tokens", "0"], "unique"),
])
def test_new_bad_inputs_are_one_line_exit_2(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


RUNS = str(Path(__file__).resolve().parents[1] / "examples" / "runs.csv")


@pytest.mark.parametrize("args, names", [
    (["fit", RUNS, "--bootstrap", "2.5"], "--bootstrap"),
    (["fit", RUNS, "--bootstrap", "lots"], "--bootstrap"),
    (["frontier", "--from", "1e20", "--to", "1e18"], "--to"),
    (["frontier", "--from", "1e18", "--to", "1e20", "--per-decade", "0"], "--per-decade"),
    (["frontier", "--from", "1e18", "--to", "1e20", "--per-decade", "0.5"], "--per-decade"),
    (["plan", "--gpu", "h100-sxm", "--gpus", "2.5", "--days", "3"], "--gpus"),
    (["plan", "--gpu", "h100-sxm", "--gpus", "8", "--days", "0"], "--days"),
    (["plan", "--law", "muennighoff2023", "--unique-tokens", "1"], "unique tokens 1"),
    (["fit", RUNS, "--backtest-above", "1e30"], "--backtest-above"),
    # options click itself parses (whole numbers, an unknown or missing option) read the same way
    (["fit", RUNS, "--seed", "x"], "--seed"),
    (["fit", RUNS, "--drop-highest", "2.5"], "--drop-highest"),
    (["flops", "--layers", "2.5", "--d-model", "64", "--heads", "2", "--vocab", "100", "--seq-len", "8"],
     "--layers"),
    (["plan", "--bogus", "1"], "--bogus"),
    (["frontier", "--to", "1e22"], "--from"),
    (["sweep", "run"], "SWEEP_DIR"),
])
def test_bad_options_give_one_line_naming_the_option(args, names):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and names in lines[0], result.output
    assert "array(" not in result.output and "Usage:" not in result.output


def test_ctrl_c_says_interrupted(monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("isoflop.cli.planning.plan", interrupted)
    result = runner.invoke(app, ["plan", "--flops", "1e21"])
    assert result.exit_code == 130 and result.stderr.strip() == "error: interrupted"


def test_sigterm_stops_as_ctrl_c_does(tmp_path):
    """SIGTERM (timeout, kill, a scheduler) ended `isoflop` with exit 143 and no word; now as Ctrl-C: one line,
    exit 130, and no half-written --save."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import shared_file

    # The console script, which turns SIGTERM into the same line during its imports too: on a loaded machine
    # (CI beside other jobs) the imports of `python -m isoflop` can outlast the 5 s below.
    import shutil

    script = shutil.which("isoflop")
    command = [script] if script is not None else [sys.executable, "-m", "isoflop"]
    proc = subprocess.Popen([*command, "fit", str(shared_file("chinchilla_epoch.csv")),
                             "--columns", 'n_params="Model Size",flops="Training FLOP"', "--form", "auto",
                             "--bootstrap", "50000", "--save", str(tmp_path / "fit.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, COLUMNS="200"))
    time.sleep(5)  # past the imports (~2 s), into the fit (auto with 50,000 resamples takes over a minute)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and stderr.strip().endswith("error: interrupted"), stderr
    assert "Traceback" not in stderr and not (tmp_path / "fit.json").exists()


def test_ctrl_c_while_the_package_imports_is_one_line_too():
    """Importing isoflop (NumPy, pandas, SciPy, typer) takes most of a second; a Ctrl-C then printed a
    KeyboardInterrupt traceback. The console script's entry (_isoflop_entry) runs before the package is imported."""
    import shutil
    import signal
    import subprocess
    import time

    script = shutil.which("isoflop")
    if script is None:
        pytest.skip("the isoflop console script is not installed (pip install -e .)")
    codes = []
    # inside the imports (the command takes ~1 s, its imports most of it); longer delays for a loaded machine,
    # where the first ones may fall before Python has started
    for delay in (0.1, 0.25, 0.4, 0.7, 1.0, 1.5):
        # SIGINT as a terminal leaves it (a test run in the background inherits it ignored)
        proc = subprocess.Popen([script, "plan", "--flops", "1e21"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        assert "Traceback" not in stderr, stderr
        codes.append(proc.returncode)
        if proc.returncode == 130:
            assert stderr.strip() == "error: interrupted"
            break
    assert 130 in codes, codes


def test_every_error_line_is_red_usage_errors_included():
    """"Bad input prints one red line" (README): input errors were red, usage errors (an unknown option, a
    missing value) and the interrupt line yellow, the colour of warnings."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, FORCE_COLOR="1", COLUMNS="200")
    for args in (["plan", "--bogus"], ["plan", "--flops"], ["nosuch"], ["plan", "--flops", "abc"]):
        proc = subprocess.run([sys.executable, "-m", "isoflop", *args], capture_output=True, text=True, env=env)
        assert proc.returncode == 2 and proc.stderr.startswith("\x1b[31merror:"), (args, proc.stderr)
        assert proc.stderr.count("\n") == 1


def test_an_option_given_twice_is_refused_not_overwritten():
    """click keeps an option's last value: `plan --flops 1e21 --flops 1e22` planned 1e22 with exit 0 (numbers
    audit). A repeatable option (--data-path) still repeats."""
    for args, named in ((["plan", "--flops", "1e21", "--flops", "1e22"], "--flops"),
                        (["plan", "--flops=1e21", "--flops", "1e22", "--json"], "--flops"),
                        (["sweep", "design", "--budgets", "1e10", "--budgets", "2e10"], "--budgets"),
                        (["sweep", "status", "x", "--json", "--json"], "--json"),
                        (["demo", "--progress", "--no-progress"], "--no-progress")):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and named in result.stderr and ("twice" in result.stderr
                                                                     or "sets it too" in result.stderr), args
    result = runner.invoke(app, ["sweep", "design", "--budgets", "1e10", "--head-dim", "8", "--data", "text",
                                 "--data-path", "a.txt", "--data-path", "b.txt"])
    assert result.exit_code == 2 and "a.txt" in result.stderr and "twice" not in result.stderr


def test_help_pages_still_show():
    for args, code in (([], 2), (["sweep"], 2), (["plan", "-h"], 0)):  # click's codes: no command is a usage error
        result = runner.invoke(app, args)
        assert result.exit_code == code and "Usage: " in result.output and "error:" not in result.output


def test_bootstrap_count_reads_like_every_other_number():
    out = run_json("fit", RUNS, "--bootstrap", "1e2")
    assert out["bootstrap"]["n_resamples"] == 100


@pytest.mark.parametrize("option, value", [("--tokens", "1"), ("--params", "100")])
def test_sizes_no_run_could_have_are_refused_not_planned(option, value):
    """1 token is compute-optimal for a 0.0128-parameter model at 0.077 FLOPs: refused, as a budget that small is."""
    result = runner.invoke(app, ["plan", option, value])
    said = result.output.replace("n_", "")
    assert result.exit_code == 2 and (f"{option[2:]} {value} is compute-optimal" in said  # its budget is too small
                                      or f"{option[2:]} {value} is below 1,000, the smallest sensible model" in said)


@pytest.mark.parametrize("args, names", [
    (["loss", "--params", "1e-300", "--tokens", "1e-300"], "smallest sensible model"),  # predicted 1.1e113 nats
    (["plan", "--params", "1e-300"], "smallest sensible model"),  # leaked NumPy's divide-by-zero warning
    (["diagnose", "--params", "280B", "--tokens", "300B", "--tolerance", "inf"], "--tolerance"),
    (["report", RUNS, "--smooth", "-1", "--out", "r.html"], "--smooth"),
    (["fit", RUNS, "--delta", "1e-20"], "--delta"),  # stopped at its start, labelled converged
    (["fit", RUNS, "--form", "auto", "--delta", "0.01"], "--delta"),  # was ignored
    (["fit", RUNS, "--base", "bogus"], "--base"),
    (["fit", RUNS, "--fix", "E=1,E=2"], "twice"),
    (["fit", RUNS, "--form", "loss-vs-compute", "--plan", "1e21"], "--plan"),  # dropped with exit 0
    (["plan", "--flops", "1e21", "--law", ""], "unknown law ''"),
    (["plan", "--flops", "1e21", "--rel-improvement", "0.1"], "data-optimal"),  # was ignored
    (["ingest", str(Path(RUNS).with_name("wandb_export.csv")), "--params", "run_a=1e8,run_b=3e8",
      "--tokens-per-step", "524288", "--step-key", "nope", "--out", "x.parquet"], "--step-key"),  # was ignored
    (["ingest", str(Path(RUNS).with_name("tb_logs")), "--params", "1.2e8", "--tokens-per-step", "524288",
      "--step-key", "nope", "--out", "x.parquet"], "--step-key"),
    (["ingest", str(Path(RUNS).with_name("tb_logs")), "--params", "1.2e8", "--tokens-per-step", "1.5",
      "--out", "x.parquet"], "whole number"),
    (["flops", "--model", "gpt2", "--d-model", "768"], "drop --d-model"),
    (["report", RUNS, "--budgets", "1e21,,1e23", "--out", "r.html"], "empty item"),  # 1e21,1e23 were planned
    (["sweep", "design", "--budgets", "1e9,,2e9"], "empty item"),
    (["plan", "--flops", "1e300"], "above 1e+60"),  # overflowed into inf and NumPy warnings
    (["diagnose", "--params", "1e25", "--tokens", "1e40"], "above 1e+60"),
    (["report", RUNS, "--budgets", "1e300", "--out", "r.html"], "above 1e+60"),
    (["sweep", "design", "--budgets", "1e11", "--device-flops", "1e-300"], "--device-flops"),  # "n/a years"
    (["sweep", "design", str(Path(RUNS).with_name("sweep.toml")), "--spread", "nan"], "--spread"),  # the file's
    (["sweep", "design", "--budgets", "1e10", "--sizes-per-budget", "0"], "--sizes-per-budget: must be"),  # a key
    (["sweep", "design", "--budgets", "1e10", "--data", "nope"], "--data: unknown source"),  # data.source
    # a third pass: options accepted and ignored with exit 0
    (["flops", "--model", "llama-3-8b", "--mlp", "swiglu"], "drop --mlp"),
    (["flops", "--model", "gpt2", "--untied", "--experts", "8"], "drop --experts, --untied"),
    (["plan", "--flops", "1e21", "--allow-unidentified"], "--allow-unidentified"),
    (["loss", "--params", "1e9", "--tokens", "2e10", "--allow-unidentified"], "--allow-unidentified"),
    (["fit", RUNS, "--seed", "3"], "--bootstrap"),
    (["fit", RUNS, "--base", "fit"], "data-constrained"),
    (["report", RUNS, "--base", "fit", "--out", "r.html"], "data-constrained"),
    (["sweep", "design", str(Path(RUNS).with_name("sweep.toml")), "--spread", "1"], "spread"),
    # a saved fit given to --law: "unknown law 'fit.json'; known laws: …" did not say that --fit reads it
    (["plan", "--flops", "1e21", "--law", "fit.json"], "give --fit fit.json"),
    (["loss", "--params", "1e9", "--tokens", "2e10", "--law", "fit.json"], "give --fit fit.json"),
])
def test_second_hostile_pass_inputs_are_refused_in_one_line(args, names, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("note:")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and names in lines[0], result.output
    assert "Warning" not in result.output


def test_frontier_warns_as_plan_does_and_says_what_its_columns_combine():
    """A preset's range and break-down warnings reach the frontier as they reach a plan at the same budget, and
    data-constrained beside inference-aware columns are said not to combine both limits."""
    plan = run_json("plan", "--law", "kaplan2020", "--flops", "1e25")
    frontier = run_json("frontier", "--law", "kaplan2020", "--from", "1e22", "--to", "1e26")
    assert any("break down" in w for w in plan["warnings"]) and any("break down" in w for w in frontier["warnings"])
    both = run_json("frontier", "--from", "1e20", "--to", "1e22", "--unique-tokens", "1T", "--inference-tokens", "2T")
    assert any("assume unlimited unique data" in w for w in both["warnings"])


def test_named_models_carry_their_caveats():
    mistral = run_json("flops", "--model", "mistral-7b")
    assert mistral["seq_len"] == 8192  # Jiang et al. 2023, Table 1: context_len 8,192 (the HF config's 32,768 is not)
    assert any("sliding-window" in w for w in mistral["warnings"])
    moe = run_json("diagnose", "--model", "mixtral-8x7b", "--tokens", "300B")
    assert any("6·N_active·D" in w and "3.6× less" in w for w in moe["warnings"])


@pytest.mark.parametrize("args", [
    ["sweep", "design", "--budgets", "1e11", "--out", ""],
    ["sweep", "run", "", "--device", "cpu"],
    ["sweep", "status", ""],
    ["demo", "--out", ""],
    ["fit", ""],
    ["fit", RUNS, "--save", ""],
    ["report", RUNS, "--out", ""],
    ["ingest", RUNS, "--out", ""],
    ["frontier", "--from", "1e20", "--to", "1e22", "--csv", ""],
    ["plan", "--fit", "", "--flops", "1e21"],
])
def test_an_empty_file_or_folder_name_is_refused(args, tmp_path, monkeypatch):
    """`--out "$DIR"` with DIR unset reached the commands as Path('') == Path('.'): `sweep design --out ''`
    made a sweep in the current folder, and `demo --out ''` trained into it."""
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "empty name" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing written into the current folder


def test_cuda_without_a_gpu_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    """`demo --device cuda` on a machine without a GPU printed its design and wrote 33 run folders, then
    refused; `sweep run CONFIG --device cuda` made the config's sweep folder first."""
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: --device cuda is valid here")
    monkeypatch.chdir(tmp_path)
    config = Path(RUNS).with_name("sweep.toml")
    for args in (["demo", "--device", "cuda", "--out", "demo"],
                 ["sweep", "run", str(config), "--device", "cuda", "--out", "s"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "CUDA" in result.stderr, result.output
        assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["--layers", "0", "--d-model", "768", "--heads", "12"], "--layers must be an integer"),
    (["--layers", "2", "--d-model", "770", "--heads", "12"], "--d-model 770 is not divisible by --heads 12"),
    (["--layers", "2", "--d-model", "768", "--heads", "12", "--kv-heads", "5"],
     "--heads 12 is not divisible by --kv-heads 5")])
def test_flops_errors_name_the_flags_typed(args, message):
    """`flops --layers 0` said "architecture: n_layer must be …": a field the user never typed."""
    result = runner.invoke(app, ["flops", *args, "--vocab", "50257", "--seq-len", "1024"])
    assert result.exit_code == 2 and message in result.output and "n_layer" not in result.output, result.output


def _run_with_stderr_on_a_terminal(args):
    """Run `python -m isoflop ARGS` with stdout a pipe and stderr a pseudo-terminal: (exit code, stdout, stderr)."""
    import os
    import pty
    import subprocess
    import sys

    import threading

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "isoflop", *args], stdout=subprocess.PIPE, stderr=slave,
                            env=dict(os.environ, COLUMNS="100"))
    os.close(slave)
    chunks = []

    def drain():  # read the terminal while the command runs: a full pty buffer would block its writes
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal's other end closed: all read
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out = proc.stdout.read()
    proc.wait(timeout=120)
    reader.join(timeout=10)
    os.close(master)
    return proc.returncode, out.decode(), b"".join(chunks).decode(errors="replace")


def test_json_shows_progress_to_a_person_and_keeps_stdout_json():
    """`fit --bootstrap 1000 --json` on 1e5 runs took 11 minutes with nothing on the screen: --json turned the
    progress off. A terminal on stderr now gets the bar (stdout still holds the JSON alone); a pipe gets none."""
    args = ["fit", RUNS, "--bootstrap", "300", "--json"]
    code, out, err = _run_with_stderr_on_a_terminal(args)
    assert code == 0 and json.loads(out)["n_points"] > 0
    assert "bootstrap (resamples converged)" in err
    piped = runner.invoke(app, args)  # stderr is not a terminal here
    assert piped.exit_code == 0 and "resamples converged" not in piped.stderr and json.loads(piped.stdout)
