"""Damaged and real-world log layouts: TensorBoard files corrupted byte-wise or cut (written by torch's real
SummaryWriter), the Hugging Face Trainer's TensorBoard folder, W&B chart and runs-table exports cut mid-number,
and odd trainer_state.json values. Nothing lost silently: every problem is reported with where it happened,
and a cut value is never taken as a run's final loss."""

import json

import numpy as np
import pandas as pd
import pytest

from isoflop.errors import CorruptLogWarning, InputError
from isoflop.ingest import detect_format, ingest
from isoflop.ingest.tensorboard import read_records
from isoflop.runs import RunTable

TPS = 1000
pytestmark = pytest.mark.filterwarnings("ignore::isoflop.errors.CorruptLogWarning")  # asserted where it matters


def curve(steps):
    return 3.5 + 4.0 / np.sqrt(np.asarray(steps, float))


def write_points(folder, points, tag="train/loss"):
    """Scalars {step: loss} written by torch's SummaryWriter into ``folder``; the event file's path."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(folder))
    for step, loss in points.items():
        writer.add_scalar(tag, float(loss), step)
    writer.close()
    return next(folder.glob("*tfevents*"))


def write_run(folder, steps=range(1, 51), tag="train/loss"):
    return write_points(folder, {step: curve(step) for step in steps}, tag)


def final_loss(table, run):
    finals = table.finals()
    return dict(zip(finals.run_ids, finals.loss)).get(run)


def test_intact_file_reads_every_record(tb):
    path = write_run(tb / "run")
    records, problems, lost = read_records(path)
    assert len(records) == 51 and problems == [] and not lost  # file_version event + 50 scalars
    table = ingest(tb / "run", n_params=1e8, tokens_per_step=TPS)
    np.testing.assert_array_equal(table.frame["step"], np.arange(1, 51))
    assert not table.frame["truncated"].any()
    assert final_loss(table, "run") == np.float32(curve(50))


def test_200_corrupt_bytes_mid_file_are_skipped_and_reported(tb):
    path = write_run(tb / "run")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 200] = np.random.default_rng(0).integers(0, 256, 200, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    with pytest.warns(CorruptLogWarning, match=r"1 damaged part\(s\) of the logs \(.*corrupt bytes.*everything whole"):
        table = ingest(tb / "run", n_params=1e8, tokens_per_step=TPS)
    steps = table.frame["step"].to_numpy()
    # The records wholly outside the damaged bytes survive, on both sides of it (TensorBoard's loader kept
    # only those before it and took the step-25 loss as final).
    assert 40 <= len(steps) < 50 and steps[0] == 1 and steps[-1] == 50
    np.testing.assert_array_equal(table.frame["loss"], curve(steps).astype(np.float32))
    (warning,) = [w for w in table.warnings if "corrupt bytes" in w]
    assert str(path) in warning and "records before and after them kept" in warning
    assert final_loss(table, "run") == np.float32(curve(50))  # the true final loss, not a mid-run one
    with pytest.raises(InputError, match=r"corrupt bytes .*on_corrupt='error'"):
        ingest(tb / "run", n_params=1e8, tokens_per_step=TPS, on_corrupt="error")


@pytest.mark.parametrize("cut", [7, 30])  # bytes removed from the end: inside the last record
def test_truncated_file_marks_run_and_keeps_it_out_of_finals(tb, cut):
    write_run(tb / "whole")
    path = write_run(tb / "cut")
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:size - cut])
    with pytest.warns(CorruptLogWarning, match=r"1 run\(s\) that lost their end are left out of final-loss fits \(cut\)"):
        table = ingest(tb, n_params=1e8, tokens_per_step=TPS)
    cut_rows = table.frame[table.frame["run_id"] == "cut"]
    assert cut_rows["truncated"].all() and cut_rows["step"].max() == 49  # the last record was the one cut
    warning = next(w for w in table.warnings if "file cut inside a record" in w)
    assert f"of {size - cut:,}, after 50 records" in warning
    assert any("is not the run's final loss" in w for w in table.warnings)
    finals = table.finals()
    assert list(finals.run_ids) == ["whole"]  # never the cut run's step-49 loss as its "final" loss
    assert any("left out of final-loss fits: 1 run(s)" in w and "cut" in w for w in finals.warnings)
    with pytest.raises(InputError, match="file cut inside a record"):
        ingest(tb, n_params=1e8, tokens_per_step=TPS, on_corrupt="error")


def test_corruption_to_the_end_truncates(tb):
    path = write_run(tb / "run")
    data = bytearray(path.read_bytes())
    data[-200:] = b"\xff" * 200
    path.write_bytes(bytes(data))
    table = ingest(tb / "run", n_params=1e8, tokens_per_step=TPS)
    assert table.frame["truncated"].all() and table.frame["step"].max() < 50
    assert any("corrupt from byte" in w and "to the end" in w for w in table.warnings)
    with pytest.raises(InputError, match="every run's log lost its end"):
        table.finals()


def test_restarted_job_cut_in_its_first_file_is_not_truncated(tb):
    first = write_run(tb / "run", steps=range(1, 21))
    first.write_bytes(first.read_bytes()[:-5])
    import time

    time.sleep(1.1)  # event file names carry the second they were opened: the restart sorts after
    write_run(tb / "run", steps=range(20, 41))
    table = ingest(tb / "run", n_params=1e8, tokens_per_step=TPS)
    assert not table.frame["truncated"].any() and table.frame["step"].max() == 40
    assert any("file cut inside a record" in w for w in table.warnings)


def test_hugging_face_trainer_tensorboard_layout(tb):
    """As transformers' TensorBoardCallback writes it: runs/<date>_<host>/ with add_text and scalars, and
    add_hparams(..., metric_dict={}) writing a <timestamp>/ subfolder that holds hyperparameters only."""
    from torch.utils.tensorboard import SummaryWriter

    run = tb / "runs" / "Nov25_22-00-00_gpu-node-1"
    writer = SummaryWriter(str(run))
    writer.add_text("args", json.dumps({"learning_rate": 3e-4}))
    writer.add_hparams({"learning_rate": 3e-4, "per_device_train_batch_size": 8}, metric_dict={})
    for step in range(10, 201, 10):
        writer.add_scalar("train/loss", float(curve(step)), step)
        writer.add_scalar("train/learning_rate", 3e-4, step)
        writer.add_scalar("train/epoch", step / 200, step)
        if step % 50 == 0:
            writer.add_scalar("eval/loss", float(curve(step) + 0.1), step)
    writer.close()
    subfolders = [p for p in run.iterdir() if p.is_dir()]
    assert len(subfolders) == 1 and any("tfevents" in p.name for p in subfolders[0].iterdir())
    assert detect_format(tb) == "tensorboard"
    for key in (None, "train/loss"):
        table = ingest(tb, n_params=1.2e8, tokens_per_step=TPS, loss_key=key)
        assert set(table.run_ids) == {"runs/Nov25_22-00-00_gpu-node-1"}
        expected = np.arange(50, 201, 50) if key is None else np.arange(10, 201, 10)
        np.testing.assert_array_equal(table.frame["step"], expected)
        assert any("hyperparameters only" in w for w in table.warnings)
    np.testing.assert_allclose(table.frame["loss"], curve(np.arange(10, 201, 10)), rtol=1e-6)


# ------------------------------------------------------------------------------------------------ W&B

def chart_export(path, runs=("run_a", "run_b")):
    steps = np.arange(100, 1_001, 100)
    frame = pd.DataFrame({"Step": steps})
    for i, run in enumerate(runs):
        values = np.round(curve(steps) + 0.0268 + 0.1 * i, 4)
        frame[f"{run} - train/loss"] = values
        frame[f"{run} - train/loss__MIN"] = values - 0.01
        frame[f"{run} - train/loss__MAX"] = values + 0.01
    frame.to_csv(path, index=False)
    return frame


def test_wandb_chart_cut_mid_number(tmp_path):
    path = tmp_path / "chart.csv"
    frame = chart_export(path)
    text = path.read_text()
    last_value = f"{frame['run_b - train/loss__MAX'].iloc[-1]:g}"
    cut_text = text.rstrip("\n")[:-(len(last_value) - 3)]  # '4.0268' → '4.0'
    path.write_text(cut_text)
    table = ingest(path, n_params=1e8, tokens_per_step=TPS)
    for run in ("run_a", "run_b"):
        rows = table.frame[table.frame["run_id"] == run]
        assert rows["step"].max() == 900 and rows["truncated"].all()  # the cut row left out, runs marked
    assert any("ends without a newline" in w and "line 11" in w for w in table.warnings)
    with pytest.raises(InputError, match="every run's log lost its end"):
        table.finals()
    with pytest.raises(InputError, match="ends without a newline.*on_corrupt='error'"):
        ingest(path, n_params=1e8, tokens_per_step=TPS, on_corrupt="error")
    path.write_text(text)  # whole again: final losses are the written ones
    finals = ingest(path, n_params=1e8, tokens_per_step=TPS).finals()
    np.testing.assert_allclose(sorted(finals.loss), [frame["run_a - train/loss"].iloc[-1],
                                                     frame["run_b - train/loss"].iloc[-1]])


def runs_table(n=63):
    """A W&B project runs table as "Export CSV" writes it: run columns, then config, then summary metrics."""
    rng = np.random.default_rng(0)
    sizes = np.round(10 ** rng.uniform(7, 9, n))
    steps = rng.integers(1_000, 5_000, n)
    return pd.DataFrame({
        "Name": [f"gpt-{i:02d}" for i in range(n)], "State": ["finished"] * (n - 1) + ["crashed"],
        "Notes": ["-"] * n, "User": ["me"] * n, "Tags": ["sweep"] * n,
        "Created": pd.date_range("2025-01-01", periods=n, freq="h").strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "Runtime": rng.integers(100, 10_000, n), "Sweep": ["abc123"] * n, "learning_rate": 3e-4,
        "n_params": sizes, "_step": steps * 2, "train/global_step": steps,
        "train/loss": np.round(2 + 50 / sizes**0.3 + 0.1 * rng.random(n), 4),
        "eval/loss": np.round(2.1 + 50 / sizes**0.3 + 0.1 * rng.random(n), 4)})


def test_wandb_runs_table_one_point_per_run(tmp_path):
    frame = runs_table()
    path = tmp_path / "wandb_export.csv"
    frame.to_csv(path, index=False)
    assert detect_format(path) == "wandb"
    table = ingest(path, tokens_per_step=TPS)
    assert len(table) == 63 and table.frame["run_id"].nunique() == 63  # not one point
    got = table.frame.set_index("run_id")
    np.testing.assert_array_equal(got.loc[frame["Name"], "loss"], frame["eval/loss"])  # eval before train
    np.testing.assert_array_equal(got.loc[frame["Name"], "step"], frame["train/global_step"])  # not _step
    np.testing.assert_array_equal(got.loc[frame["Name"], "n_params"], frame["n_params"])
    np.testing.assert_array_equal(got.loc[frame["Name"], "n_tokens"], frame["train/global_step"] * float(TPS))
    finals = table.finals()
    assert len(finals) == 62 and "gpt-62" not in set(finals.run_ids)  # the crashed run's loss is not final
    assert any("'gpt-62' is crashed" in w for w in table.warnings)


def test_wandb_runs_table_cut_row_is_left_out(tmp_path):
    path = tmp_path / "wandb_export.csv"
    runs_table(5).to_csv(path, index=False)
    path.write_text(path.read_text().rstrip("\n")[:-3])
    table = ingest(path, tokens_per_step=TPS)
    assert sorted(table.run_ids) == [f"gpt-0{i}" for i in range(4)]
    assert any("ends without a newline" in w for w in table.warnings)


def test_short_csv_row_is_reported(tmp_path):
    path = tmp_path / "curves.csv"
    path.write_text("run_id,step,loss\na,1,4.0\na,2\na,3,3.5\n")
    table = ingest(path, n_params=1e6, tokens_per_step=10)
    np.testing.assert_array_equal(table.frame["step"], [1, 3])
    assert any("row 2 has 2 fields, the header 3" in w for w in table.warnings)
    with pytest.raises(InputError, match="row 2 has 2 fields"):
        ingest(path, n_params=1e6, tokens_per_step=10, on_corrupt="error")


def test_a_logged_integer_past_a_floats_range_is_a_diverged_loss_not_a_traceback(tmp_path):
    """A loss of 1 and 400 zeros raised pandas' OverflowError through `isoflop ingest` (exit 1). It is inf
    (float('1e400')), a non-finite loss: the run is said to diverge there, as for a logged inf."""
    path = tmp_path / "curves.csv"
    path.write_text("run_id,step,loss\na,1,4\na,2,3\na,3,1" + "0" * 400 + "\n")  # whole numbers: Python ints
    table = ingest(path, n_params=1e6, tokens_per_step=10)
    np.testing.assert_array_equal(table.frame["step"], [1, 2])
    assert any("diverged" in w for w in table.warnings)


def test_jsonl_cut_last_line(tmp_path):
    path = tmp_path / "hist.jsonl"
    rows = [{"_step": i, "train/global_step": 10 * i, "loss": 3.0 - 0.01 * i} for i in range(1, 6)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows).rstrip("\n")[:-4])
    table = ingest(path, n_params=1e6, tokens_per_step=10)
    assert table.frame["step"].max() == 40 and table.frame["truncated"].all()


# ----------------------------------------------------------------------------------------- trainer_state

def state(**overrides):
    log = [{"step": s, "loss": 3.0 - 0.001 * s, "num_input_tokens_seen": s * 4096} for s in range(10, 101, 10)]
    base = {"global_step": 100, "max_steps": 100, "log_history": log}
    base.update(overrides)
    return base


def write_state(tmp_path, content):
    (tmp_path / "run").mkdir(exist_ok=True)
    path = tmp_path / "run" / "trainer_state.json"
    path.write_text(json.dumps(content))
    return path


def test_trainer_state_null_tokens_fall_back_to_tokens_per_step(tmp_path):
    content = state()
    for entry in content["log_history"]:
        entry["num_input_tokens_seen"] = None
    path = write_state(tmp_path, content)
    with pytest.raises(InputError, match="no token count"):
        ingest(path, n_params=1e8)
    table = ingest(path, n_params=1e8, tokens_per_step=TPS)
    np.testing.assert_array_equal(table.frame["n_tokens"], np.arange(10, 101, 10) * float(TPS))


@pytest.mark.parametrize("content,match", [
    (state(max_steps=[100, 200]), r"'max_steps' is \[100, 200\]; expected a number of steps"),
    (state(max_steps="100"), "'max_steps' is '100'"),
    (state(global_step=True), "'global_step' is True"),
    (state(log_history=[{"step": 10, "eval_loss": True}, {"step": 20, "eval_loss": 2.9}]),
     r"log_history entry 1, key 'eval_loss': True is a boolean"),
    (state(log_history=[{"step": 10, "loss": [3.0]}]), r"key 'loss': \[3.0\] is not a number"),
])
def test_trainer_state_odd_values_are_input_errors(tmp_path, content, match):
    path = write_state(tmp_path, content)
    with pytest.raises(InputError, match=match):
        ingest(tmp_path, n_params=1e8, tokens_per_step=TPS)
    if "global_step" not in match:  # read only when choosing among a folder's checkpoints
        with pytest.raises(InputError, match=match):
            ingest(path, n_params=1e8, tokens_per_step=TPS)


def test_on_corrupt_is_validated(tmp_path):
    path = write_state(tmp_path, state())
    with pytest.raises(InputError, match="--on-corrupt: choose one of warn, error"):
        ingest(path, n_params=1e8, on_corrupt="ignore")


def test_forced_wandb_format_reads_a_trimmed_runs_table(tmp_path):
    path = tmp_path / "export.csv"
    runs_table(4)[["Name", "n_params", "train/global_step", "train/loss"]].to_csv(path, index=False)
    assert detect_format(path) == "table"  # too few W&B columns to tell by itself
    table = ingest(path, format="wandb", tokens_per_step=TPS)
    assert len(table) == 4 and table.frame["run_id"].nunique() == 4
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a W&B export"):
        ingest(tmp_path / "other.csv", format="wandb", n_params=1e8)


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_truncated_flag_survives_the_written_table(tb, suffix):
    from isoflop.ingest import write_runs
    from isoflop.runs import RunTable

    write_run(tb / "whole")
    path = write_run(tb / "cut")
    path.write_bytes(path.read_bytes()[:-9])
    table = ingest(tb, n_params=1e8, tokens_per_step=TPS)
    back = RunTable.load(write_runs(table, tb / f"runs.{suffix}"))
    assert list(back.finals().run_ids) == ["whole"]


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_truncated_flag_survives_ingesting_the_written_table_again(tmp_path, suffix):
    """`isoflop ingest runs.csv --out runs2.csv` read the runs table's 'truncated' column as nothing: run b, whose
    log was cut, came out whole, and its last logged loss (3.6) was taken as its final loss."""
    from isoflop.ingest import write_runs

    if suffix == "parquet":
        pytest.importorskip("pyarrow")
    log = tmp_path / "log.csv"
    log.write_text("run_id,step,loss\na,1,4.0\na,2,3.5\nb,1,4.1\nb,2,3.6\nb,3,3.")  # b's last row cut
    first = write_runs(ingest(log, n_params=1e8, tokens_per_step=TPS), tmp_path / f"runs.{suffix}")
    again = ingest(first)  # n_params and n_tokens from the table's own columns
    assert again.frame.groupby("run_id")["truncated"].all().to_dict() == {"a": False, "b": True}
    assert list(again.finals().run_ids) == ["a"]
    assert any("1 run(s) marked truncated in its 'truncated' column (b)" in w for w in again.warnings)
    assert not any("cut row" in w for w in again.warnings)  # the table itself is whole
    back = RunTable.load(write_runs(again, tmp_path / f"runs2.{suffix}"))  # and read_runs agrees
    assert list(back.finals().run_ids) == ["a"]



@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_loss_key_survives_ingesting_the_written_table_again(tmp_path, suffix):
    """A runs table ingested again named every run's loss key 'loss' (the table's column), losing the
    'eval/loss' and 'train/loss' the runs had logged; the 'loss_key' column it wrote is read back."""
    from isoflop.ingest import write_runs

    log = tmp_path / "log.csv"
    log.write_text("run_id,step,eval/loss,train/loss\na,1,4.0,\na,2,3.5,\nb,1,,4.1\nb,2,,3.6\n")
    first = ingest(log, n_params=1e8, tokens_per_step=TPS)
    keys = first.frame.groupby("run_id")["loss_key"].first().to_dict()
    assert keys == {"a": "eval/loss", "b": "train/loss"}
    again = ingest(write_runs(first, tmp_path / f"runs.{suffix}"))
    assert again.frame.groupby("run_id")["loss_key"].first().to_dict() == keys
    assert again.frame["loss"].tolist() == first.frame["loss"].tolist()

def test_a_truncated_column_that_is_not_true_or_false_is_named(tmp_path):
    """As read_runs: True/False (any case) or empty; anything else names its row and column."""
    path = tmp_path / "runs.csv"
    path.write_text("run_id,step,loss,n_params,n_tokens,truncated\na,1,4.0,1e8,1e6,false\na,2,3.5,1e8,2e6,\n"
                    "b,1,4.1,1e8,1e6,FALSE\nb,2,3.6,1e8,2e6,TRUE\n")
    assert ingest(path).frame.groupby("run_id")["truncated"].all().to_dict() == {"a": False, "b": True}
    path.write_text("run_id,step,loss,n_params,n_tokens,truncated\na,1,4.0,1e8,1e6,False\na,2,3.5,1e8,2e6,3\n")
    with pytest.raises(InputError, match=r"runs.csv: row 2, column 'truncated': '3' is not True or False"):
        ingest(path)


def test_quoted_csv_with_a_short_row(tmp_path):
    path = tmp_path / "curves.csv"
    path.write_text('run_id,step,loss\n"a, the first",1,4.0\n"a, the first",2\n"a, the first",3,3.5\n')
    table = ingest(path, n_params=1e6, tokens_per_step=10)
    assert set(table.run_ids) == {"a, the first"}
    np.testing.assert_array_equal(table.frame["step"], [1, 3])
    assert any("row 2 has 2 fields, the header 3" in w for w in table.warnings)


def test_resumed_job_replaces_orphaned_points(tb):
    """A job that logged steps 1-30, crashed, and resumed from its step-20 checkpoint in a new file: the
    points 21-30 of the first attempt are orphaned (TensorBoard's loader purges them too)."""
    import time

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tb / "run"))
    for step in range(1, 31):
        writer.add_scalar("train/loss", 9.0, step)  # a value the resumed attempt never logs
    writer.close()
    time.sleep(1.1)
    write_run(tb / "run", steps=range(20, 41))
    table = ingest(tb / "run", n_params=1e8, tokens_per_step=TPS)
    np.testing.assert_array_equal(table.frame["step"], np.arange(1, 41))
    np.testing.assert_array_equal(table.frame["loss"].iloc[19:], curve(np.arange(20, 41)).astype(np.float32))
    assert any("restarts at step 20" in w and "11 point(s)" in w for w in table.warnings)
    assert not table.frame["truncated"].any()
    ingest(tb / "run", n_params=1e8, tokens_per_step=TPS, on_corrupt="error")  # a restart is not damage


