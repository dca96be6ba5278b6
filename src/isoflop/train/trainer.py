"""The training loop: AdamW, warm-up + cosine schedule, periodic validation, atomic checkpoints, resume.

``train(spec, run_dir)`` trains the GPT that ``spec.arch`` describes for exactly ``spec.n_steps`` optimiser
steps of ``spec.batch_size`` sequences, evaluates the held-out loss every ``spec.eval_every`` steps and at the
end, and returns a ``TrainResult``. With a ``run_dir`` it appends one row per evaluation to metrics.jsonl
(the loss curve against tokens and FLOPs) and saves model + optimiser + RNG + step to checkpoint.pt every
``spec.checkpoint_every`` steps and at the end; called again on the same folder it resumes from that
checkpoint and produces the same numbers an uninterrupted run would (batches are a pure function of
(seed, step), see ``data.py``). Ctrl-C or SIGTERM stops it after the step in progress, saved to the checkpoint.

Warmup-stable-decay (``spec.schedule == "wsd"``, Hägele et al. 2024): a trunk run (no cooldown) also keeps its
state at each step of ``spec.keep_checkpoints`` as branch-STEP.pt; a cooldown run is started from such a
file with ``init_from`` and trains only its cooldown steps, reaching exactly the state a full WSD run of its
length would (tests check equality).

Devices: on CPU the run is float32 and deterministic given the seed. On CUDA it uses bf16 autocast, TF32
matmuls, fused AdamW (fused on CPU too where torch has it) and (switchable) ``torch.compile``: the nanoGPT
recipe.
"""

from __future__ import annotations

import math
import signal
import threading
import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import CorruptFileWarning, InputError
from ..io_utils import atomic_writer
from . import rundir
from .data import load_source
from .model import GPT
from .spec import TrainSpec, compile_pays


@dataclass(frozen=True)
class TrainResult:
    """A finished run: ``loss`` is the final validation loss (nats/token), ``train_loss`` the mean training
    loss over the last evaluation interval; ``flops`` = n_tokens · flops_per_token(flop_convention).
    ``notes``: problems found in the run folder on resume (an unreadable checkpoint retrained from scratch,
    metrics rows left out), each naming the file. ``compiled``: whether this attempt's steps ran under
    torch.compile (by default only CUDA runs that ``spec.compile_pays`` for)."""

    n_params: int
    n_tokens: int
    flops: float
    flop_convention: str
    loss: float
    train_loss: float
    n_steps: int
    seconds: float
    tokens_per_second: float
    device: str
    resumed_from_step: int = 0
    notes: tuple[str, ...] = ()  # what was found wrong in the run folder and what was done about it
    compiled: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_device(device: str = "auto") -> str:
    """'auto' → 'cuda' when a GPU is visible, else 'cpu'; 'cuda' without a GPU is an InputError."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("device: 'cuda' was asked for but no CUDA device is visible; use --device cpu or auto")
    if device != "cpu" and not device.startswith("cuda"):
        raise InputError(f"device: must be cpu, cuda, cuda:<i> or auto, got {device!r}")
    return device


def _to_device(batch: np.ndarray, device: str):
    t = torch.from_numpy(batch)
    if device.startswith("cuda"):
        return t.pin_memory().to(device, non_blocking=True)
    return t


@torch.no_grad()
def evaluate(model, val: np.ndarray, device: str, autocast, micro_batch_size: int) -> float:
    """Mean next-token cross-entropy (nats/token) over validation sequences ``val`` (n, seq_len + 1)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(val), micro_batch_size):
        chunk = _to_device(val[i:i + micro_batch_size], device)
        with autocast:
            _, loss = model(chunk[:, :-1], chunk[:, 1:])
        n = chunk.shape[0]
        total += float(loss) * n
        count += n
    model.train(was_training)
    return total / count


def make_optimizer(model, *, lr: float, betas=(0.9, 0.95), weight_decay: float = 0.1):
    """AdamW with the fused kernel (CUDA; CPU too since torch 2.4, ~3x faster steps on tiny models),
    falling back to the default implementation where this torch has no fused kernel for the device."""
    groups = model.optimizer_groups(weight_decay)
    try:
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=1e-8, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=1e-8)


