"""The main job end to end, exactly as the README writes it: `isoflop demo --out isoflop-demo` trains a real
IsoFLOP sweep on the CPU, fits, backtests, plans and reports.

One run of the demo (a few minutes on 2 cores), in a scratch folder, serves every assertion here.
"""

import json
import shlex
import subprocess

import numpy as np
import pytest

from isoflop.fitting.io import load_fit
from isoflop.laws import LawEnsemble
from tests.readme import demo_command

pytest.importorskip("torch")
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("readme-demo")
    command = demo_command()
    assert command.startswith("isoflop demo")
    proc = subprocess.run(shlex.split(command), cwd=cwd, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "demo finished" in " ".join(proc.stdout.strip().splitlines()[-3:])  # the terminal output ends cleanly
    out = cwd / shlex.split(command)[shlex.split(command).index("--out") + 1]
    return out, json.loads((out / "summary.json").read_text()), proc.stdout


def test_demo_trains_a_wsd_sweep_that_spans_the_design(demo):
    out, summary, _ = demo
    runs = summary["runs"]
    assert not summary["failed"] and len(runs) >= 20
    for r in runs:
        assert np.isfinite(r["loss"]) and 0 < r["loss"] < np.log(256)  # better than uniform over bytes
        assert r["flops"] == pytest.approx(r["flops_budget"], rel=0.02)  # each point spends its budget
    sizes = sorted({r["n_params"] for r in runs})
    flops = [r["flops"] for r in runs]
    # issue 12: ≥ 5 model sizes over ≥ 1 decade of parameters, cooldown points over ≥ 1.5 decades of compute
    assert len(sizes) >= 5 and np.log10(sizes[-1] / sizes[0]) >= 1.0
    assert np.log10(max(flops) / min(flops)) >= 1.5 - 1e-3
    # more compute buys a lower best loss (budget by budget, allowing the noise of one evaluation)
    best = [min(r["loss"] for r in runs if r["flops_budget"] == c) for c in sorted({r["flops_budget"] for r in runs})]
    assert best[-1] < best[0] and all(b2 < b1 + 0.02 for b1, b2 in zip(best, best[1:]))


def test_demo_law_is_pinned_down_backtested_and_planned(demo):
    out, summary, stdout = demo
    fit = summary["fit"]
    assert fit["status"] == "converged" and fit["n_points"] == len(summary["runs"])
    assert fit["identifiability"]["level"] == "identified" and summary["refusal"] is None  # issue 12
    boot = fit["bootstrap"]
    assert boot["n_converged"] >= 0.95 * boot["n_resamples"]
    # self-backtest: fit below the top half-decade of compute, predict the top (issue 12: ≤ 2 %)
    (test,) = summary["backtest"]
    assert test["threshold_flops"] == pytest.approx(max(r["flops"] for r in summary["runs"]) / 10**0.5, rel=1e-9)
    assert test["n_test"] >= 5 and test["mean_abs_rel_error"] <= 0.02
    plan = summary["plan"]
    assert plan["flops"] == pytest.approx(100 * max(r["flops"] for r in summary["runs"]), rel=1e-9)
    lo, hi = plan["intervals"]["n_params"]
    assert lo <= plan["n_params"] <= hi and hi / lo <= 10  # issue 12: N* within a factor of 10
    # The plan is the closed form (Hoffmann et al. 2022, eq. 4) of the fitted constants.
    p = fit["params"]
    g = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / (p["alpha"] + p["beta"]))
    assert plan["n_params"] == pytest.approx(g * (plan["flops"] / 6) ** (p["beta"] / (p["alpha"] + p["beta"])),
                                             rel=1e-9)
    assert isinstance(load_fit(out / "fit.json"), LawEnsemble)
    assert summary["provenance"]["isoflop_version"] and summary["provenance"]["inputs"][0]["sha256"]
    # the terminal tells the story: the law, its verdict, the backtest, the plan
    for said in ("Fitted law", "identified", "self-backtest", "plan at"):
        assert said in stdout, said
    # a = β/(α + β) has its value beside its interval (it was blank), and the plan's loss its unit
    import re

    a = re.search(r"\n\s+a\s+([0-9.]+)\s+\[", stdout)
    assert a is not None and float(a.group(1)) == pytest.approx(p["beta"] / (p["alpha"] + p["beta"]), abs=5e-4)
    assert re.search(r"loss [0-9.]+ nats \[", stdout)


def test_demo_report_opens_in_a_browser(demo, tmp_path):
    from tests.test_report import check_in_chromium

    out, summary, _ = demo
    page = (out / "report.html").read_text(encoding="utf-8")
    n_images = page.count("<img ")
    assert n_images == 6 and 'id="wsd_branches"' in page  # the trunks with their cooldown branches
    check_in_chromium(page, tmp_path, n_images)


def test_run_demo_from_python_resumes_the_cli_s_sweep(demo):
    """`isoflop.run_demo` is `isoflop demo`: on the folder the command filled it trains nothing (every run is
    finished) and writes the same analysis — same runs, same fitted constants, same plan — to summary.json."""
    import isoflop

    out, summary, _ = demo
    again = isoflop.run_demo(out, progress=False)
    written = json.loads((out / "summary.json").read_text())  # what it returned is what it wrote
    assert written["wall_seconds"] == again["wall_seconds"] and written["fit"]["params"] == again["fit"]["params"]
    assert [r["loss"] for r in again["runs"]] == [r["loss"] for r in summary["runs"]]
    assert again["fit"]["params"] == pytest.approx(summary["fit"]["params"], rel=1e-12)
    assert again["plan"]["n_params"] == pytest.approx(summary["plan"]["n_params"], rel=1e-12)
    assert again["wall_seconds"] < summary["wall_seconds"] / 3  # analysis only, no training
    # `sweep status` and `sweep run` take the demo's folder as fit and report do (they advised designing a
    # second sweep into it)
    state = isoflop.sweep_status(out)
    assert {s.state for s in state.runs} == {"done"} and len(state.runs) > len(summary["runs"])  # trunks too
    from typer.testing import CliRunner

    from isoflop.cli import app

    done = CliRunner().invoke(app, ["sweep", "run", str(out), "--no-progress"])
    assert done.exit_code == 0, done.output