def test_summarize_runs_is_strict_json(tb):
    from isoflop.ingest import summarize_runs

    write_run(tb / "whole")
    path = write_run(tb / "cut")
    path.write_bytes(path.read_bytes()[:-9])
    summary = summarize_runs(ingest(tb, n_params=1e8, tokens_per_step=TPS))
    json.dumps(summary, allow_nan=False)
    by_run = {r["run_id"]: r for r in summary}
    assert by_run["cut"]["truncated"] and not by_run["whole"]["truncated"]
    assert by_run["whole"]["points"] == 50 and by_run["cut"]["points"] == 49
    assert by_run["whole"]["last_loss"] == np.float32(curve(50)) and by_run["whole"]["planned_tokens"] is None
    assert by_run["whole"]["n_tokens"] == 50 * TPS and by_run["whole"]["loss_key"] == "train/loss"


def test_no_corrupt_log_warning_for_whole_logs(tb, recwarn):
    """Skipped hyperparameter folders and resumed jobs are notes, not damage: no CorruptLogWarning."""
    write_run(tb / "run")
    ingest(tb / "run", n_params=1e8, tokens_per_step=TPS)
    ingest(EXAMPLES_TB, n_params=124e6, tokens_per_step=524_288)
    assert not [w for w in recwarn if issubclass(w.category, CorruptLogWarning)]


