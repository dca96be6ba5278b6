"""Corrupt files in a sweep folder: each is reported by path, never skipped silently, never blocks the rest."""

import json
import os
import socket

import numpy as np
import pytest

from isoflop.errors import CorruptFileWarning, InputError
from isoflop.sweep import store
from isoflop.sweep.design import SweepConfig, design_sweep
from isoflop.train import rundir

CONFIG = dict(budgets=[2e9, 6e9], sizes_per_budget=3, spread=2.0, head_dim=8, seq_len=32,
              data={"source": "markov", "n_states": 16, "concentration": 0.3})


@pytest.fixture()
def sweep(tmp_path):
    """A sweep of 6 runs, all finished (fake results with losses 3.0, 3.1, ...) with a 3-row loss curve."""
    design = design_sweep(SweepConfig.from_dict(CONFIG))
    sweep_dir = tmp_path / "s"
    store.init_sweep(sweep_dir, design)
    for i, spec in enumerate(design.runs):
        folder = store.run_dir(sweep_dir, spec.run_id)
        for step in (0, spec.train.n_steps // 2, spec.train.n_steps):
            n_tokens = step * spec.train.tokens_per_step
            rundir.append_jsonl(folder / "metrics.jsonl", {"step": step, "n_tokens": n_tokens,
                                                           "flops": 6.0 * spec.n_params * n_tokens,
                                                           "loss": 4.0 - step / spec.train.n_steps, "lr": 0.01})
        store.write_result(folder, {"run_id": spec.run_id, "n_params": spec.n_params, "n_tokens": spec.n_tokens,
                                    "flops": spec.flops, "loss": 3.0 + i / 10, "param_convention": "total",
                                    "flops_budget": spec.flops_budget})
    return sweep_dir, design


BAD_RESULTS = {  # text of result.json, and what the note must say
    "truncated": ('{"run_id": "x", "loss": 2.', "not valid JSON"),
    "empty": ("", "empty"),
    "list": ("[2.5]", "list"),
    "negative-loss": (None, "loss -5"),
    "zero-loss": (None, "loss 0"),
    "string-loss": (None, "loss '2.5'"),
    "boolean-loss": (None, "loss True"),
    "nan-loss": (None, "loss nan"),
    "no-n_tokens": (None, "n_tokens None"),
}


def _bad_result(folder, case):
    text, _ = BAD_RESULTS[case]
    if text is None:
        doc = json.loads((folder / "result.json").read_text())
        doc.update({"negative-loss": {"loss": -5}, "zero-loss": {"loss": 0}, "string-loss": {"loss": "2.5"},
                    "boolean-loss": {"loss": True}, "nan-loss": {"loss": float("nan")},
                    "no-n_tokens": {"n_tokens": None}}[case])
        text = json.dumps(doc)  # json writes NaN as the non-standard literal, as a careless writer would
    (folder / "result.json").write_text(text)


@pytest.mark.parametrize("case", list(BAD_RESULTS))
def test_a_bad_result_is_not_done_and_is_reported_by_path(sweep, case):
    sweep_dir, design = sweep
    bad = design.runs[2]
    folder = store.run_dir(sweep_dir, bad.run_id)
    _bad_result(folder, case)
    result, problem = store.check_result(folder)
    assert result is None and str(folder / "result.json") in problem and BAD_RESULTS[case][1] in problem

    state = {s.run_id: s for s in store.sweep_status(sweep_dir)}
    assert state[bad.run_id].state == "pending" and state[bad.run_id].notes == (problem,)
    assert [s.state for s in state.values()].count("done") == 5

    with pytest.warns(CorruptFileWarning, match=bad.run_id):
        frame = store.export_table(sweep_dir)
    assert len(frame) == 5 and bad.run_id not in set(frame.run_id)

    table = store.read_runs(sweep_dir)
    assert len(table) == 5 and bad.run_id not in set(table.run_ids)
    assert f"left out run {bad.run_id}: {problem}" in table.warnings
    expected = sorted(3.0 + i / 10 for i in range(6) if i != 2)
    assert sorted(table.loss) == pytest.approx(expected, abs=0)


@pytest.mark.parametrize("how", ["copied", "n_params", "n_tokens", "flops"])
def test_a_result_copied_from_another_run_or_edited_is_not_done(sweep, how):
    """A result.json copied from run 0 into run 1's folder counted run 1 as done, and the table reported run 0's
    size and tokens under run 1's id; so did a result whose sizes were edited away from the spec."""
    sweep_dir, design = sweep
    source, target = design.runs[0], design.runs[1]
    folder = store.run_dir(sweep_dir, target.run_id)
    doc = json.loads((store.run_dir(sweep_dir, source.run_id) / "result.json").read_text())
    if how != "copied":
        doc = json.loads((folder / "result.json").read_text())
        doc[how] = doc[how] * 2
    (folder / "result.json").write_text(json.dumps(doc))
    result, problem = store.check_result(folder)
    assert result is None and str(folder / "result.json") in problem
    assert (source.run_id if how == "copied" else how) in problem
    state = {s.run_id: s for s in store.sweep_status(sweep_dir)}
    assert state[target.run_id].state == "pending"
    table = store.read_runs(sweep_dir)
    assert target.run_id not in set(table.run_ids) and len(table) == 5
    # every row left has its own run's numbers: n_tokens = steps × batch × seq_len, flops = 6·N·D
    specs = {s.run_id: s for s in design.runs}
    for run_id, n_params, n_tokens in zip(table.run_ids, table.n_params, table.n_tokens):
        spec = specs[run_id]
        assert n_params == spec.n_params
        assert n_tokens == spec.train.n_steps * spec.train.batch_size * spec.train.arch.seq_len


def test_one_bad_metrics_row_is_skipped_with_a_note_and_blocks_nothing(sweep):
    sweep_dir, design = sweep
    target = design.runs[1]
    folder = store.run_dir(sweep_dir, target.run_id)
    (folder / "result.json").unlink()  # still training
    path = folder / "metrics.jsonl"
    lines = path.read_text().splitlines()
    lines.insert(2, json.dumps({"step": "abc", "loss": 2.0}))     # the audit's "invalid literal for int()"
    lines.insert(3, json.dumps({"step": 7, "loss": "nan"}))
    lines.insert(4, "[1, 2]")
    lines.append(json.dumps({"step": True, "loss": 2.0}))
    path.write_text("\n".join(lines) + "\n" + '{"step": 99, "lo')   # and a last line torn by a kill

    rows, notes = rundir.read_metrics(path)
    assert [r["step"] for r in rows] == [0, target.train.n_steps // 2, target.train.n_steps]
    assert [n.split(": ", 1)[1] for n in notes] == [
        "line 3: step 'abc' is not a whole number ≥ 0; row skipped",
        "line 4: loss 'nan' is not a finite number; row skipped",
        "line 5: not a JSON object (list); row skipped",
        "line 7: step True is not a whole number ≥ 0; row skipped",
        "line 8 is incomplete (its write was cut off); row skipped"]
    assert all(n.startswith(str(path)) for n in notes)

    state = {s.run_id: s for s in store.sweep_status(sweep_dir)}
    assert state[target.run_id].state == "pending" and state[target.run_id].step == target.train.n_steps
    assert state[target.run_id].notes == tuple(notes)
    assert sum(s.state == "done" for s in state.values()) == 5

    curves = store.read_runs(sweep_dir, curves=True)
    assert len(curves) == 6 * 2  # step 0 has no tokens yet; every other good row of every run is there
    assert set(notes) <= set(curves.warnings)
    finals = store.read_runs(sweep_dir)
    assert len(finals) == 5 and any("1 of 6 runs not finished" in w for w in finals.warnings)
    with pytest.warns(CorruptFileWarning, match=r"metrics\.jsonl: line") as record:
        assert len(store.export_curves(sweep_dir)) == 6 * 3
    assert [str(w.message) for w in record] == notes


def test_curves_carry_planned_tokens_from_the_spec(sweep):
    sweep_dir, design = sweep
    curves = store.read_runs(sweep_dir, curves=True)
    frame = curves.frame.set_index(["run_id", "step"])
    for spec in design.runs:
        half = spec.train.n_steps // 2
        row = frame.loc[(spec.run_id, half)]
        assert row.n_tokens == half * spec.train.batch_size * spec.train.arch.seq_len
        assert row.planned_tokens == spec.n_tokens == spec.train.n_steps * spec.train.tokens_per_step
        assert row.n_params == spec.n_params and row.loss == 4.0 - half / spec.train.n_steps
    assert curves.param_convention == "total"


def test_curves_tolerate_a_lost_spec_and_rows_without_tokens(sweep):
    sweep_dir, design = sweep
    a, b = (store.run_dir(sweep_dir, s.run_id) for s in design.runs[:2])
    (a / "spec.json").write_text("{")  # n_params from result.json; planned tokens unknown (NaN)
    with open(b / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 5, "loss": 2.0}) + "\n")
    curves = store.read_runs(sweep_dir, curves=True)
    assert len(curves) == 12
    frame = curves.frame.set_index("run_id")
    assert np.isnan(frame.loc[design.runs[0].run_id, "planned_tokens"]).all()
    assert (frame.loc[design.runs[0].run_id, "n_params"] == design.runs[0].n_params).all()
    assert any(f"run {design.runs[0].run_id}: {a / 'spec.json'}: not valid JSON" in w for w in curves.warnings)
    assert f"{b / 'metrics.jsonl'}: the row of step 5 has no n_tokens or flops; row skipped" in curves.warnings


