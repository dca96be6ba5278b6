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
    assert "demo finished" in proc.stdout.strip().splitlines()[-1]  # the terminal output ends cleanly
    out = cwd / shlex.split(command)[shlex.split(command).index("--out") + 1]
    return out, json.loads((out / "summary.json").read_text()), proc.stdout


def test_demo_trains_a_sweep_with_valleys(demo):
    out, summary, _ = demo
    runs = summary["runs"]
    budgets = sorted({r["flops_budget"] for r in runs})
    assert len(budgets) >= 3 and len(runs) >= 12 and not summary["failed"]
    for r in runs:
        assert np.isfinite(r["loss"]) and 0 < r["loss"] < np.log(256)  # better than uniform over bytes
        assert r["flops"] == pytest.approx(r["flops_budget"], rel=0.01)  # each run spends its budget
    best = []
    for c in budgets:
        at_c = sorted((r for r in runs if r["flops_budget"] == c), key=lambda r: r["n_params"])
        losses = [r["loss"] for r in at_c]
        best.append(min(losses))
        assert len(at_c) >= 4
        assert 0 < int(np.argmin(losses)) < len(losses) - 1  # an IsoFLOP valley: a middle size wins
    assert best == sorted(best, reverse=True)  # more compute, lower loss


def test_demo_fits_and_plans_beyond_the_sweep(demo):
    out, summary, stdout = demo
    fit = summary["fit"]
    assert fit["status"] in ("converged", "bound") and fit["n_points"] == len(summary["runs"])
    plan = summary["plan"]
    assert plan["flops"] == pytest.approx(100 * max(r["flops"] for r in summary["runs"]), rel=1e-9)
    lo, hi = plan["intervals"]["n_params"]
    assert lo <= plan["n_params"] <= hi
    # The plan is the closed form (Hoffmann et al. 2022, eq. 4) of the fitted constants.
    p = fit["params"]
    g = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / (p["alpha"] + p["beta"]))
    assert plan["n_params"] == pytest.approx(g * (plan["flops"] / 6) ** (p["beta"] / (p["alpha"] + p["beta"])),
                                             rel=1e-9)
    assert 0.2 < summary["isoflop"]["a"]["exponent"] < 0.8  # approach 2 found a valley at every budget
    assert isinstance(load_fit(out / "fit.json"), LawEnsemble)
    assert summary["provenance"]["isoflop_version"] and summary["provenance"]["inputs"][0]["sha256"]
    assert "Fitted law" in stdout and "plan at" in stdout  # the terminal tells the story, not only a loss table


def test_demo_report_opens_in_a_browser(demo, tmp_path):
    from tests.test_report import check_in_chromium

    out, summary, _ = demo
    page = (out / "report.html").read_text(encoding="utf-8")
    n_images = page.count("<img ")
    assert n_images == 5
    check_in_chromium(page, tmp_path, n_images)
