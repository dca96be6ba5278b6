"""RunLock under contention: processes entering at the same instant over a stale lock never both hold it."""

import fcntl
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time

import pytest

from isoflop.sweep import store
from isoflop.train import rundir

TRIALS = 120
CONTENDERS = 4  # more than two makes a broken lock show up in more trials
HOLD_SECONDS = 0.003  # long enough that two holders would overlap, short enough for a fast test


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def stale_lock(folder, pid):
    """What a SIGKILLed owner leaves: run.lock (its flock died with it) and lock.json naming its dead pid."""
    folder.mkdir(parents=True)
    (folder / store.LOCK_FILE).touch()
    rundir.write_json_atomic(folder / rundir.LOCK, {"pid": pid, "pid_start": "1", "host": socket.gethostname(),
                                                    "started": 0.0, "heartbeat": 0.0})


def _contender(root, barrier, queue):
    """For each trial: wait for the other contenders, try the lock, and while holding it claim a marker file
    with O_EXCL (a second holder finds it taken) and record the hold's interval."""
    out = []
    for trial in range(TRIALS):
        folder = root / f"t{trial}"
        barrier.wait()
        try:
            with store.RunLock(folder):
                start = time.monotonic()
                try:
                    fd = os.open(folder / "holder", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    out.append((trial, "double", start, start))
                    continue
                time.sleep(HOLD_SECONDS)
                os.close(fd)
                os.unlink(folder / "holder")
                out.append((trial, "held", start, time.monotonic()))
        except store.RunLocked:
            out.append((trial, "busy", 0.0, 0.0))
    queue.put(out)


def test_processes_racing_over_a_stale_lock_never_both_hold_it(tmp_path):
    pid = dead_pid()
    for trial in range(TRIALS):
        stale_lock(tmp_path / f"t{trial}", pid)
    ctx = mp.get_context("fork")
    barrier, queue = ctx.Barrier(CONTENDERS), ctx.Queue()
    procs = [ctx.Process(target=_contender, args=(tmp_path, barrier, queue)) for _ in range(CONTENDERS)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    seconds = time.perf_counter() - t0
    by_trial = [{r[0]: r for r in res} for res in results]
    doubles, overlaps, free = 0, 0, 0
    for trial in range(TRIALS):
        rows = [runs[trial] for runs in by_trial]
        doubles += any(r[1] == "double" for r in rows)
        held = sorted((r[2], r[3]) for r in rows if r[1] == "held")
        overlaps += any(later[0] < earlier[1] for earlier, later in zip(held, held[1:]))  # intervals intersect
        free += not held and not any(r[1] == "double" for r in rows)
    assert doubles == 0 and overlaps == 0, f"{doubles} double holders, {overlaps} overlapping holds"
    assert free == 0, f"{free} trials where nobody could take over the stale lock"
    assert seconds < 60
    for trial in range(TRIALS):  # released cleanly: lock.json gone, run.lock kept (never unlinked)
        folder = tmp_path / f"t{trial}"
        assert not (folder / rundir.LOCK).exists() and (folder / store.LOCK_FILE).exists()


def test_a_lock_being_written_is_not_stale(tmp_path):
    """A holder that has taken the flock but not yet written lock.json (empty, or half a document) keeps the
    run: a second claim fails however long after (here 60 ms and 200 ms) it comes."""
    folder = tmp_path / "run"
    folder.mkdir()
    fd = os.open(folder / store.LOCK_FILE, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another open file description: conflicts in-process too
    try:
        (folder / rundir.LOCK).write_text("")
        time.sleep(0.06)
        with pytest.raises(store.RunLocked):
            store.RunLock(folder).__enter__()
        (folder / rundir.LOCK).write_text("[1, 2]")
        with pytest.raises(store.RunLocked, match=r"pid \? on \?"):
            store.RunLock(folder).__enter__()
        (folder / rundir.LOCK).write_text('{"pid": ')
        time.sleep(0.14)
        with pytest.raises(store.RunLocked):
            store.RunLock(folder).__enter__()
        assert (folder / rundir.LOCK).read_text() == '{"pid": '  # left alone
    finally:
        os.close(fd)
    with store.RunLock(folder):  # its owner gone: the garbage is replaced
        assert json.loads((folder / rundir.LOCK).read_text())["pid"] == os.getpid()


def test_a_killed_holder_frees_the_lock_at_once(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    code = ("import sys, time; from isoflop.sweep import store\n"
            "with store.RunLock(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(store.RunLocked, match=f"pid {proc.pid}"):
            store.RunLock(folder).__enter__()
        assert store.lock_is_live(rundir.read_json(folder / rundir.LOCK))
    finally:
        proc.kill()
        proc.wait()
    assert not store.lock_is_live(rundir.read_json(folder / rundir.LOCK))  # stale: status says pending
    with store.RunLock(folder):
        assert rundir.read_json(folder / rundir.LOCK)["pid"] == os.getpid()


def test_a_live_owner_on_another_host_keeps_the_run(tmp_path):
    """On a shared file system without working locks the flock is free, but a fresh heartbeat from another
    host still means the run is taken."""
    folder = tmp_path / "run"
    folder.mkdir()
    rundir.write_json_atomic(folder / rundir.LOCK, {"pid": 1, "host": "elsewhere", "heartbeat": time.time()})
    with pytest.raises(store.RunLocked, match="elsewhere"):
        store.RunLock(folder).__enter__()
    assert not (folder / store.LOCK_FILE).read_bytes()  # and the flock was given back
    fd = os.open(folder / store.LOCK_FILE, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(fd)


@pytest.mark.parametrize("ahead", [store.STALE_SECONDS + 60, 365 * 86400.0, time.time() * 999])
def test_a_heartbeat_from_the_future_is_stale(tmp_path, ahead):
    """lock.json of another host with a heartbeat a year ahead (or in milliseconds: ~1000× now) kept its run
    "running" for that long: `sweep status` said running, every `sweep run` skipped it as busy."""
    folder = tmp_path / "run"
    folder.mkdir()
    now = time.time()
    doc = {"pid": 4242, "host": "elsewhere", "heartbeat": now + ahead}
    rundir.write_json_atomic(folder / rundir.LOCK, doc)
    assert not store.lock_is_live(doc, now=now)
    assert store.lock_is_live(dict(doc, heartbeat=now + 5), now=now)  # a clock a few seconds ahead: still live
    with store.RunLock(folder):  # taken over
        assert json.loads((folder / rundir.LOCK).read_text())["host"] == socket.gethostname()


def _initialiser(root, budgets, barrier, queue):
    from isoflop.errors import InputError
    from isoflop.sweep.design import SweepConfig, design_sweep

    design = design_sweep(SweepConfig.from_dict({"budgets": budgets, "sizes": [1300, 4000], "head_dim": 8,
                                                 "seq_len": 32, "batch_tokens": 1024,
                                                 "data": {"source": "markov"}}))
    out = []
    for trial in range(INIT_TRIALS):
        barrier.wait()
        try:
            store.init_sweep(root / f"t{trial}", design)
            out.append("ok")
        except InputError as exc:
            out.append(str(exc))
    queue.put(out)


INIT_TRIALS = 10


def test_two_designs_started_into_one_folder_never_both_land(tmp_path):
    """Two `sweep design … --out SAME` with different configs, started together, were both accepted in 18 of
    20 races: the folder held both designs' run folders and one sweep.json. Under the folder's lock one wins and
    the other is told the folder holds a different design."""
    ctx = mp.get_context("fork")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_initialiser, args=(tmp_path, budgets, barrier, queue))
             for budgets in ([2e9, 4e9], [2e9, 3e9])]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    for trial in range(INIT_TRIALS):
        outcomes = sorted(r[trial] for r in results)
        assert outcomes[0] != "ok" or outcomes[1] != "ok", f"trial {trial}: both designs accepted"
        assert "ok" in outcomes and any("different sweep design" in o for o in outcomes)
        written = json.loads((tmp_path / f"t{trial}" / store.DESIGN).read_text())
        folders = {p.name for p in (tmp_path / f"t{trial}" / store.RUNS).iterdir()}
        assert folders == {r["run_id"] for r in written["runs"]}  # only the winner's runs