def test_curves_refuse_the_sizes_of_a_swapped_spec(sweep):
    """spec.json of runs 0 and 1 swapped: the curves gave run 0's evaluations run 1's n_params and planned
    tokens (and the reverse), silently. Now n_params come from each run's own result.json and the planned
    tokens are unknown, with a note naming the file."""
    sweep_dir, design = sweep
    a, b = (store.run_dir(sweep_dir, s.run_id) for s in design.runs[:2])
    text_a, text_b = (a / "spec.json").read_text(), (b / "spec.json").read_text()
    (a / "spec.json").write_text(text_b)
    (b / "spec.json").write_text(text_a)
    curves = store.read_runs(sweep_dir, curves=True)
    frame = curves.frame.set_index("run_id")
    for folder, spec, other in ((a, design.runs[0], design.runs[1]), (b, design.runs[1], design.runs[0])):
        assert spec.n_params != other.n_params
        assert (frame.loc[spec.run_id, "n_params"] == spec.n_params).all()
        assert np.isnan(frame.loc[spec.run_id, "planned_tokens"]).all()
        assert any(f"{folder / 'spec.json'}: is the spec of run {other.run_id!r}" in w for w in curves.warnings)
    for spec in design.runs[2:]:  # the others untouched: n_tokens = steps × batch × seq_len
        assert (frame.loc[spec.run_id, "planned_tokens"]
                == spec.train.n_steps * spec.train.batch_size * spec.train.arch.seq_len).all()