EXAMPLES_TB = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / "tb_logs"


def test_repeated_csv_header_is_an_input_error(tmp_path):
    """W&B lets two runs share a name: its chart export then has two 'run_a - train/loss' columns. pandas renamed
    the second 'run_a - train/loss.1', read as a metric of run_a, so the second run's curve vanished in
    silence (one run ingested, last loss 3.5, not two)."""
    path = tmp_path / "chart.csv"
    path.write_text("Step,run_a - train/loss,run_a - train/loss\n100,4.0,9.0\n200,3.5,8.0\n")
    with pytest.raises(InputError, match=r"chart\.csv: two columns named 'run_a - train/loss' \(columns 2 and 3\)"):
        ingest(path, n_params=1e6, tokens_per_step=10)
    plain = tmp_path / "curves.csv"  # the same in a plain curve table, quoted or not
    plain.write_text('step,loss,"loss"\n1,4.0,9.0\n')
    with pytest.raises(InputError, match=r"curves\.csv: two columns named 'loss' \(columns 2 and 3\)"):
        ingest(plain, n_params=1e6, tokens_per_step=10)


@pytest.mark.parametrize("suffix, rows, tail", [
    (".jsonl", ['{"step": 100, "loss": 4.0}', '{"step": 200, "loss": 3.5}', '{"step": 300, "loss": 3.25}'],
     '\x00\x00\x00\x00'),  # a crash after the file grew but before its data reached the disk: NUL bytes
    (".jsonl", ['{"step": 100, "loss": 4.0}', '{"step": 200, "loss": 3.5}', '{"step": 300, "loss": 3.25}'],
     '{"step": 400, "loss": 3.'),  # cut mid-number, then a newline (a restarted writer appended)
    (".csv", ["step,loss", "100,4.0", "200,3.5", "300,3.25"], "\x00\x00\x00\x00"),
    (".csv", ["step,loss", "100,4.0", "200,3.5", "300,3.25"], "400"),
])
def test_damaged_last_line_truncates_its_run(tmp_path, suffix, rows, tail):
    """A last line that does not parse is the log's lost end, as a last line without its newline is: the run's
    last whole loss (3.25 at step 300) is not its final loss. It was left out of the curve but the run was not
    marked truncated, so finals() took 3.25 as the final loss."""
    path = tmp_path / f"log{suffix}"
    path.write_text("\n".join(rows + [tail]) + "\n")
    table = ingest(path, n_params=1e6, tokens_per_step=10)
    np.testing.assert_array_equal(table.frame["step"], [100, 200, 300])
    np.testing.assert_array_equal(table.frame["loss"], [4.0, 3.5, 3.25])
    assert table.frame["truncated"].all()
    with pytest.raises(InputError, match=r"every run's log lost its end \(log\)"):
        table.finals()
    whole = tmp_path / f"whole{suffix}"  # a damaged line with whole lines after it loses no end
    whole.write_text("\n".join(rows[:-1] + [tail, rows[-1]]) + "\n")
    table = ingest(whole, n_params=1e6, tokens_per_step=10)
    assert not table.frame["truncated"].any() and final_loss(table, "whole") == 3.25


