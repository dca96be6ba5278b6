"""Hostile input to every command: whatever a user types into any option, the CLI answers with a result
(exit 0), a failed sweep (exit 1) or one clear error line (exit 2) — never a traceback.

Hypothesis draws an option of a command and a value for it from typed junk (commas, booleans, NaN, huge,
tiny, negative, empty, unicode, numbers in every notation); over 400 inputs run in CI.
"""

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from isoflop.cli import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
WORK = Path(tempfile.mkdtemp(prefix="isoflop-fuzz-"))
RUNS = WORK / "runs.csv"
shutil.copy(EXAMPLES / "runs.csv", RUNS)

# command → (arguments that make it valid, options to fuzz)
COMMANDS = {
    "plan": (["plan", "--flops", "1e22"],
             ["--flops", "--params", "--tokens", "--target-loss", "--unique-tokens", "--inference-tokens",
              "--match-flops", "--gpu", "--gpus", "--days", "--mfu", "--usd-per-gpu-hour", "--precision",
              "--inference-mfu", "--inference-usd-per-gpu-hour", "--rel-improvement", "--law", "--fit"]),
    "loss": (["loss", "--params", "1e9", "--tokens", "2e10"],
             ["--params", "--tokens", "--unique-tokens", "--law", "--fit"]),
    "frontier": (["frontier", "--from", "1e18", "--to", "1e20"],
                 ["--from", "--to", "--per-decade", "--unique-tokens", "--inference-tokens", "--law"]),
    "diagnose": (["diagnose", "--params", "1e9", "--tokens", "2e10"],
                 ["--params", "--tokens", "--model", "--law", "--tolerance"]),
    "flops": (["flops", "--layers", "2", "--d-model", "64", "--heads", "2", "--vocab", "100", "--seq-len", "32"],
              ["--layers", "--d-model", "--heads", "--vocab", "--seq-len", "--d-ff", "--kv-heads", "--mlp", "--norm",
               "--position", "--experts", "--experts-per-token", "--tokens", "--model"]),
    "fit": (["fit", str(RUNS)],
            ["--form", "--columns", "--param-convention", "--drop-highest", "--delta", "--fix", "--bootstrap",
             "--seed", "--plan", "--backtest-above", "--base"]),
    "sweep design": (["sweep", "design", "--budgets", "1e11,3e11"],
                     ["--budgets", "--sizes-per-budget", "--spread", "--center", "--law", "--seq-len", "--head-dim",
                      "--data", "--seed", "--device", "--device-flops"]),
}
NUMBERISH = st.sampled_from(["0", "-1", "-0", "nan", "NaN", "inf", "-inf", "1e400", "1e-400", "1e-300", "1,5B",
                             "1,000", "True", "false", "", " ", "70B", "1.4T", "300M", "2.5k", "0x10", "1e22",
                             "5.76e23", "0.5", "1.5", "2", "3", "1000000000000", "abc", "B", "1e", "--json", "é",
                             "1_000", "½", "９", "1e22,1e23", "E=1.69", "E=", "=1", "alpha=nan", "gpt2",
                             "llama-2-7b", "chinchilla", "auto", "h100-sxm", "fp8", "cpu", "tpu"])
VALUES = st.one_of(NUMBERISH, st.text(max_size=10), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                   st.integers(min_value=-10**30, max_value=10**30).map(str))
runner = CliRunner()


@st.composite
def invocations(draw):
    name = draw(st.sampled_from(sorted(COMMANDS)))
    base, options = COMMANDS[name]
    option = draw(st.sampled_from(options))
    return base + [option, draw(VALUES)]


@settings(max_examples=450, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(args=invocations(), as_json=st.booleans())
def test_no_input_gives_a_traceback(args, as_json):
    result = runner.invoke(app, args + (["--json"] if as_json else []))
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output[-500:])
    assert "Traceback" not in result.output, args
    if result.exit_code == 2:
        lines = [line for line in result.stderr.strip().split("\n") if line.strip()]  # (a value may hold \x1e)
        assert lines and (lines[-1].startswith("error:") or "Error" in result.stderr), (args, result.stderr)