def test_a_minimal_layout_from_another_tool_reads(tmp_path):
    """Only runs/ID/spec.json (run_id, n_params, n_tokens), metrics.jsonl and result.json: no design."""
    root = tmp_path / "other"
    for i, n_params in enumerate((1e6, 2e6)):
        folder = root / "runs" / f"r{i}"
        folder.mkdir(parents=True)
        (folder / "spec.json").write_text(json.dumps({"run_id": f"r{i}", "n_params": n_params, "n_tokens": 1e8}))
        rundir.append_jsonl(folder / "metrics.jsonl", {"step": 10, "n_tokens": 5e7, "flops": 3e14, "loss": 3.0})
    store.write_result(root / "runs" / "r0", {"n_params": 1e6, "n_tokens": 1e8, "flops": 6e14, "loss": 2.5})
    assert store.is_sweep(root)
    finals = store.read_runs(root)
    assert finals.run_ids.tolist() == ["r0"] and finals.loss.tolist() == [2.5]
    assert finals.warnings == ("left out 1 of 2 runs not finished yet (r1)",)
    curves = store.read_runs(root, curves=True)
    assert curves.column("planned_tokens").tolist() == [1e8, 1e8] and curves.n_params.tolist() == [1e6, 2e6]


def test_a_folder_that_is_not_a_sweep_points_to_ingest(tmp_path):
    (tmp_path / "events.out.tfevents.1").write_bytes(b"")
    for curves in (False, True):
        with pytest.raises(InputError, match="not a sweep folder.*isoflop ingest"):
            store.read_runs(tmp_path, curves=curves)


