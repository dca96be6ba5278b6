"""Run a sweep's pending runs: locally (sequential on CPU, one process per GPU) or on a Ray cluster.

Every executor does the same per run (``execute_run``): skip it when result.json is valid, take its lock,
check result.json again under the lock (another process may have just finished it), train (resuming from
its checkpoint), write result.json atomically — or error.txt on failure, which does not stop the sweep. So a
sweep killed at any moment and started again skips finished runs and resumes the rest. Ctrl-C or SIGTERM
stops each running run after its step in progress, saved (on Ray too: a cancelled task saves, then stops).

- ``local``: on CPU (or one GPU) the runs go one after another in this process, with rich progress bars
  (overall and per run). With several visible CUDA devices, one worker process per GPU takes runs as
  they can start, longest chain of work first.
  On CPU with ``workers`` > 1, that many worker processes of ``threads_per_worker`` intra-op threads each
  pull runs from the sweep: on small models several single-thread processes keep the cores busier than one
  multi-thread process (per-step overhead is serial), and on a busy machine they degrade in proportion to
  the cores they get, where intra-op threads that wait on each other at every operator stall.
- WSD sweeps (``design.py``): a cooldown starts from its trunk's kept state at its branch step, so it runs
  after its trunk; every parallel executor (CPU workers, one process per GPU, Ray) hands a cooldown out as
  soon as its trunk has finished, and fails it without running it when its trunk failed (``_dispatch``).
- ``ray``: one Ray task per run, requesting one GPU (``device`` cuda) or ``cpus_per_run`` CPUs. Connects to
  the cluster named by ``RAY_ADDRESS`` when it is set, else starts a local Ray; an already initialised Ray
  is used as is. Workers write into the same store, so on a multi-node cluster the sweep folder must be on a
  shared filesystem; results also travel back through Ray and are written by the driver where missing.

torch and ray are imported only inside the functions that need them.
"""

from __future__ import annotations

import os
import signal
import socket
import time
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ..errors import CorruptFileWarning, InputError
from ..train import rundir
from . import store
from .design import RunSpec

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class RunOutcome:
    """``status``: 'done' (trained now), 'skipped' (already done), 'busy' (another live process holds it),
    'failed' (error.txt written). ``notes``: files of the run found corrupt and what was done (a result.json
    that did not count, an unreadable checkpoint retrained from scratch, metrics rows dropped), by path."""

    run_id: str
    status: str
    loss: float | None = None
    seconds: float = 0.0
    error: str | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return dict(asdict(self), notes=list(self.notes))

    @classmethod
    def from_dict(cls, d: dict) -> "RunOutcome":
        return cls(**{**d, "notes": tuple(d.get("notes", ()))})


@dataclass(frozen=True)
class SweepReport:
    outcomes: tuple[RunOutcome, ...]
    seconds: float
    executor: str

    def ids(self, status: str) -> list[str]:
        return [o.run_id for o in self.outcomes if o.status == status]

    def to_dict(self) -> dict:
        counts = {s: len(self.ids(s)) for s in ("done", "skipped", "busy", "failed")}
        return {"executor": self.executor, "seconds": self.seconds, "counts": counts,
                "runs": [o.to_dict() for o in self.outcomes]}


def result_record(spec: RunSpec, result) -> dict:
    """result.json: the run's exact numbers plus its shape and the settings that produced them."""
    arch = spec.train.arch
    wsd = {} if spec.kind == "cosine" else {"kind": spec.kind, "trunk": spec.trunk,
                                            "cooldown_steps": spec.train.cooldown_steps,
                                            "branch_tokens": spec.train.decay_start * spec.train.tokens_per_step}
    return {**wsd, "run_id": spec.run_id, "n_params": spec.n_params, "n_tokens": spec.n_tokens, "flops": spec.flops,
            "loss": result.loss, "param_convention": "total", "flop_convention": spec.train.flop_convention,
            "flops_budget": spec.flops_budget, "train_loss": result.train_loss, "n_steps": spec.train.n_steps,
            "batch_size": spec.train.batch_size, "seq_len": arch.seq_len, "peak_lr": spec.train.peak_lr,
            "n_layer": arch.n_layer, "d_model": arch.d_model, "n_head": arch.n_head,
            "seconds": result.seconds, "tokens_per_second": result.tokens_per_second, "device": result.device,
            "compiled": result.compiled, "resumed_from_step": result.resumed_from_step, "host": socket.gethostname(),
            "finished_at": time.time(), "notes": list(result.notes)}


