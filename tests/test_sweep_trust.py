"""Sweep defects that once passed silently: config keys lost on the CLI's round trip, memory that grew with the
budget, orphaned worker processes, notes the status table did not show, checks only the TOML path made."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from isoflop.cli import app
from isoflop.errors import InputError
from isoflop.sweep.design import SweepConfig, design_sweep

runner = CliRunner()

TINY = dict(budgets=[1e11], center=0.7, head_dim=8, seq_len=32)  # 4 cosine runs of 1.2K-40K parameters


def _toml(path: Path, extra: str) -> Path:
    path.write_text("budgets = [1e11]\ncenter = 0.7\nhead_dim = 8\nseq_len = 32\n" + extra)
    return path


# ------------------------------------------------------------------------------ 1. config round trip, filters

def _with(extra: dict) -> dict:
    """TINY with ``extra``; fixed sizes replace the grid, so TINY's center (which places it) goes."""
    base = {k: v for k, v in TINY.items() if not ("sizes" in extra and k == "center")}
    return {**base, **extra}


@pytest.mark.parametrize("extra", [
    dict(min_tokens_per_param=50.0),
    dict(max_tokens_per_param=500.0),
    dict(min_n_tokens=3e6),
    dict(cooldown_fraction=0.5, cooldown_shape="linear"),  # inert for cosine, but still the config given
    dict(schedule="wsd", sizes=[2e4, 4e4], min_tokens_per_param=5.0, max_tokens_per_param=900.0, min_n_tokens=1e5),
    dict(sizes=[2e4, 4e4], min_n_tokens=1e5),  # cosine with fixed sizes
])
def test_config_round_trip_keeps_every_key(extra):
    cfg = SweepConfig.from_dict(_with(extra))
    again = SweepConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert design_sweep(again).runs == design_sweep(cfg).runs


def test_config_without_later_keys_writes_them_not():
    plain = SweepConfig.from_dict(TINY).to_dict()  # sweep.json of a plain cosine sweep is as before
    assert not {"schedule", "sizes", "cooldown_fraction", "min_n_tokens", "min_tokens_per_param"} & set(plain)