def test_multi_run_csv_damaged_last_line_truncates_the_last_run(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("run_id,step,loss\na,100,4.0\nb,100,3.5\na,200,3.4\nb,200,3.3\nb,3\n")
    table = ingest(path, n_params=1e6, tokens_per_step=10)
    cut = table.frame.groupby("run_id")["truncated"].all().to_dict()
    assert cut == {"a": False, "b": True}
    assert final_loss(table, "a") == 3.4


def test_add_scalars_layout_names_the_folders_that_hold_the_curves(tb):
    """torch's add_scalars('loss', {'train': …, 'val': …}) writes the run's own folder (here only 'lr') plus one
    folder per curve inside it (loss_train, loss_val, each with the tag 'loss'). The error said the run has only
    'lr' and to "name it with --loss-key", which cannot reach a sub-folder's tag."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tb / "run"))
    for step in (100, 200, 300):
        writer.add_scalars("loss", {"train": curve(step), "val": curve(step) + 0.1}, step)
        writer.add_scalar("lr", 1e-3, step)
    writer.close()
    for source in (tb, tb / "run"):
        with pytest.raises(InputError, match=r"run: no loss scalar tag \(it has 'lr'\); the folders inside it "
                                             r"\(loss_train, loss_val\) hold curves of their own.*run/loss_val$"):
            ingest(source, n_params=1e8, tokens_per_step=TPS)
    table = ingest(tb / "run" / "loss_val", n_params=1e8, tokens_per_step=TPS)  # the fix the message gives
    np.testing.assert_allclose(table.frame["loss"], curve([100, 200, 300]) + 0.1, rtol=1e-6)
    assert table.frame["run_id"].unique().tolist() == ["loss_val"]


def test_an_empty_event_file_is_data_loss(tb):
    """SummaryWriter flushes every 2 minutes: a job killed before its first flush leaves a 0-byte event file. Its
    run was skipped as "no scalars (hyperparameters only?)", a note, even with on_corrupt='error'; after a
    readable file (a resumed job that died) it left the run whole, its last loss taken as final."""
    write_run(tb / "good")
    (tb / "lost").mkdir()
    (tb / "lost" / "events.out.tfevents.1700000000.host.1.0").write_bytes(b"")
    with pytest.warns(CorruptLogWarning, match=r"1 run\(s\) skipped because nothing of their logs could be read "
                                               r"\(lost\)"):
        table = ingest(tb, n_params=1e8, tokens_per_step=TPS)
    assert table.frame["run_id"].unique().tolist() == ["good"] and final_loss(table, "good") == pytest.approx(
        curve(50), rel=1e-6)
    with pytest.raises(InputError, match=r"events\.out\.tfevents\.1700000000\.host\.1\.0: empty \(0 bytes\)"):
        ingest(tb, n_params=1e8, tokens_per_step=TPS, on_corrupt="error")
    resumed = tb / "good" / "events.out.tfevents.9999999999.host.2.0"  # a restart that died before its flush
    resumed.write_bytes(b"")
    table = ingest(tb / "good", n_params=1e8, tokens_per_step=TPS)
    assert table.frame["truncated"].all() and table.frame["step"].max() == 50
