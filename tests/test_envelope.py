"""Approach 1 (training-curve envelope) on synthetic curves from a known Chinchilla law.

Oracles: the law's closed-form exponents a = β/(α+β), b = α/(α+β) and N*(C) (Hoffmann et al. 2022, eq. 4),
and the closed-form lower envelope min_i L(N_i, C/(6·N_i)) over the runs' sizes.
"""

import json

import numpy as np
import pandas as pd
import pytest

from isoflop.errors import InputError
from isoflop.fitting.envelope import envelope, local_linear, schedule_flags
from isoflop.laws import ChinchillaLaw
from isoflop.runs import RunTable

LAW = ChinchillaLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)  # Hoffmann et al. 2022, eq. 10 as printed
TOKENS_PER_STEP = 2**19
SIZES = np.geomspace(1e7, 3e9, 12)


def law_curves(law=LAW, sizes=SIZES, tokens_per_param=100.0, n_points=100, noise=0.0, seed=0, planned=True,
               log_spaced=False):
    """One run per size, each evaluated n_points times at equal step intervals (or log-spaced steps) up to
    tokens_per_param·N tokens;
    the loss at every checkpoint is the law's L(N, D(t)) (times log-normal noise), i.e. each point is as good
    as a run whose schedule ended there. planned_tokens = the run's last n_tokens (schedule matched)."""
    rng = np.random.default_rng(seed)
    frames = []
    for i, n in enumerate(sizes):
        last_step = int(np.ceil(tokens_per_param * n / TOKENS_PER_STEP))
        spacing = np.geomspace if log_spaced else np.linspace
        steps = np.unique(spacing(last_step / n_points, last_step, n_points).round().astype(int))
        tokens = steps * float(TOKENS_PER_STEP)
        loss = law.loss(n, tokens) * np.exp(rng.normal(0.0, noise, steps.size))
        frame = pd.DataFrame({"run_id": f"n{i:02d}", "step": steps, "n_params": n, "n_tokens": tokens, "loss": loss})
        if planned:
            frame["planned_tokens"] = tokens[-1]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def table_of(frame):
    table = RunTable.from_frame(frame)
    if "planned_tokens" in frame:  # RunTable keeps its own columns; planned_tokens rides along (as ingest does)
        table = RunTable(table.frame.assign(planned_tokens=frame["planned_tokens"].to_numpy(float)))
    return table


def test_exponents_match_the_law():
    result = envelope(table_of(law_curves()))
    assert result.n_params_fit.exponent == pytest.approx(LAW.n_params_exponent, abs=0.01)  # 0.4516
    assert result.n_tokens_fit.exponent == pytest.approx(LAW.n_tokens_exponent, abs=0.01)  # 0.5484
    assert len(result.steps) >= 8
    # Each step's N* (geometric mean of the two sizes) is the law's closed-form N*(C) there, within 1%.
    c = np.array([s.flops for s in result.steps])
    n_opt, d_opt = LAW.compute_optimal(c)
    np.testing.assert_allclose([s.n_params for s in result.steps], n_opt, rtol=0.01)
    np.testing.assert_allclose([s.n_tokens for s in result.steps], d_opt, rtol=0.01)
    assert not result.flagged and result.warnings == ()


