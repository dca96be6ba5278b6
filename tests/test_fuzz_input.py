"""Fuzzing what users feed in: the number parser, RunTable and every ingest reader, with hypothesis. The
contract: an InputError (one line) or a correct result, never another exception; and a damaged log never
yields a value that was not written, nor a cut run's last loss as its final one."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from isoflop.errors import InputError
from isoflop.ingest import ingest
from isoflop.ingest.tensorboard import read_records
from isoflop.runs import RunTable
from isoflop.units import parse_nonnegative, parse_positive

# No NumPy warning escapes, on any input; damaged logs are expected here (their warning is tested elsewhere).
pytestmark = [pytest.mark.filterwarnings("error::RuntimeWarning"),
              pytest.mark.filterwarnings("ignore::isoflop.errors.CorruptLogWarning")]

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])

cells = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20), st.booleans(),
                  st.none(), st.text(max_size=8), st.sampled_from(["1,5", "70B", "1e3", "-0", " ", "True", "nan"]))


def one_line_error(exc: InputError):
    text = str(exc)
    assert text and "\n" not in text and "Traceback" not in text


@FUZZ
@given(st.one_of(cells, st.lists(cells, max_size=2), st.binary(max_size=12)))
def test_parser_fuzz(value):
    for parse in (parse_positive, parse_nonnegative):
        try:
            out = parse(value, "--x")
        except InputError as exc:
            one_line_error(exc)
        else:
            assert isinstance(out, float) and np.isfinite(out) and out >= 0


@FUZZ
@given(st.data(), st.integers(1, 6))
def test_runtable_fuzz(data, n):
    columns = data.draw(st.lists(st.sampled_from(["n_params", "n_tokens", "flops", "loss", "step", "run_id",
                                                  "unique_tokens", "planned_tokens", "truncated", "other"]),
                                 min_size=1, max_size=6, unique=True))
    frame = pd.DataFrame({c: data.draw(st.lists(cells, min_size=n, max_size=n)) for c in columns})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no NumPy warnings escape
        try:
            table = RunTable.from_frame(frame)
        except InputError as exc:
            one_line_error(exc)
            return
        for column in ("n_params", "n_tokens", "flops", "loss"):
            values = table.column(column)
            assert np.isfinite(values).all() and (values > 0).all()
        assert (table.n_params >= 1).all() and (table.n_tokens > 0).all()
        k = data.draw(st.integers(-3, n + 3))
        try:
            dropped = table.drop_highest_loss(k)
        except InputError as exc:
            one_line_error(exc)
            assert k < 0 or k >= len(table)
        else:
            assert 0 <= k < len(table) and len(dropped) == len(table) - k


@FUZZ
@given(st.binary(max_size=400), st.sampled_from([".csv", ".jsonl", ".json", ".tsv"]))
def test_table_readers_fuzz_bytes(tmp_path_factory, payload, suffix):
    path = tmp_path_factory.mktemp("fz") / f"log{suffix}"
    path.write_bytes(payload)
    try:
        ingest(path, n_params=1e8, tokens_per_step=1000)
    except InputError as exc:
        one_line_error(exc)


text_rows = st.lists(st.lists(st.sampled_from(["1", "2.5", "", "abc", "True", "nan", "1e400", "-1", "3,5", '"x"']),
                              min_size=1, max_size=5), max_size=6)


@FUZZ
@given(text_rows, st.booleans(), st.sampled_from([
    "step,loss", "Step,run_a - train/loss,run_b - train/loss", "run_id,step,loss,n_params",
    "Name,State,Created,Runtime,train/loss,_step", "_step,train/global_step,eval/loss"]))
def test_csv_like_logs_fuzz(tmp_path_factory, rows, final_newline, header):
    path = tmp_path_factory.mktemp("fz") / "log.csv"
    text = "\n".join([header] + [",".join(r) for r in rows]) + ("\n" if final_newline else "")
    path.write_text(text)
    try:
        table = ingest(path, n_params=1e8, tokens_per_step=1000)
    except InputError as exc:
        one_line_error(exc)
        return
    assert np.isfinite(table.loss).all() and (table.loss > 0).all()


scalars = st.one_of(st.none(), st.booleans(), st.floats(), st.integers(-5, 10**6), st.text(max_size=5))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)


@FUZZ
@given(st.lists(st.dictionaries(st.sampled_from(["step", "loss", "eval_loss", "num_input_tokens_seen", "epoch"]),
                                json_values, max_size=5), max_size=6),
       json_values, json_values)
def test_trainer_state_fuzz(tmp_path_factory, log, max_steps, global_step):
    folder = tmp_path_factory.mktemp("fz") / "run"
    folder.mkdir()
    path = folder / "trainer_state.json"
    path.write_text(json.dumps({"log_history": log, "max_steps": max_steps, "global_step": global_step}))
    for source in (path, folder.parent):
        try:
            table = ingest(source, n_params=1e8, tokens_per_step=1000)
        except InputError as exc:
            one_line_error(exc)
        else:
            assert np.isfinite(table.loss).all()


# ------------------------------------------------------------------------------- byte-wise TensorBoard damage

@pytest.fixture(scope="module")
def event_file(tmp_path_factory):
    pytest.importorskip("tensorboard")
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    folder = tmp_path_factory.mktemp("tb") / "run"
    writer = torch_tb.SummaryWriter(str(folder))
    for step in range(1, 51):
        writer.add_scalar("train/loss", 3.0 + 1.0 / step, step)
    writer.close()
    path = next(folder.glob("*tfevents*"))
    return path.read_bytes(), path.name


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_tensorboard_damage_fuzz(tmp_path_factory, event_file, data):
    original, name = event_file
    damaged = bytearray(original)
    kind = data.draw(st.sampled_from(["overwrite", "truncate", "insert", "delete"]))
    at = data.draw(st.integers(0, len(original) - 1))
    width = data.draw(st.integers(1, 200))
    junk = data.draw(st.binary(min_size=width, max_size=width))
    if kind == "overwrite":
        damaged[at:at + width] = junk[:len(damaged[at:at + width])]
    elif kind == "truncate":
        damaged = damaged[:at]
    elif kind == "insert":
        damaged[at:at] = junk
    else:
        del damaged[at:at + width]
    assume(bytes(damaged) != original)
    folder = tmp_path_factory.mktemp("tbfz") / "run"
    folder.mkdir()
    (folder / name).write_bytes(bytes(damaged))
    try:
        table = ingest(folder, n_params=1e8, tokens_per_step=1000)
    except InputError as exc:
        one_line_error(exc)
        return
    steps, loss = table.frame["step"].to_numpy(), table.loss
    np.testing.assert_array_equal(loss, (3.0 + 1.0 / steps).astype(np.float32))  # only values that were written
    records, problems, tail_lost = read_records(folder / name)
    assert bool(table.frame["truncated"].any()) == tail_lost
    if tail_lost:  # the end was lost: flagged, and never taken as the final loss
        assert any("not the run's final loss" in w for w in table.warnings)
    elif problems:  # damage inside the file, reported; the end survived
        assert steps.max() == 50 and any("corrupt" in w for w in table.warnings)
    else:
        # Nothing reported: the damage removed or added whole records and left a well-formed file (TFRecords have
        # no sequence numbers or end marker, so that alone is undetectable by any reader).
        assert len(records) == len(steps) + 1 and not any("corrupt" in w or "cut" in w for w in table.warnings)