def test_no_finished_run_is_one_clear_error(sweep):
    sweep_dir, design = sweep
    for spec in design.runs:
        (store.run_dir(sweep_dir, spec.run_id) / "result.json").unlink()
    (store.run_dir(sweep_dir, design.runs[0].run_id) / "result.json").write_text("{")
    with pytest.raises(InputError) as info:
        store.read_runs(sweep_dir)
    message = str(info.value)
    assert "no finished runs yet" in message and "result.json: not valid JSON" in message
    assert "5 of 6 runs not finished" in message and "\n" not in message


def test_garbled_lock_and_error_files_do_not_crash_status(sweep):
    sweep_dir, design = sweep
    folders = [store.run_dir(sweep_dir, s.run_id) for s in design.runs]
    for folder in folders[:4]:
        (folder / "result.json").unlink()
    (folders[0] / "lock.json").write_text('{"pid": 1, "host": "elsewhere", "heartbeat": "abc"}')
    (folders[1] / "lock.json").write_text(json.dumps({"pid": 0, "host": socket.gethostname()}))
    (folders[2] / "lock.json").write_text(json.dumps({"pid": -1, "host": socket.gethostname()}))
    (folders[3] / "error.txt").mkdir()  # not a file at all
    state = {s.run_id: s for s in store.sweep_status(sweep_dir)}
    ids = [s.run_id for s in design.runs]
    assert [state[i].state for i in ids[:3]] == ["pending"] * 3
    assert state[ids[3]].state == "failed" and "unreadable" in state[ids[3]].error


def test_truncated_sweep_json_is_rebuilt_from_the_specs(sweep):
    sweep_dir, design = sweep
    path = sweep_dir / "sweep.json"
    path.write_text(path.read_text()[:200])
    with pytest.warns(CorruptFileWarning, match="sweep.json: not valid JSON.*rebuilt from 6 runs"):
        rebuilt = store.load_design(sweep_dir)
    assert rebuilt.runs == tuple(sorted(design.runs, key=lambda r: r.run_id))
    state = store.sweep_state(sweep_dir)
    assert state.counts()["done"] == 6 and "rebuilt" in state.notes[0]
    assert json.loads(json.dumps(state.to_dict()))["notes"] == list(state.notes)
    table = store.read_runs(sweep_dir)  # reads the run folders only: nothing of it is lost
    assert len(table) == 6 and table.warnings == ()
    # one spec.json garbled too: that run is named, the others still load
    (store.run_dir(sweep_dir, design.runs[0].run_id) / "spec.json").write_text("{")
    state = store.sweep_state(sweep_dir)
    assert len(state.runs) == 5 and any(design.runs[0].run_id in n and "spec.json" in n for n in state.notes)
    # init with the same design repairs both files
    store.init_sweep(sweep_dir, design)
    assert store.load_design(sweep_dir).runs == design.runs
    assert store.sweep_state(sweep_dir).notes == ()


def test_sweep_json_that_is_not_a_design_is_an_input_error(sweep):
    sweep_dir, _ = sweep
    path = sweep_dir / "sweep.json"
    for text, words in (("[1, 2, 3]", "holds a JSON list"), ('{"config": {}}', "not a sweep design")):
        path.write_text(text)
        for call in (store.load_design, store.sweep_state):
            with pytest.raises(InputError, match=words) as info:
                call(sweep_dir)
            assert str(path) in str(info.value)


def test_nothing_to_rebuild_from_is_a_clear_error(tmp_path):
    (tmp_path / "sweep.json").write_text('{"config": ')
    with pytest.raises(InputError, match=r"no sweep here \(.*sweep.json: not valid JSON"):
        store.load_design(tmp_path)


def test_init_sweep_refuses_a_file_and_a_different_design(sweep, tmp_path):
    sweep_dir, design = sweep
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError, match="afile: exists and is not a folder"):
        store.init_sweep(tmp_path / "afile", design)
    with pytest.raises(InputError, match="cannot create the sweep folder"):
        store.init_sweep(tmp_path / "afile" / "sub", design)
    (sweep_dir / "sweep.json").unlink()  # runs of this design are there; another design must not mix in
    other = design_sweep(SweepConfig.from_dict({**CONFIG, "seq_len": 16}))
    with pytest.raises(InputError, match="runs of a different sweep design"):
        store.init_sweep(sweep_dir, other)