def _trainer():
    """isoflop.train.trainer, imported on first use: it needs torch (the 'train' extra)."""
    try:
        from ..train import trainer
    except ImportError as exc:
        raise InputError(f"training needs PyTorch ({exc}); pip install 'isoflop[train]'") from None
    return trainer


def execute_run(sweep_dir: str | Path, spec: RunSpec, *, device: str = "auto", compile: bool | None = None,
                source=None, retry_failed: bool = True,
                on_step: Callable[[int, int, dict | None], None] | None = None) -> RunOutcome:
    """Train one run of the store unless it is done, failed (and not ``retry_failed``) or held elsewhere.

    A result.json that cannot count (unreadable, implausible loss) does not make the run done: it is
    retrained (or, from a final checkpoint, re-scored) and the outcome's ``notes`` say why. Corrupt files
    found while training (CorruptFileWarning: an unreadable checkpoint) are recorded in ``notes`` too."""
    folder = store.run_dir(sweep_dir, spec.run_id)
    done = store.read_result(folder)
    if done is not None:
        return RunOutcome(spec.run_id, "skipped", loss=float(done["loss"]))
    if not retry_failed and (folder / rundir.ERROR).exists():
        return RunOutcome(spec.run_id, "failed", error="failed earlier (not retried)")
    folder.mkdir(parents=True, exist_ok=True)
    train = _trainer().train

    t0 = time.perf_counter()
    notes = []
    try:
        with store.RunLock(folder) as lock:
            done, problem = store.check_result(folder)  # the check that counts: under the lock
            if done is not None:  # another process finished it between the check above and the lock
                return RunOutcome(spec.run_id, "skipped", loss=float(done["loss"]))
            if problem is not None:
                notes.append(problem)
            init_from = None
            if spec.kind == "cooldown":  # starts from the trunk's state at its branch step
                init_from = store.run_dir(sweep_dir, spec.trunk) / rundir.branch_checkpoint(spec.train.decay_start)
                waiting = None if init_from.exists() else _trunk_busy(sweep_dir, spec.trunk)
                if waiting is not None:  # another process is still training the trunk: not a failure
                    return RunOutcome(spec.run_id, "busy", error=f"waiting for its trunk: {waiting}")
            store.clear_error(folder)
            rundir.remove_temps(folder)

            def step_hook(done_steps, n_steps, row):
                lock.beat()
                if on_step is not None:
                    on_step(done_steps, n_steps, row)

            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", CorruptFileWarning)
                try:
                    result = train(spec.train, folder, device=device, compile=compile, source=source,
                                   on_step=step_hook, init_from=init_from)
                    record = result_record(spec, result)
                    store.write_result(folder, record)
                except Exception as exc:  # a failed run is recorded and the sweep goes on
                    store.write_error(folder, traceback.format_exc())
                    notes += [str(w.message) for w in caught if issubclass(w.category, CorruptFileWarning)]
                    return RunOutcome(spec.run_id, "failed", seconds=time.perf_counter() - t0,
                                      error=f"{type(exc).__name__}: {exc}", notes=tuple(notes))
            for w in caught:  # other warnings (e.g. from torch) are passed on as they came
                if not issubclass(w.category, CorruptFileWarning):
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    except store.RunLocked as exc:
        return RunOutcome(spec.run_id, "busy", error=str(exc))
    except InputError as exc:  # this run's folder is unusable (its lock file a folder, …): the others go on
        return RunOutcome(spec.run_id, "failed", error=str(exc))
    seconds = time.perf_counter() - t0
    start = spec.train.decay_start if spec.kind == "cooldown" else 0  # a cooldown starts from its trunk's state
    # the line's seconds are this attempt's, result.json's every attempt's (a finished run only re-scored: none)
    if start < result.resumed_from_step < spec.train.n_steps:
        notes.append(f"resumed at step {result.resumed_from_step:,} of {spec.train.n_steps:,}; {result.seconds:.1f} s "
                     f"of training in all")
    return RunOutcome(spec.run_id, "done", loss=record["loss"], seconds=seconds, notes=tuple(notes) + result.notes)