def test_envelope_is_the_minimum_over_runs():
    frame = law_curves(n_points=400, log_spaced=True)  # dense in log C: interpolation error ≪ 1e-3
    result = envelope(table_of(frame), n_grid=400)
    assert result.flops.size == 400
    # Closed form: at compute C, run i (between its first and last checkpoint) has loss L(N_i, C/6N_i).
    c = result.flops[:, None]
    d = c / (6 * SIZES[None, :])
    lo = frame.groupby("run_id")["n_tokens"].min().to_numpy()
    hi = frame.groupby("run_id")["n_tokens"].max().to_numpy()
    covered = (d >= lo[None, :] * (1 - 1e-9)) & (d <= hi[None, :] * (1 + 1e-9))
    oracle = np.where(covered, LAW.loss(SIZES[None, :], d), np.inf).min(axis=1)
    np.testing.assert_allclose(result.loss, oracle, rtol=1e-3)
    # The winners' sizes increase with compute, and every grid point names its run.
    assert np.all(np.diff(np.log(result.n_params)) >= 0)
    assert set(result.run_id) == set(result.winners)
    np.testing.assert_allclose(result.n_tokens, result.flops / (6 * result.n_params))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noisy_curves_with_smoothing(seed):
    # 0.3% noise per checkpoint (a noisy training loss); smoothing over ±10% in compute keeps the exponent
    # within 0.02 of the law's, inside the 95% interval.
    result = envelope(table_of(law_curves(noise=0.003, seed=seed)), smooth=0.1)
    assert result.n_params_fit.exponent == pytest.approx(LAW.n_params_exponent, abs=0.02)
    lo, hi = result.n_params_fit.interval
    assert lo < LAW.n_params_exponent < hi


def test_local_linear_smoother():
    x = np.sort(np.random.default_rng(0).uniform(0, 5, 300))
    np.testing.assert_allclose(local_linear(x, 2.0 - 0.3 * x, 0.2), 2.0 - 0.3 * x, atol=1e-10)  # lines are kept
    noisy = 2.0 - 0.3 * x + np.random.default_rng(1).normal(0, 0.01, x.size)
    smoothed = local_linear(x, noisy, 0.5)
    assert np.std(smoothed - (2.0 - 0.3 * x)) < 0.4 * np.std(noisy - (2.0 - 0.3 * x))
    np.testing.assert_allclose(local_linear(np.array([1.0, 3.0]), np.array([5.0, 7.0]), 0.5), [5.0, 7.0])


def test_schedule_flags_rule():
    frame = law_curves(sizes=SIZES[:4])
    last = frame.groupby("run_id")["n_tokens"].transform("max")
    ratios = {"n00": 1.0, "n01": 1 / 0.96, "n02": 1 / 0.94, "n03": 1 / 1.06}  # planned / last
    frame["planned_tokens"] = last * frame["run_id"].map(ratios)
    flags, unchecked = schedule_flags(table_of(frame), tolerance=0.05)
    assert set(flags) == {"n02", "n03"} and unchecked == []
    assert "stopped at 94%" in flags["n02"] and "ran 106%" in flags["n03"]
    no_plan = table_of(frame.drop(columns="planned_tokens"))
    flags, unchecked = schedule_flags(no_plan)
    assert flags == {} and sorted(unchecked) == ["n00", "n01", "n02", "n03"]


def test_truncated_run_is_flagged_and_left_out():
    frame = law_curves()
    # Run n05 was scheduled for twice the tokens it ran; pretend its (unannealed) curve sits low enough to
    # win, so leaving it in would change the envelope.
    cut = frame["run_id"] == "n05"
    frame.loc[cut, "planned_tokens"] *= 2
    frame.loc[cut, "loss"] *= 0.9
    table = table_of(frame)
    result = envelope(table)
    assert list(result.flagged) == ["n05"] and "stopped at 50%" in result.flagged["n05"]
    assert "n05" not in result.winners
    assert any("left out 1 run(s)" in w for w in result.warnings)
    kept = envelope(table, exclude_flagged=False)
    assert "n05" in kept.winners and kept.flagged == result.flagged


def test_to_dict_is_json():
    result = envelope(table_of(law_curves()))
    d = json.loads(json.dumps(result.to_dict()))
    assert d["a"]["exponent"] == pytest.approx(result.n_params_fit.exponent)
    assert d["n_grid"] == 1500 and d["winners"] == result.winners
    assert len(d["steps"]) == len(result.steps)


def test_needs_curves_and_crossings():
    finals = table_of(law_curves()).finals()
    with pytest.raises(InputError, match="needs training curves"):
        envelope(finals)
    with pytest.raises(InputError, match="at least 3 changes"):
        envelope(table_of(law_curves(sizes=SIZES[:3])))