def test_is_sweep_and_find_sweep(sweep, tmp_path):
    sweep_dir, _ = sweep
    assert store.is_sweep(sweep_dir) and not store.is_sweep(tmp_path) and not store.is_sweep(tmp_path / "nope")
    assert store.find_sweep(tmp_path) is None
    demo = tmp_path / "demo-out"
    (demo).mkdir()
    sweep_dir.rename(demo / "sweep")  # the layout `isoflop demo --out DEMO` writes
    assert store.find_sweep(demo) == demo / "sweep" and store.find_sweep(demo / "sweep") == demo / "sweep"
    (demo / "sweep" / "sweep.json").unlink()
    assert store.is_sweep(demo / "sweep")  # the runs' spec.json files still make it one
    (demo / "x.csv").write_text("a\n")
    assert not store.is_sweep(demo / "x.csv")


def test_status_and_table_are_strict_json(sweep):
    sweep_dir, design = sweep
    (store.run_dir(sweep_dir, design.runs[0].run_id) / "result.json").write_text('{"loss": NaN}')
    text = json.dumps(store.sweep_state(sweep_dir).to_dict(), allow_nan=False)
    assert "result.json" in text
    assert np.isfinite(store.read_runs(sweep_dir).loss).all()


# ------------------------------------------------------------------------------------ with the trainer

def _tiny_design():
    from isoflop.flops import Architecture
    from isoflop.sweep.design import RunSpec, SweepDesign
    from isoflop.train.spec import DataSpec, TrainSpec

    data = DataSpec(source="markov", n_states=8, concentration=0.5, seed=3)
    arch = Architecture(n_layer=1, d_model=16, n_head=2, vocab_size=8, seq_len=16)
    spec = TrainSpec(arch=arch, n_steps=30, batch_size=8, peak_lr=0.01, warmup_steps=3, data=data,
                     eval_every=10, eval_sequences=32, checkpoint_every=10)
    run = RunSpec("tiny", flops_budget=spec.flops, target_n_params=arch.n_params, train=spec)
    return SweepDesign(SweepConfig(budgets=(1e9,), data=data), law="none", runs=(run,))


def test_corrupt_result_and_checkpoint_are_reported_and_retrained_to_the_same_loss(tmp_path):
    pytest.importorskip("torch")
    from isoflop.sweep.executors import run_sweep

    design = _tiny_design()
    store.init_sweep(tmp_path, design)
    first = run_sweep(tmp_path, device="cpu", progress=False).outcomes[0]
    assert first.status == "done" and first.notes == ()
    folder = store.run_dir(tmp_path, "tiny")

    (folder / "result.json").write_text('{"loss": -5}')  # implausible: re-scored from the final checkpoint
    again = run_sweep(tmp_path, device="cpu", progress=False).outcomes[0]
    assert again.status == "done" and again.loss == first.loss
    assert again.notes == (f"{folder / 'result.json'}: loss -5 is not a positive finite number; the run is not "
                           f"counted as done",)
    assert store.read_result(folder)["resumed_from_step"] == 30

    (folder / "result.json").unlink()
    (folder / "checkpoint.pt").write_bytes(b"\x80\x02garbage")
    third = run_sweep(tmp_path, device="cpu", progress=False).outcomes[0]
    assert third.status == "done" and third.loss == first.loss  # retrained from scratch, deterministic on CPU
    assert any(str(folder / "checkpoint.pt") in n and "retrain" in n for n in third.notes)
    result = store.read_result(folder)
    assert result["resumed_from_step"] == 0 and any("checkpoint.pt" in n for n in result["notes"])
    assert [r["step"] for r in rundir.read_metrics(folder / "metrics.jsonl")[0]] == [10, 20, 30]


def test_trainer_warns_on_an_unreadable_checkpoint_before_retraining(tmp_path):
    pytest.importorskip("torch")
    from isoflop.train.trainer import train

    spec = _tiny_design().runs[0].train
    (tmp_path / "checkpoint.pt").write_bytes(b"")
    with pytest.warns(CorruptFileWarning, match=f"{tmp_path / 'checkpoint.pt'}: unreadable checkpoint"):
        result = train(spec, tmp_path, device="cpu")
    assert result.resumed_from_step == 0 and len(result.notes) == 1