def _trunk_busy(sweep_dir, trunk: str) -> str | None:
    """Why a cooldown must wait (its trunk is being trained by another process), or None (the trunk is free:
    a missing branch state is then a real failure)."""
    try:
        with store.RunLock(store.run_dir(sweep_dir, trunk)):
            return None
    except store.RunLocked as exc:
        return str(exc)


def _triage(sweep_dir, design, retry_failed: bool) -> tuple[list[RunOutcome], list[RunSpec]]:
    """(outcomes of runs left alone: done, or failed and not to be retried; the specs still to train)."""
    settled, todo = [], []
    for spec in design.runs:
        status = store.run_status(sweep_dir, spec)
        if status.state == "done":
            settled.append(RunOutcome(spec.run_id, "skipped", loss=status.loss))
        elif status.state == "failed" and not retry_failed:
            settled.append(RunOutcome(spec.run_id, "failed", error=f"failed earlier (not retried): {status.error}"))
        else:
            todo.append(spec)
    return settled, todo


def check_run_options(*, executor: str = "local", device: str = "auto", cpus_per_run: int = 1, workers: int = 1,
                      threads_per_worker: int = 1) -> None:
    """Raise InputError for run options that cannot work, before anything touches the disk (call it before
    ``store.init_sweep``): an unknown executor or device, ``cuda`` on the local executor with no visible GPU
    (imports torch), counts that are not whole numbers ≥ 1, and options that would do nothing (cpus_per_run
    off Ray, workers on Ray, threads_per_worker without worker processes)."""
    if executor not in EXECUTORS:
        raise InputError(f"--executor: unknown {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if device not in ("auto", "cpu", "cuda"):
        raise InputError(f"--device: must be cpu, cuda or auto, got {device!r}")
    for name, value in (("--cpus-per-run", cpus_per_run), ("--workers", workers),
                        ("--threads-per-worker", threads_per_worker)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name}: must be a whole number ≥ 1, got {value!r}")
    if cpus_per_run != 1 and executor != "ray":
        raise InputError("--cpus-per-run is what each Ray task asks for: give --executor ray, or --workers for "
                         "local worker processes")
    if workers != 1 and executor == "ray":
        raise InputError("--workers sets local worker processes; on Ray the cluster's CPUs decide (--cpus-per-run)")
    if threads_per_worker != 1 and workers == 1:
        raise InputError("--threads-per-worker sets each worker process's torch threads: give --workers 2 or more "
                         "(one process trains with torch's own thread count)")
    if executor == "local" and device == "cuda":  # on Ray the cluster's GPUs count, not this machine's
        _trainer().resolve_device(device)


def run_sweep(sweep_dir: str | Path, *, executor: str = "local", device: str = "auto",
              compile: bool | None = None, retry_failed: bool = True, progress: bool = True,
              cpus_per_run: int = 1, console=None, workers: int = 1, threads_per_worker: int = 1) -> SweepReport:
    """Train every run of the sweep in ``sweep_dir`` that is not done yet; returns what happened to each.

    device: 'cpu', 'cuda' or 'auto'. compile: torch.compile (default: on CUDA where it pays,
    train.spec.compile_pays). progress: rich progress bars on ``console`` (default: stderr). cpus_per_run:
    the CPU request of each Ray task on CPU.
    workers, threads_per_worker: on CPU with the local executor, run that many worker processes with that
    many torch threads each (workers = 1: one after another in this process, torch's own thread count).
    """
    check_run_options(executor=executor, device=device, cpus_per_run=cpus_per_run, workers=workers,
                      threads_per_worker=threads_per_worker)
    sweep_dir = Path(sweep_dir)
    design = store.load_design(sweep_dir)
    store.check_data(sweep_dir, design)
    t0 = time.perf_counter()
    settled, todo = _triage(sweep_dir, design, retry_failed)
    if executor == "ray":
        outcomes = _run_ray(sweep_dir, todo, device, compile, retry_failed, progress, cpus_per_run, console)
    else:
        trainer = _trainer()
        device = trainer.resolve_device(device)
        n_gpus = trainer.torch.cuda.device_count() if device == "cuda" else 0
        if n_gpus > 1:
            outcomes = _run_multi_gpu(sweep_dir, todo, n_gpus, compile, retry_failed, progress, console)
        elif device == "cpu" and workers > 1:
            outcomes = _run_cpu_workers(sweep_dir, todo, workers, threads_per_worker, compile, retry_failed,
                                        progress, console)
        else:
            outcomes = _run_sequential(sweep_dir, todo, device, compile, retry_failed, progress, console)
    return SweepReport(outcomes=tuple(settled) + tuple(outcomes), seconds=time.perf_counter() - t0,
                       executor=executor)


# ------------------------------------------------------------------------------------------------ progress

def _progress(console, enabled: bool):
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console or Console(stderr=True), disable=not enabled, transient=False)


