"""The demo's design meets the issue's shape, and ``identify`` recovers a known law from points drawn from it."""

import math

import numpy as np
import pandas as pd
import pytest

from isoflop.laws import ChinchillaLaw
import json

from isoflop.demo import analyse_demo
from isoflop.io_utils import strict_json
from isoflop.runs import RunTable
from isoflop.sweep.demo import DEMO_CONFIG, demo_design


def test_demo_design_spans_the_decades_the_issue_asks_for():
    design = demo_design()
    points = design.points
    n = np.array([r.n_params for r in points], float)
    c = np.array([r.flops for r in points], float)
    assert len(np.unique(n)) >= 5 and math.log10(n.max() / n.min()) >= 1.0
    assert math.log10(c.max() / c.min()) >= 1.5
    assert all(r.n_tokens >= DEMO_CONFIG["min_n_tokens"] for r in points)
    # sharing the stable phases trains well under the grid of separate runs
    assert design.total_flops < 0.6 * design.grid_flops


def _table(law, n_params, n_tokens, noise, seed=0):
    n, d = np.meshgrid(n_params, n_tokens)
    n, d = n.ravel(), d.ravel()
    rng = np.random.default_rng(seed)
    loss = law.loss(n, d) * np.exp(noise * rng.standard_normal(n.size))
    return pd.DataFrame({"run_id": [f"p{i}" for i in range(n.size)], "n_params": n, "n_tokens": d,
                         "flops": 6 * n * d, "loss": loss, "param_convention": "total"})


def test_demo_analysis_recovers_a_known_law():
    law = ChinchillaLaw(E=1.2, A=60.0, alpha=0.45, B=400.0, beta=0.42)
    table = RunTable.from_frame(_table(law, np.geomspace(8e3, 1.2e5, 6), np.geomspace(1e6, 2e7, 6), noise=0.002))
    analysis = analyse_demo(table)
    boot = analysis.bootstrap
    assert analysis.fit.n_points == 36 and boot.n_converged >= 0.95 * boot.n_resamples
    for name, true in (("alpha", 0.45), ("beta", 0.42), ("E", 1.2)):
        low, high = boot.intervals[name]
        assert low <= true <= high
    # N* at 100× the largest budget: the closed form of Hoffmann et al. 2022 eq. 4 for the true law
    C = analysis.budgets[0]
    assert C == pytest.approx(100 * table.flops.max())
    G = (law.alpha * law.A / (law.beta * law.B)) ** (1 / (law.alpha + law.beta))
    n_star = G * (C / 6) ** (law.beta / (law.alpha + law.beta))
    low, high = analysis.plans.intervals["n_params"]
    assert low <= n_star <= high and high / low < 3
    (backtest,) = analysis.backtests
    assert backtest.mean_abs_rel_error < 0.01 and analysis.identifiability.level == "identified"


def test_demo_analysis_refuses_a_law_it_cannot_pin_down():
    # losses that carry no information on N or D beyond noise: intervals blow up, no plan is made
    frame = _table(ChinchillaLaw(E=1.2, A=60.0, alpha=0.45, B=400.0, beta=0.42), np.geomspace(8e3, 1.2e5, 3),
                   np.geomspace(1e6, 2e7, 3), noise=0.0)
    frame["loss"] = 2.0 * np.exp(0.02 * np.random.default_rng(1).standard_normal(len(frame)))
    analysis = analyse_demo(RunTable.from_frame(frame))
    assert analysis.identifiability.level == "unidentified" and analysis.plans is None and analysis.refusal
    text = json.dumps(strict_json(analysis.to_dict()), allow_nan=False)  # as summary.json writes it
    assert "NaN" not in text and "Infinity" not in text