def test_bad_run_options_are_refused_before_the_disk_is_touched(tmp_path):
    from isoflop.sweep.executors import check_run_options, run_sweep

    target = tmp_path / "never"
    for kwargs, words in (({"device": "tpu"}, "--device"), ({"executor": "slurm"}, "--executor"),
                          ({"cpus_per_run": 0}, "--cpus-per-run"), ({"cpus_per_run": True}, "--cpus-per-run"),
                          # options that did nothing: a Ray request off Ray, workers on Ray, threads of no worker
                          ({"cpus_per_run": 4}, "--executor ray"), ({"executor": "ray", "workers": 2}, "--workers"),
                          ({"threads_per_worker": 2}, "--workers 2"), ({"workers": 0}, "--workers")):
        with pytest.raises(InputError, match=words):
            check_run_options(**kwargs)
        with pytest.raises(InputError, match=words):
            run_sweep(target, **kwargs)
    assert not target.exists()
    check_run_options(device="cpu")
    check_run_options(executor="ray", device="cuda")  # the cluster's GPUs, not checked here
    check_run_options(workers=2, threads_per_worker=2)


def test_pid_files_of_this_process(tmp_path):
    """lock_is_live on this process: live; with pid 0 (a process group to os.kill): garbage, not live."""
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    assert store.lock_is_live(me) and not store.lock_is_live({**me, "pid": 0})
    assert not store.lock_is_live({**me, "pid": True})


# ------------------------------------------------------------------------------------------ fuzzing

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=8)
ROW_FIELDS = st.fixed_dictionaries({}, optional={"step": JSON_VALUES, "loss": JSON_VALUES, "n_tokens": JSON_VALUES,
                                                 "flops": JSON_VALUES})


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(st.one_of(st.binary(max_size=40), ROW_FIELDS.map(lambda r: json.dumps(r).encode())),
                      max_size=8))
def test_read_metrics_never_raises_and_keeps_only_sane_rows(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("m") / "metrics.jsonl"
    path.write_bytes(b"\n".join(lines))
    rows, notes = rundir.read_metrics(path)
    n_lines = sum(1 for line in path.read_text(errors="replace").split("\n") if line.strip())
    assert len(rows) + len(notes) == n_lines  # every line is either used or reported
    for row in rows:
        assert type(row["step"]) is int and row["step"] >= 0
        assert not isinstance(row["loss"], bool) and np.isfinite(row["loss"])
    assert all(n.startswith(str(path)) for n in notes)


@settings(max_examples=150, deadline=None)
@given(doc=JSON_VALUES | st.fixed_dictionaries({"loss": JSON_VALUES, "n_params": JSON_VALUES,
                                                "n_tokens": JSON_VALUES, "flops": JSON_VALUES}))
def test_check_result_never_raises_and_never_accepts_an_implausible_result(tmp_path_factory, doc):
    folder = tmp_path_factory.mktemp("r")
    (folder / "result.json").write_text(json.dumps(doc))
    result, problem = store.check_result(folder)
    assert (result is None) != (problem is None)
    if result is not None:
        for key in ("loss", "n_params", "n_tokens", "flops"):
            assert not isinstance(result[key], bool) and np.isfinite(result[key]) and result[key] > 0
    else:
        assert problem.startswith(str(folder / "result.json"))


def test_a_design_that_lost_runs_is_refused(tmp_path):
    """A hand-edited sweep.json with "runs": [] made `status` report 0 runs and `run` do nothing (exit 0) while
    the run folders stood beside it."""
    import json

    from isoflop.sweep.design import SweepConfig, design_sweep
    from isoflop.sweep.store import init_sweep, sweep_state

    design = design_sweep(SweepConfig.from_dict({"budgets": [1e11], "sizes_per_budget": 2, "head_dim": 8,
                                                 "seq_len": 32}))
    init_sweep(tmp_path / "s", design)
    doc = json.loads((tmp_path / "s" / "sweep.json").read_text())
    (tmp_path / "s" / "sweep.json").write_text(json.dumps({**doc, "runs": []}))
    with pytest.raises(InputError, match="holds 2 run folder"):
        sweep_state(tmp_path / "s")