PLAIN_PROGRESS_SECONDS = 60.0  # a log (stderr not a terminal) gets a line per run this often while it trains


def _plain_log(bars) -> bool:
    """True when progress is on but its console is a log file or pipe: rich draws no live bars there, so a long
    run would show nothing until it finished; such consoles get a line when each run starts and every
    `PLAIN_PROGRESS_SECONDS` while it trains."""
    return not bars.disable and not bars.console.is_terminal


def _started(spec: RunSpec, word: str = "started") -> str:
    return f"[cyan]…[/cyan] {spec.run_id}  {word} ({spec.train.n_steps:,} steps)"


def _describe(outcome: RunOutcome) -> str:
    from rich.markup import escape  # errors and paths may hold [brackets] that rich would read as markup

    if outcome.status == "done":
        line = f"[green]✓[/green] {outcome.run_id}  loss {outcome.loss:.4f}  ({outcome.seconds:.1f} s)"
    elif outcome.status == "failed":
        line = f"[red]✗[/red] {outcome.run_id}  {escape(str(outcome.error))}"
    else:  # skipped (already done) or busy (another process holds it): say why, never an empty reason
        why = outcome.error or ("already done" if outcome.status == "skipped" else "")
        if outcome.status == "skipped" and outcome.loss is not None:
            why += f", loss {outcome.loss:.4f}"
        line = f"[yellow]·[/yellow] {outcome.run_id}  {outcome.status}" + (f": {escape(why)}" if why else "")
    return "\n".join([line] + [f"  [yellow]note:[/yellow] {escape(note)}" for note in outcome.notes])


def _run_sequential(sweep_dir, todo, device, compile, retry_failed, progress, console) -> list[RunOutcome]:
    from ..train.data import load_source

    sources = {}  # one loaded corpus per data spec, shared by the runs that use it
    outcomes = []
    with _progress(console, progress) as bars:
        overall = bars.add_task("sweep", total=len(todo), info="")
        plain = _plain_log(bars)
        for spec in todo:
            run_bar = bars.add_task(f"  {spec.run_id}", total=spec.train.n_steps, info="")
            if plain:
                bars.console.print(_started(spec), highlight=False)
            last_line = [time.monotonic()]

            def on_step(done, n_steps, row, _bar=run_bar, _id=spec.run_id, _last=last_line):
                info = {"info": f"loss {row['loss']:.3f}"} if row else {}
                bars.update(_bar, completed=done, **info)
                if plain and time.monotonic() - _last[0] >= PLAIN_PROGRESS_SECONDS:
                    _last[0] = time.monotonic()
                    bars.console.print(f"  {_id}  step {done:,}/{n_steps:,}" + (f", {info['info']}" if info else ""),
                                       highlight=False)

            try:
                if spec.train.data not in sources:
                    sources[spec.train.data] = load_source(spec.train.data)
                source = sources[spec.train.data]
            except InputError as exc:  # bad data fails this run like any other error
                store.write_error(store.run_dir(sweep_dir, spec.run_id), f"InputError: {exc}\n")
                outcome = RunOutcome(spec.run_id, "failed", error=f"InputError: {exc}")
            else:
                outcome = execute_run(sweep_dir, spec, device=device, compile=compile, source=source,
                                      retry_failed=retry_failed, on_step=on_step)
            outcomes.append(outcome)
            bars.remove_task(run_bar)
            bars.console.print(_describe(outcome), highlight=False)
            bars.update(overall, advance=1)
    return outcomes