def configure_device(device: str):
    """Process settings for fast training on ``device`` and the autocast context to run steps under.

    CUDA: TF32 for fp32 matmuls and bf16 autocast. CPU: float32, with subnormal floats flushed to zero while
    ``train`` runs (``flush_denormal``) — Adam's second moments of rarely-updated weights (e.g. embeddings of
    unseen bytes) decay geometrically into subnormals, which x86 CPUs process ~100x slower (measured: 32 s
    instead of 3 s for 100 steps of a 36K-parameter model); flushing changes no recorded loss at float32
    precision.
    """
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


@contextmanager
def flush_denormal():
    """Flush subnormal floats to zero for the block, then restore IEEE behaviour: the flag is process-wide
    (it is the CPU's), and NumPy code after training (the demo's fit, a test) must see true subnormals."""
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


@dataclass
class HeldSignal:
    """The interrupt (SIGINT or SIGTERM) held while a run trains, or None (`held_interrupts`)."""

    signum: int | None = None


@contextmanager
def held_interrupts():
    """Hold Ctrl-C (SIGINT) and SIGTERM while a run trains: the loop finishes the step in progress, saves it and
    raises KeyboardInterrupt, so an interrupted run loses nothing (it lost every step since its last periodic
    checkpoint, up to a fifth of the run). The stop waits for the step, torch.compile's first included. A
    signal that came after the last step is passed to the previous handler on exit. Only the main thread can
    set handlers: in another thread signals act as before. (Ray runs a task on its worker's main thread and
    delivers ``ray.cancel`` as SIGINT, so a cancelled Ray run saves too.)"""
    held = HeldSignal()
    if threading.current_thread() is not threading.main_thread():
        yield held
        return

    def hold(signum, frame):
        held.signum = signum

    previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield held
    finally:
        for s, handler in previous.items():  # None: a handler not set from Python, i.e. the default
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
    if held.signum is not None:
        signal.raise_signal(held.signum)


def _save_checkpoint(path: Path, model, optimizer, spec: TrainSpec, step: int, seconds: float, last_train_loss,
                     train_window):
    # train_window: the step losses since the last evaluation, whose mean the next one logs as train_loss; a
    # resume without them logged the mean of the steps after the restart alone (1.8346 for 1.8436)
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "seconds": seconds,
             "train_loss": last_train_loss, "train_window": [float(x) for x in train_window],
             "spec": spec.to_dict(), "torch_rng": torch.get_rng_state(),
             "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}
    with atomic_writer(path) as f:  # a reader sees the old checkpoint or the new one, never half of one
        torch.save(state, f)
    rundir.write_json_atomic(path.parent / rundir.CHECKPOINT_INFO, {"step": step, "file": path.name})


CHECKPOINT_KEYS = ("model", "optimizer", "step", "seconds", "spec", "torch_rng")


def _load_branch(path: Path, spec: TrainSpec, device: str):
    """The trunk state a cooldown run starts from: it must be a WSD state taken exactly at ``spec``'s cooldown
    start, with the same stable phase (``TrainSpec.stable_key``)."""
    if not path.is_file():
        raise InputError(f"{path}: the trunk's state at step {spec.decay_start} is missing; train the trunk "
                         f"first (it keeps one file per branch point)")
    state = torch.load(path, map_location=device, weights_only=False)
    trunk = TrainSpec.from_dict(state["spec"])
    if trunk.schedule != "wsd" or trunk.stable_key() != spec.stable_key():
        raise InputError(f"{path} comes from a trunk with another stable phase (model, data, seed, batch or "
                         f"learning rate differ); it cannot start this cooldown")
    if int(state["step"]) != spec.decay_start or trunk.decay_start < spec.decay_start:
        raise InputError(f"{path} holds step {state['step']} (trunk stable to {trunk.decay_start}), but this "
                         f"cooldown starts at step {spec.decay_start}")
    return state


def _load_checkpoint(path: Path, spec: TrainSpec, device: str):
    """The checkpoint's state, or None (after a CorruptFileWarning naming the path) when it cannot be read
    or lacks what resuming needs: the run is then retrained from scratch rather than failed."""
    try:
        state = torch.load(path, map_location=device, weights_only=False)
        if not isinstance(state, dict):
            raise ValueError(f"holds a {type(state).__name__}, not a checkpoint")
        missing = [k for k in CHECKPOINT_KEYS if k not in state]
        if missing:
            raise ValueError(f"lacks {', '.join(missing)}")
    except Exception as exc:  # torn, garbled or foreign: anything torch.load can raise
        warnings.warn(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc}); retraining this run "
                      f"from scratch", CorruptFileWarning, stacklevel=3)
        return None
    if state.get("spec") != spec.to_dict():
        raise InputError(f"{path} belongs to a different run spec; delete it to retrain this run from scratch")
    return state