def test_cli_design_applies_cosine_token_filters(tmp_path):
    everything = design_sweep(SweepConfig.from_dict(TINY))
    ratios = sorted(r.n_tokens / r.n_params for r in everything.runs)
    cut = math.sqrt(ratios[0] * ratios[1])  # between the two lowest D/N: drops exactly one run
    result = runner.invoke(app, ["sweep", "design", str(_toml(tmp_path / "s.toml", f"min_tokens_per_param = {cut}\n")),
                                 "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["config"]["min_tokens_per_param"] == cut
    assert len(doc["runs"]) == len(everything.runs) - 1
    assert all(r["n_tokens"] / r["n_params"] >= cut for r in doc["runs"])


@pytest.mark.parametrize("extra,named", [
    ("min_n_tokens = 1e15\n", "min_n_tokens"),
    ("min_tokens_per_param = 100\nmax_tokens_per_param = 1\n", "max_tokens_per_param"),
])
def test_a_cosine_sweep_filtered_empty_is_an_error(tmp_path, extra, named):
    path = _toml(tmp_path / "s.toml", extra)
    with pytest.raises(InputError, match=f"no grid point in range.*{named}"):
        design_sweep(SweepConfig.from_toml(path))
    result = runner.invoke(app, ["sweep", "design", str(path)])
    assert result.exit_code == 2 and "no grid point in range" in result.output and "Traceback" not in result.output


def test_a_wsd_sweep_filtered_empty_says_the_same():
    with pytest.raises(InputError, match="no grid point in range.*min_n_tokens"):
        design_sweep(SweepConfig.from_dict(_with({"schedule": "wsd", "sizes": [2e4], "min_n_tokens": 1e15})))


# --------------------------------------------------------------------------------------- 2. huge budgets

def _peak_rss_mb(code: str) -> tuple[float, str]:
    """Run ``code`` in a fresh interpreter capped at 4 GB of address space (so a regression fails here rather
    than exhausting the machine); (its peak resident memory in MB, its stdout)."""
    wrapped = ("import resource\nresource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n" + code
               + "\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    *lines, rss = out.stdout.strip().splitlines()
    return float(rss), "\n".join(lines)


def test_snapping_a_huge_target_uses_bounded_memory():
    base, _ = _peak_rss_mb("import isoflop.flops")
    # 1e12 and 1e14 parameters once needed ~3 GB and ~80 GB (a 256 × 4·√N/head_dim grid)
    for target in (1e12, 1e14):
        rss, shape = _peak_rss_mb(f"from isoflop.flops import propose_architecture as p\n"
                                  f"a = p({target}, vocab_size=256, seq_len=64, aspect_ratio=32, head_dim=16, "
                                  f"tolerance=0.05)\nprint(a.n_params)")
        assert rss - base < 400, (target, rss, base)
        assert abs(int(shape) / target - 1) <= 0.05


def test_a_budget_implying_an_absurd_model_is_an_input_error(tmp_path):
    import resource

    def cap():  # a regression runs out of memory in the child, not in this test process
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    proc = subprocess.run([sys.executable, "-m", "isoflop", "sweep", "design", "--budgets", "1e30"],
                          capture_output=True, text=True, timeout=120, preexec_fn=cap)
    assert proc.returncode == 2, proc.stderr[-2000:]
    # named as the flag typed
    assert proc.stderr.startswith("error: --budgets: 1e+30 FLOPs") and len(proc.stderr.strip().splitlines()) == 1
    with pytest.raises(InputError, match="budgets: 1e\\+30 FLOPs .* beyond the 1e\\+13"):
        design_sweep(SweepConfig.from_dict({"budgets": [1e30]}))
    with pytest.raises(InputError, match="sizes: 1e\\+14 parameters"):
        SweepConfig.from_dict({"budgets": [1e20], "sizes": [1e14]})
    # A small fixed size at a huge budget: 7.2e24 tokens (1e21 steps), refused as a cosine or a WSD sweep.
    for schedule in ("cosine", "wsd"):
        with pytest.raises(InputError, match="trains the 23,008-parameter model on 7.24e\\+24 tokens"):
            design_sweep(SweepConfig.from_dict({"budgets": [1e30], "sizes": [20000], "schedule": schedule}))


def test_a_large_budget_designs_quickly_and_reads_its_time_in_years():
    t0 = time.perf_counter()
    result = runner.invoke(app, ["sweep", "design", "--budgets", "1e25"])
    assert result.exit_code == 0, result.output
    assert time.perf_counter() - t0 < 10  # once 10 s and 3 GB
    assert "years on cpu" in result.output and "h on cpu" not in result.output
    estimate = result.output.split("estimated ")[1].split(" years")[0]
    assert len(estimate.replace(".", "").split("e")[0]) <= 4  # 3-4 significant figures, not 55555604050956.8


def test_durations_read_in_a_sensible_unit():
    from isoflop.cli.sweeps import _duration

    assert _duration(30) == "30 s" and _duration(600) == "10.0 min" and _duration(3 * 3600) == "3.0 h"
    assert _duration(10 * 86400) == "10 days"
    assert _duration(2e17) == "6.34e9 years"


# ------------------------------------------------------------------------ 3. workers die with their parent

def _children(pid: int) -> list[int]:
    """Pids of the spawned worker processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) is gone for our purpose
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_killed_sweep_leaves_no_orphan_workers(tmp_path):
    pytest.importorskip("torch")
    from isoflop.sweep import store

    # 4 runs of ~10-20 s each on one thread: the workers are mid-run when the sweep is killed
    config = tmp_path / "sweep.toml"
    config.write_text("budgets = [2e10, 4e10]\nsizes_per_budget = 2\nspread = 2.0\nhead_dim = 8\nseq_len = 32\n"
                      "evals_per_run = 5\neval_sequences = 16\n[data]\nsource = \"markov\"\nn_states = 16\n")
    sweep = tmp_path / "sweep"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    parent = subprocess.Popen([sys.executable, "-m", "isoflop", "sweep", "run", str(config), "--out", str(sweep),
                               "--workers", "2", "--no-progress"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    workers = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # both workers training (each holds a run's lock)
            workers = _children(parent.pid)
            if len(list(sweep.glob("runs/*/lock.json"))) >= 2 and len(workers) >= 2:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the 2 workers did not start training within 20 s (found {workers})")
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 5
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers), "workers outlived their killed parent"
    finally:  # never leave processes behind, whatever failed
        parent.kill()
        parent.wait()
        for w in workers:
            try:
                os.kill(w, signal.SIGKILL)
            except ProcessLookupError:
                pass
    # the runs they held are free to resume: none reads as running, and each lock can be taken
    assert not [s.run_id for s in store.sweep_status(sweep) if s.state == "running"]
    for folder in sweep.glob("runs/*"):
        # A multi-threaded worker reads as a zombie once its main thread has exited; the kernel drops its flock
        # when the last thread has, which on a loaded machine can take a moment longer.
        deadline = time.monotonic() + 10
        while True:
            try:
                with store.RunLock(folder):
                    break
            except store.RunLocked:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_lock_held_by_a_zombie_is_stale():
    import socket

    from isoflop.sweep import store

    child = subprocess.Popen(["true"])  # exits at once; not reaped until wait(): a zombie meanwhile
    try:
        deadline = time.monotonic() + 5
        while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        doc = {"pid": child.pid, "pid_start": store._process_start(child.pid), "host": socket.gethostname(),
               "heartbeat": time.time()}
        assert not store.lock_is_live(doc)
    finally:
        child.wait()


# ----------------------------------------------------------------------- 4. status shows what went wrong

def _sweep_folder(tmp_path: Path) -> Path:
    from isoflop.sweep import store

    design = design_sweep(SweepConfig.from_dict({**TINY, "data": "markov"}))
    return store.init_sweep(tmp_path / "sweep", design)


def test_status_table_shows_a_cut_result(tmp_path):
    sweep = _sweep_folder(tmp_path)
    run = sorted((sweep / "runs").iterdir())[0]
    (run / "result.json").write_text('{\n "run_id": "x",\n "lo')
    result = runner.invoke(app, ["sweep", "status", str(sweep)])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if run.name in line)
    assert "pending" in row and "1 note below" in row
    assert f"note: {run.name}: {run / 'result.json'}: not valid JSON" in " ".join(result.stderr.split())


def test_status_says_the_design_was_rebuilt(tmp_path):
    sweep = _sweep_folder(tmp_path)
    text = (sweep / "sweep.json").read_text()
    (sweep / "sweep.json").write_text(text[: len(text) // 3])
    table = runner.invoke(app, ["sweep", "status", str(sweep)])
    assert table.exit_code == 0, table.output
    assert "the design was rebuilt from 4 runs' spec.json files" in " ".join(table.stderr.split())
    doc = json.loads(runner.invoke(app, ["sweep", "status", str(sweep), "--json"]).stdout)
    from isoflop.sweep import store

    assert doc == json.loads(json.dumps(store.sweep_state(sweep).to_dict()))
    assert len(doc["notes"]) == 1 and "rebuilt" in doc["notes"][0] and doc["counts"]["pending"] == 4


# ------------------------------------------------------------------------------------------ 5. cosmetics

def test_a_skipped_run_says_why():
    from isoflop.sweep.executors import RunOutcome, _describe

    line = _describe(RunOutcome("c3e9-n3952", "skipped", loss=1.5584))
    assert line.endswith("skipped: already done, loss 1.5584")
    assert not _describe(RunOutcome("r", "busy", error="")).endswith(":")


@pytest.mark.parametrize("name", ["aspect_ratio", "lr_multiplier", "spread", "center", "snap_tolerance",
                                  "min_tokens_per_param", "max_tokens_per_param"])
@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_the_dataclass_rejects_what_the_toml_path_rejects(name, bad):
    with pytest.raises(InputError, match=f"^{name}: must be a positive finite number"):
        SweepConfig(budgets=(1e11,), **{name: bad})