# ------------------------------------------------------------------------------------- CPU worker processes

_WORKER_SOURCES = {}  # per worker process: one loaded corpus per data spec
PARENT_POLL_SECONDS = 1.0
STOP_REPEAT_SECONDS = 1.0  # how often an interrupted sweep repeats its SIGINT to workers not yet stopped
RAY_STOP_SECONDS = 120.0  # how long an interrupted Ray sweep waits for its cancelled tasks to save and stop


def _exit_with_parent(parent_pid: int) -> None:
    """Make this worker process die with the sweep process ``parent_pid``.

    A parent killed with SIGKILL cannot shut its pool down: its workers would finish their runs, then wait for
    work forever (orphans of a few hundred MB each), holding their runs' locks meanwhile, so a restarted
    sweep reported those runs busy. On Linux the kernel sends SIGKILL when the parent dies
    (prctl PR_SET_PDEATHSIG); everywhere, a daemon thread polls the parent pid and exits. Dying mid-run is
    safe: the kernel drops the run's flock, its lock.json names a dead pid (stale), and the run resumes from
    its last checkpoint."""
    import sys
    import threading

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no libc prctl: the thread below still catches it
            pass

    def watch():
        while os.getppid() == parent_pid:  # an orphan is re-parented (to init or a subreaper)
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    if os.getppid() != parent_pid:  # died before we got here
        os._exit(1)
    threading.Thread(target=watch, name="isoflop-parent-watch", daemon=True).start()


def _ignore_interrupts() -> None:
    """A worker ignores Ctrl-C except while it trains (the trainer holds it, then saves and stops): an idle
    one, waiting for work, printed a traceback and died. It was spawned with SIGINT blocked
    (`_sigint_blocked`): unblocked now, one that came while it started is dropped."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextmanager
def _sigint_blocked():
    """SIGINT held back from this thread for the block, so that a worker process spawned in it starts with
    SIGINT blocked (a child inherits the signal mask) until `_ignore_interrupts`: a Ctrl-C that reached a worker
    still importing printed its traceback. One that reaches this process meanwhile is delivered on exit."""
    if not hasattr(signal, "pthread_sigmask"):  # not POSIX: no masks
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _cpu_worker_init(threads: int, parent_pid: int | None = None):
    # A fresh (spawned) process: fix its thread count before any torch work.
    _ignore_interrupts()
    if parent_pid is not None:
        _exit_with_parent(parent_pid)
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process
        pass


def _cpu_task(sweep_dir: str, spec_dict: dict, compile, retry_failed) -> dict:
    from ..train.data import load_source

    spec = RunSpec.from_dict(spec_dict)
    try:
        if spec.train.data not in _WORKER_SOURCES:
            _WORKER_SOURCES[spec.train.data] = load_source(spec.train.data)
    except InputError as exc:
        store.write_error(store.run_dir(sweep_dir, spec.run_id), f"InputError: {exc}\n")
        return RunOutcome(spec.run_id, "failed", error=f"InputError: {exc}").to_dict()
    return execute_run(sweep_dir, spec, device="cpu", compile=compile, source=_WORKER_SOURCES[spec.train.data],
                       retry_failed=retry_failed).to_dict()


def _chain_flops(spec: RunSpec, todo: list[RunSpec]) -> float:
    """Work that waits on ``spec``: its own FLOPs plus, for a trunk, its pending cooldowns'."""
    return spec.train_flops + sum(s.train_flops for s in todo if s.trunk == spec.run_id)