def _latest_branch(run_dir: Path, spec: TrainSpec, device: str, after: int):
    """(state, path) of the newest readable branch state this trunk kept after step ``after``, or None. A branch
    file is a whole checkpoint (model, optimiser, RNG, step) written atomically, so resuming from it redoes
    nothing: a trunk killed between a branch point and its next checkpoint.pt restarted from 0 or from an
    older checkpoint (up to a quarter of the trunk)."""
    for step in sorted((s for s in spec.keep_checkpoints if s > after), reverse=True):
        path = run_dir / rundir.branch_checkpoint(step)
        if path.is_file():
            state = _load_checkpoint(path, spec, device)
            if state is not None and int(state["step"]) == step:
                return state, path
    return None


def train(spec: TrainSpec, run_dir: str | Path | None = None, **options) -> TrainResult:
    """Train one model (``_train`` says how), with subnormals flushed on the CPU only while it trains, and
    Ctrl-C or SIGTERM held until the step in progress is saved (`held_interrupts`)."""
    with flush_denormal(), held_interrupts() as held:
        return _train(spec, run_dir, held=held, **options)


def _train(spec: TrainSpec, run_dir: str | Path | None = None, *, device: str = "auto",
           compile: bool | None = None, source=None, micro_batch_size: int | None = None,
           on_step: Callable[[int, int, dict | None], None] | None = None,
           init_from: str | Path | None = None, held: HeldSignal | None = None) -> TrainResult:
    """Train one model as ``spec`` says; resume from ``run_dir``/checkpoint.pt when it exists.

    device: 'cpu', 'cuda', 'cuda:<i>' or 'auto'. compile: ``torch.compile`` the model (default: on CUDA, where
    it pays: ``spec.compile_pays``, for the steps left to train). source: a token source from
    ``data.load_source`` (loaded from ``spec.data`` when None; pass one in to share it between runs).
    micro_batch_size: sequences per forward pass (gradient accumulation when below ``spec.batch_size``; default
    the whole batch). on_step(steps_done, n_steps, row): called after
    every optimiser step, with the metrics row when that step was evaluated (progress bars, heartbeats).
    init_from: a WSD trunk's branch-STEP.pt to start a cooldown run from (STEP = ``spec.decay_start``); used
    only when ``run_dir`` holds no checkpoint of its own yet. ``seconds`` then counts the cooldown only.
    held: the interrupt `held_interrupts` holds; once set, the step in progress is finished, saved to the
    checkpoint and KeyboardInterrupt raised.
    """
    device = resolve_device(device)
    cuda = device.startswith("cuda")
    source = load_source(spec.data) if source is None else source
    micro = min(micro_batch_size or spec.batch_size, spec.batch_size)
    run_dir = Path(run_dir) if run_dir is not None else None

    autocast = configure_device(device)
    torch.manual_seed(spec.seed)
    model = GPT(spec.arch).to(device)
    if model.n_params != spec.n_params:  # the fits downstream assume the recorded N is the real N
        raise RuntimeError(f"model has {model.n_params} parameters, spec says {spec.n_params}")
    optimizer = make_optimizer(model, lr=spec.peak_lr, betas=(spec.beta1, spec.beta2),
                               weight_decay=spec.weight_decay)

    start_step, seconds_before, last_train_loss, window = 0, 0.0, float("nan"), []
    notes = []
    checkpoint = run_dir / rundir.CHECKPOINT if run_dir is not None else None
    metrics = run_dir / rundir.METRICS if run_dir is not None else None
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        state = None
        if checkpoint.exists():
            state = _load_checkpoint(checkpoint, spec, device)
            if state is None:
                notes.append(f"{checkpoint}: unreadable checkpoint; retrained from scratch")
        newer = _latest_branch(run_dir, spec, device, after=0 if state is None else int(state["step"]))
        if newer is not None:  # a WSD trunk killed before its next checkpoint.pt: its branch state is newer
            state, path = newer
            notes.append(f"{path.name}: resumed from this branch state (step {int(state['step'])}), newer than "
                         f"any {rundir.CHECKPOINT}")
        if state is None and init_from is not None:
            state = dict(_load_branch(Path(init_from), spec, device), seconds=0.0)
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["torch_rng"].cpu())
            if cuda and state.get("cuda_rng") is not None:
                torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
            start_step, seconds_before = int(state["step"]), float(state["seconds"])
            last_train_loss, window = state.get("train_loss", float("nan")), state.get("train_window", [])
        # rows logged after the checkpoint were computed by a run that died: they will be redone
        rows, row_notes = rundir.read_metrics(metrics)
        notes += row_notes
        rundir.write_jsonl_atomic(metrics, [r for r in rows if r["step"] <= start_step])

    if compile is None:
        compile = cuda and compile_pays(spec.n_params, spec.n_steps - start_step)
    step_fn = torch.compile(model) if compile else model
    val = source.val_batch(spec.eval_sequences, spec.seq_len)
    fpt = spec.flops_per_token
    model.train()
    t0 = time.perf_counter()
    val_loss = float("nan")
    if init_from is not None and run_dir is None:
        state = _load_branch(Path(init_from), spec, device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"].cpu())
        start_step, window = int(state["step"]), state.get("train_window", [])
    train_losses = [torch.tensor(v, dtype=torch.float32, device=device) for v in window]
    if start_step >= spec.n_steps:  # already trained to the end: just score it
        val_loss = evaluate(model, val, device, autocast, micro)

    def save(path):  # the state after `done` steps, as the loop holds it when called
        _save_checkpoint(path, model, optimizer, spec, done, seconds_before + time.perf_counter() - t0,
                         last_train_loss, train_losses)

    for step in range(start_step, spec.n_steps):
        lr = spec.lr(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = source.train_batch(step, spec.batch_size, spec.seq_len, spec.seed)
        step_loss = torch.zeros((), device=device)  # stays on the device: no GPU→CPU sync per step
        for i in range(0, spec.batch_size, micro):
            chunk = _to_device(batch[i:i + micro], device)
            with autocast:
                _, loss = step_fn(chunk[:, :-1], chunk[:, 1:])
            loss = loss * (chunk.shape[0] / spec.batch_size)  # mean over the whole batch
            loss.backward()
            step_loss += loss.detach()
        if spec.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), spec.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        train_losses.append(step_loss)

        done = step + 1
        row = None
        if done % spec.eval_every == 0 or done == spec.n_steps:
            last_train_loss = float(torch.stack(train_losses).mean())
            train_losses = []
            if not math.isfinite(last_train_loss):  # checked here, not every step, to keep the GPU busy
                raise FloatingPointError(f"training loss became {last_train_loss} by step {done}; lower the "
                                         f"learning rate (peak_lr={spec.peak_lr:.3g})")
            val_loss = evaluate(model, val, device, autocast, micro)
            n_tokens = done * spec.tokens_per_step
            row = {"step": done, "n_tokens": n_tokens, "flops": n_tokens * fpt, "loss": val_loss,
                   "train_loss": last_train_loss, "lr": lr, "seconds": seconds_before + time.perf_counter() - t0}
            if metrics is not None:
                rundir.append_jsonl(metrics, row)
        if run_dir is not None and done in spec.keep_checkpoints:  # a WSD branch point: kept for good
            save(run_dir / rundir.branch_checkpoint(done))
        if checkpoint is not None and (done % spec.checkpoint_every == 0 or done == spec.n_steps):
            save(checkpoint)
        if on_step is not None:
            on_step(done, spec.n_steps, row)
        if held is not None and held.signum is not None:  # interrupted during this step: keep it, then stop
            if checkpoint is not None:
                save(checkpoint)
            raise KeyboardInterrupt

    if cuda:
        torch.cuda.synchronize()
    seconds = seconds_before + time.perf_counter() - t0
    trained_tokens = (spec.n_steps - start_step) * spec.tokens_per_step
    elapsed = time.perf_counter() - t0
    return TrainResult(n_params=spec.n_params, n_tokens=spec.n_tokens, flops=spec.flops,
                       flop_convention=spec.flop_convention, loss=float(val_loss),
                       train_loss=float(last_train_loss), n_steps=spec.n_steps, seconds=seconds,
                       tokens_per_second=trained_tokens / elapsed if elapsed > 0 else 0.0,
                       device=device, resumed_from_step=start_step, notes=tuple(notes), compiled=bool(compile))