def _dispatch(todo, slots: int, submit, wait_any, collect, bars, title: str, stop=None) -> list[RunOutcome]:
    """Run ``todo`` on ``slots`` parallel workers in WSD order: a cooldown is submitted only once its trunk is
    done (it starts from the trunk's kept state), a trunk that fails fails its waiting cooldowns without
    running them, and among the runs that can start the one with the most work waiting on it goes first
    (longest chain first; priorities stay live because only what can start now is handed out).

    submit(spec) -> handle; wait_any(handles) -> the finished ones (at least one); collect(handle, spec) ->
    its RunOutcome (a failed one when the worker died); stop(handles), on Ctrl-C or SIGTERM: returns once the
    running runs have stopped."""
    pending_trunks = {s.run_id for s in todo if s.kind == "trunk"}
    ready = [s for s in todo if s.trunk not in pending_trunks]
    blocked = [s for s in todo if s.trunk in pending_trunks]
    priority = {s.run_id: _chain_flops(s, todo) for s in todo}
    outcomes, running = [], {}
    overall = bars.add_task(title, total=len(todo), info="")
    while ready or running:
        ready.sort(key=lambda s: priority[s.run_id])
        while ready and len(running) < slots:
            spec = ready.pop()
            running[submit(spec)] = spec
            if _plain_log(bars):  # workers report only when done: say what was handed out
                bars.console.print(_started(spec, "submitted"), highlight=False)
        try:
            finished = wait_any(list(running))
        except KeyboardInterrupt:
            if stop is not None:
                stop(list(running))
            raise
        for handle in finished:
            spec = running.pop(handle)
            results = [collect(handle, spec)]
            if spec.kind == "trunk":
                waiting = [s for s in blocked if s.trunk == spec.run_id]
                blocked = [s for s in blocked if s.trunk != spec.run_id]
                if results[0].status in ("done", "skipped"):
                    ready.extend(waiting)
                else:  # left pending (no error.txt): they run once their trunk has
                    results += [RunOutcome(s.run_id, "failed", error=f"its trunk {spec.run_id} did not finish")
                                for s in waiting]
            for outcome in results:
                outcomes.append(outcome)
                bars.console.print(_describe(outcome), highlight=False)
                bars.update(overall, advance=1)
    return outcomes


def _run_process_pool(sweep_dir, todo, n_workers, task, initializer, initargs, compile, retry_failed, progress,
                      console, title) -> list[RunOutcome]:
    """``_dispatch`` on ``n_workers`` spawned processes running ``task(sweep_dir, spec_dict, compile,
    retry_failed) -> RunOutcome dict``."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    def collect(future, spec):
        try:
            return RunOutcome.from_dict(future.result())
        except Exception as exc:  # the worker process died
            return RunOutcome(spec.run_id, "failed", error=f"{type(exc).__name__}: {exc}")

    def stop(futures):
        # Ctrl-C reaches every worker from the terminal, SIGTERM this process alone: pass it on as SIGINT, which
        # a training worker holds until its step is saved, then stops (train.trainer.held_interrupts) and an idle
        # one ignores (_ignore_interrupts). Repeated until every running run has stopped: a worker between a
        # run's hand-over and its training would miss one.
        while futures:
            for child in mp.active_children():
                os.kill(child.pid, signal.SIGINT)
            futures = list(wait(futures, timeout=STOP_REPEAT_SECONDS).not_done)

    # spawn: a forked child would inherit torch's thread pools mid-state, and CUDA cannot be re-initialised
    ctx = mp.get_context("spawn")
    with _progress(console, progress) as bars, ProcessPoolExecutor(
            max_workers=n_workers, mp_context=ctx, initializer=initializer, initargs=initargs) as pool:
        def submit(spec):  # the pool spawns its workers as work is submitted
            with _sigint_blocked():
                return pool.submit(task, str(sweep_dir), spec.to_dict(), compile, retry_failed)

        return _dispatch(todo, n_workers, submit, lambda futures: wait(futures, return_when=FIRST_COMPLETED)[0],
                         collect, bars, title, stop)


def _run_cpu_workers(sweep_dir, todo, workers, threads, compile, retry_failed, progress, console) -> list[RunOutcome]:
    """Runs on ``workers`` processes of ``threads`` torch threads each, in WSD order (``_dispatch``)."""
    return _run_process_pool(sweep_dir, todo, workers, _cpu_task, _cpu_worker_init, (threads, os.getpid()),
                             compile, retry_failed, progress, console, f"sweep ({workers} workers)")


# ------------------------------------------------------------------------------------------- one per GPU

def _gpu_worker_init(queue, parent_pid: int | None = None):
    # Runs in a fresh (spawned) process before torch is imported there: pin it to one GPU.
    _ignore_interrupts()
    if parent_pid is not None:
        _exit_with_parent(parent_pid)
    os.environ["CUDA_VISIBLE_DEVICES"] = str(queue.get())


def _gpu_task(sweep_dir: str, spec_dict: dict, compile, retry_failed) -> dict:
    spec = RunSpec.from_dict(spec_dict)
    return execute_run(sweep_dir, spec, device="cuda", compile=compile, retry_failed=retry_failed).to_dict()


def _run_multi_gpu(sweep_dir, todo, n_gpus, compile, retry_failed, progress, console) -> list[RunOutcome]:
    """One process per GPU, each pinned to its GPU, in WSD order (``_dispatch``)."""
    import multiprocessing as mp

    queue = mp.get_context("spawn").Queue()
    for i in range(n_gpus):
        queue.put(i)
    return _run_process_pool(sweep_dir, todo, n_gpus, _gpu_task, _gpu_worker_init, (queue, os.getpid()),
                             compile, retry_failed, progress, console, f"sweep ({n_gpus} GPUs)")


# ----------------------------------------------------------------------------------------------------- ray

def _ray_task(sweep_dir: str, spec_dict: dict, device: str, compile, retry_failed, n_threads: int):
    import torch

    torch.set_num_threads(max(1, n_threads))
    spec = RunSpec.from_dict(spec_dict)
    outcome = execute_run(sweep_dir, spec, device=device, compile=compile, retry_failed=retry_failed)
    folder = store.run_dir(sweep_dir, spec.run_id)
    return outcome.to_dict(), store.read_result(folder)


def _run_ray(sweep_dir, todo, device, compile, retry_failed, progress, cpus_per_run, console) -> list[RunOutcome]:
    try:
        import ray
    except ImportError:
        raise InputError("executor: ray is not installed; pip install 'isoflop[ray]' or use --executor local") from None
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        if address:  # an existing cluster (or a ray:// client address): it brings its own resources
            ray.init(address=address)
        else:
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    if device == "auto":
        device = "cuda" if ray.cluster_resources().get("GPU", 0) >= 1 else "cpu"
    if device == "cuda":
        options = {"num_gpus": 1, "num_cpus": 1}
    else:
        options = {"num_gpus": 0, "num_cpus": cpus_per_run}
    remote = ray.remote(_ray_task)

    def submit(spec):
        return remote.options(**options).remote(str(sweep_dir), spec.to_dict(), device, compile, retry_failed,
                                                int(options["num_cpus"]))

    def collect(ref, spec):
        try:
            outcome_dict, result = ray.get(ref)
            folder = store.run_dir(sweep_dir, spec.run_id)
            if result is not None and store.read_result(folder) is None:  # no shared filesystem
                folder.mkdir(parents=True, exist_ok=True)
                store.write_result(folder, result)
            return RunOutcome.from_dict(outcome_dict)
        except Exception as exc:  # the task itself died (worker lost, out of memory, ...)
            store.write_error(store.run_dir(sweep_dir, spec.run_id), f"ray task failed: {exc}\n")
            return RunOutcome(spec.run_id, "failed", error=f"{type(exc).__name__}: {exc}")

    # Ray queues tasks by the resources they ask for, so every run that can start is submitted at once;
    # a cooldown still waits for its trunk. Without a shared filesystem a cooldown cannot see its trunk's
    # kept state: run WSD sweeps on Ray with the sweep folder on shared storage.
    def stop(refs):
        # Ctrl-C or SIGTERM: cancel the running tasks. Ray delivers a cancel as SIGINT in the task's worker, which
        # the trainer holds until its step is saved, then stops (train.trainer.held_interrupts); a driver that
        # just exited left a local Ray's tasks to die with it, losing their steps since the last checkpoint
        for ref in refs:
            ray.cancel(ref)
        if refs:
            ray.wait(refs, num_returns=len(refs), timeout=RAY_STOP_SECONDS)

    with _progress(console, progress) as bars:
        return _dispatch(todo, max(len(todo), 1), submit, lambda refs: ray.wait(refs, num_returns=1)[0], collect,
                         bars, "sweep (ray)", stop)
