"""Defects an audit of `isoflop ingest` found, each with the log that showed it: run ids read as numbers, Latin-1
tables, restarts in tables, --meta against per-run options, diverged runs, folders mixing formats, the HF
Trainer's one folder per launch, W&B's _step, wholly corrupt event files, cut trainer_state.json checkpoints,
the loss key per run, and messages that named the wrong thing. Every expected number is what the test wrote."""

import json
import os

import numpy as np
import pytest
from typer.testing import CliRunner

from isoflop.cli import app
from isoflop.errors import CorruptLogWarning, InputError
from isoflop.ingest import detect_format, ingest, summarize_runs
from tests.test_ingest_faults import write_points as write_tb

runner = CliRunner()
TPS = 1000
pytestmark = pytest.mark.filterwarnings("ignore::isoflop.errors.CorruptLogWarning")  # asserted where it matters


def last_losses(table) -> dict:
    """run_id → the loss at its last step, from the table's frame."""
    frame = table.frame.sort_values("step", kind="stable")
    return frame.groupby("run_id")["loss"].last().to_dict()




# ---------------------------------------------------------------------------------- 1. run ids are text

def test_run_ids_are_read_as_written(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("run_id,step,loss\n1,100,3.0\n1,200,2.5\n01,100,4.0\n01,200,3.5\n007,100,5.0\n")
    table = ingest(path, n_params=1e8, tokens_per_step=TPS)
    assert last_losses(table) == {"1": 2.5, "01": 3.5, "007": 5.0}
    path = tmp_path / "ids.jsonl"  # a JSON number is its text as written: 1 and 1.0 are two runs, "01" a third
    path.write_text('{"run_id": 1, "step": 100, "loss": 3.0}\n{"run_id": 1.0, "step": 100, "loss": 4.0}\n'
                    '{"run_id": "01", "step": 100, "loss": 5.0}\n')
    assert last_losses(ingest(path, n_params=1e8, tokens_per_step=TPS)) == {"1": 3.0, "1.0": 4.0, "01": 5.0}


def test_meta_run_ids_are_read_as_written(tmp_path):
    path = tmp_path / "curves.csv"
    path.write_text("run_id,step,loss\n1,100,3.0\n01,100,4.0\n2,100,5.0\n")
    meta = tmp_path / "meta.csv"
    meta.write_text("run_id,n_params,planned_steps\n1,1e8,NA\n01,3e8,\n2,2e8,400\n")  # NA, empty: not given
    table = ingest(path, meta=meta, tokens_per_step=TPS)
    assert table.frame.groupby("run_id")["n_params"].first().to_dict() == {"1": 1e8, "01": 3e8, "2": 2e8}
    assert table.frame.set_index("run_id")["planned_tokens"].fillna(0).to_dict() == {"1": 0, "01": 0, "2": 400 * TPS}


# ------------------------------------------------------------------------------------ 2. not UTF-8

def test_latin1_table_is_refused_not_merged(tmp_path):
    data = "run_id,step,loss\ncafé,100,3.0\ncafè,100,4.0\n".encode("latin-1")
    path = tmp_path / "latin.csv"
    path.write_bytes(data)
    offset = data.index(b"\xe9")  # é: the first byte that is not UTF-8, on line 2
    with pytest.raises(InputError, match=rf"latin\.csv: byte {offset} \(line 2\) is not UTF-8.*save the file as UTF-8"):
        ingest(path, n_params=1e8, tokens_per_step=TPS)
    result = runner.invoke(app, ["ingest", str(path), "--out", str(tmp_path / "o.csv"), "--params", "1e8",
                                 "--tokens-per-step", "1000"])
    assert result.exit_code == 2 and "not UTF-8" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_table_is_named_as_such(tmp_path, encoding):
    """Excel's 'Unicode Text' and PowerShell write UTF-16: the message guessed "Latin-1 or Windows-1252?" and
    suggested iconv -f cp1252, which turns the file into NUL-riddled text."""
    path = tmp_path / "curves.csv"
    path.write_bytes("\ufeffstep,loss\n100,3.0\n".encode(encoding))
    with pytest.raises(InputError, match=r"curves\.csv: UTF-16 text .*iconv -f utf-16 -t utf-8"):
        ingest(path, n_params=1e8, tokens_per_step=TPS)


# ----------------------------------------------------------------------------------- 3. restarts in tables

def test_restart_in_a_table_drops_the_abandoned_attempt(tmp_path):
    first = {s: 5.0 - s / 1000 for s in range(100, 1001, 100)}  # logged to step 1000, then abandoned
    second = {s: 3.0 - s / 10_000 for s in range(600, 801, 100)}  # resumed from the step-500 checkpoint
    path = tmp_path / "restart.csv"
    path.write_text("step,loss\n" + "".join(f"{s},{v}\n" for part in (first, second) for s, v in part.items()))
    table = ingest(path, n_params=1e8, tokens_per_step=TPS)
    expected = {s: v for s, v in first.items() if s < 600} | second
    assert table.frame["step"].tolist() == list(expected)
    assert table.frame["loss"].tolist() == list(expected.values())  # the final loss is the resumed run's at 800
    assert any("restarts at step 600" in w and "dropped the 5 point(s)" in w for w in table.warnings)


# ------------------------------------------------------------------------------ 4. --meta against options

def test_meta_and_a_per_run_option_that_disagree(tmp_path):
    path = tmp_path / "curves.csv"
    path.write_text("run_id,step,loss\na,100,3.0\nb,100,4.0\n")
    meta = tmp_path / "meta.csv"
    meta.write_text("run_id,n_params,tokens_per_step\na,1e8,1000\n")
    with pytest.raises(InputError, match=r"run 'a' has two values of n_params: 1e\+08 in .*meta\.csv and 2e\+08 in "
                                         r"--params"):
        ingest(path, meta=meta, n_params={"a": 2e8, "b": 3e8}, tokens_per_step=TPS)
    with pytest.raises(InputError, match=r"run 'a' has two values of tokens per step: 1000 in .*meta\.csv and 2000 "
                                         r"in --tokens-per-step"):
        ingest(path, meta=meta, n_params=1e8, tokens_per_step={"a": 2000, "b": 2000})
    # Agreeing values are fine, and a single number for every run is a default the table overrides.
    table = ingest(path, meta=meta, n_params={"a": 1e8, "b": 3e8}, tokens_per_step=2000)
    assert table.frame.set_index("run_id")["n_tokens"].to_dict() == {"a": 100 * 1000, "b": 100 * 2000}


# ----------------------------------------------------------------------------------- 5. diverged runs

def test_a_diverged_run_is_truncated_and_named(tmp_path):
    rows = [("a", s, 3.0 - s / 1000) for s in range(100, 601, 100)] + [("a", 700, 9.0)]  # a spike, then NaN
    rows += [("a", s, "nan") for s in (800, 900, 1000)]
    rows += [("b", s, 3.5 - s / 1000) for s in range(100, 1001, 100)]
    rows += [("c", s, "nan" if 200 <= s <= 600 else 3.2 - s / 1000) for s in range(100, 1001, 100)]
    path = tmp_path / "runs.csv"
    path.write_text("run_id,step,loss\n" + "".join(f"{r},{s},{v}\n" for r, s, v in rows))
    table = ingest(path, n_params=1e8, tokens_per_step=TPS)
    assert table.frame.groupby("run_id")["truncated"].all().to_dict() == {"a": True, "b": False, "c": False}
    assert any("run 'a' diverged" in w and "non-finite from step 800 to the end (3 point(s)" in w
               for w in table.warnings)
    # Isolated non-finite points are dropped, the warning naming the first few and how many more.
    row = rows.index(("c", 200, "nan")) + 1  # the file's data row of run c's first NaN
    assert f"{path}: dropped 5 non-finite 'loss' value(s) (row {row} at step 200, row {row + 1} at step 300, " \
           f"row {row + 2} at step 400 and 2 more)" in table.warnings
    assert table.finals().run_ids.tolist() == ["b", "c"]  # the spike at 700 is not run a's final loss


# ------------------------------------------------------------------------------- 6. folders mixing formats

def test_a_folder_mixing_formats_is_refused(tb):
    write_tb(tb / "logs" / "tb_run", {s: 3.0 for s in (1, 2)})
    (tb / "logs" / "hf_run").mkdir()
    (tb / "logs" / "hf_run" / "trainer_state.json").write_text(json.dumps(
        {"global_step": 2, "log_history": [{"step": 2, "loss": 3.0}]}))
    (tb / "logs" / "curves.csv").write_text("run_id,step,loss\nx,1,3.0\n")
    pattern = r"logs: holds logs of 3 formats \(tensorboard: .*tb_run, huggingface: .*trainer_state\.json, " \
              r"table: .*curves\.csv\); read one with --format"
    with pytest.raises(InputError, match=pattern):
        detect_format(tb / "logs")
    with pytest.raises(InputError, match=pattern):
        ingest(tb / "logs", n_params=1e8, tokens_per_step=TPS)
    assert set(ingest(tb / "logs", format="tensorboard", n_params=1e8, tokens_per_step=TPS).run_ids) == {"tb_run"}


# ------------------------------------------------------------------- 7. the HF Trainer's folder per launch

def test_hf_trainer_folders_of_a_resumed_run_are_one_run(tb, monkeypatch):
    """A run launched, checkpointed at step 200, killed at 300, and resumed: the Trainer opened a second
    runs/<date>_<host>/ folder. Its name sorts first (Dec < Nov); the launch time in the event files' names
    orders them."""
    out = tb / "out"
    first = {s: 4.0 - s / 1000 for s in range(10, 301, 10)}
    second = {s: 2.0 - s / 10_000 for s in range(200, 401, 10)}
    for folder, points, launched in (("Nov30_23-00-00_node", first, 1_764_543_600),
                                     ("Dec01_01-00-00_node", second, 1_764_550_800)):
        path = write_tb(out / "runs" / folder, points)
        path.rename(path.with_name(f"events.out.tfevents.{launched}.node.1.0"))
    (out / "checkpoint-200").mkdir()
    (out / "checkpoint-200" / "trainer_state.json").write_text(json.dumps(
        {"global_step": 200, "log_history": [{"step": s, "loss": v} for s, v in first.items() if s <= 200]}))
    assert detect_format(out) == "tensorboard"  # the checkpoint's state is the same run, not another format
    table = ingest(out, n_params=1e8, tokens_per_step=TPS)
    expected = {s: v for s, v in first.items() if s < 200} | second
    assert set(table.run_ids) == {"runs/Nov30_23-00-00_node"}  # named after its first launch
    np.testing.assert_array_equal(table.frame["step"], list(expected))
    np.testing.assert_allclose(table.frame["loss"], list(expected.values()), rtol=1e-6)  # float32 in the file
    assert not table.frame["truncated"].any()
    assert any("restarts at step 200" in w and "11 point(s)" in w for w in table.warnings)
    monkeypatch.chdir(out)  # the same from a relative path, and from the runs/ folder itself
    assert detect_format(".") == "tensorboard"
    assert set(ingest("runs", n_params=1e8, tokens_per_step=TPS).run_ids) == {"Nov30_23-00-00_node"}
    # torch's SummaryWriter() uses the same runs/ layout for separate experiments: not joined there.
    for folder in ("Nov30_23-00-00_node", "Dec01_01-00-00_node"):
        write_tb(tb / "plain" / "runs" / folder, {1: 3.0, 2: 2.9})
    assert len(set(ingest(tb / "plain", n_params=1e8, tokens_per_step=TPS).run_ids)) == 2


# ------------------------------------------------------------------------------------ 8. W&B's _step

def test_wandb_step_counter_is_named_in_a_warning(tmp_path):
    # Two log calls per optimiser step (loss, then learning rate): _step runs twice as fast as the step.
    rows = [{"_step": 2 * i, "train/loss": 3.0 - i / 100} if k == 0 else {"_step": 2 * i + 1, "lr": 1e-3}
            for i in range(1, 6) for k in (0, 1)]
    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    table = ingest(path, n_params=1e8, tokens_per_step=TPS)
    assert any("'_step', which counts log calls, not optimiser steps" in w and "--step-key" in w
               for w in table.warnings)


# ---------------------------------------------------------------------------- 9. a wholly corrupt event file

def test_wholly_corrupt_event_file_is_reported_as_data_loss(tb):
    write_tb(tb / "good", {s: 3.0 for s in range(1, 11)})
    bad = write_tb(tb / "bad", {s: 3.0 for s in range(1, 11)})
    size = bad.stat().st_size
    bad.write_bytes(np.random.default_rng(0).integers(1, 256, size, dtype=np.uint8).tobytes())
    with pytest.warns(CorruptLogWarning, match=r"run\(s\) skipped because nothing of their logs could be read "
                                               r"\(bad\)"):
        table = ingest(tb, n_params=1e8, tokens_per_step=TPS)
    assert set(table.run_ids) == {"good"}
    assert any(f"run 'bad' skipped, no scalar could be read: {bad}: corrupt from byte 0 to the end ({size:,} bytes"
               in w for w in table.warnings)
    assert not any("hyperparameters only" in w for w in table.warnings)
    result = runner.invoke(app, ["ingest", str(tb), "--out", str(tb / "o.csv"), "--params", "1e8",
                                 "--tokens-per-step", "1000", "--json"])
    assert result.exit_code == 0, result.output
    assert any("(bad)" in line for line in json.loads(result.stdout)["data_loss"])


# ------------------------------------------------------------------------ 10. a cut trainer_state.json

def test_cut_checkpoint_state_is_skipped_under_warn(tmp_path):
    out = tmp_path / "gpt"
    log = [{"step": s, "loss": 4.0 - s / 100} for s in (10, 20, 30, 40)]
    for step in (20, 40):
        (out / f"checkpoint-{step}").mkdir(parents=True)
        text = json.dumps({"global_step": step, "max_steps": 40, "log_history": log[:step // 10]})
        (out / f"checkpoint-{step}" / "trainer_state.json").write_text(text if step == 20 else text[:len(text) // 2])
    cut = out / "checkpoint-40" / "trainer_state.json"
    with pytest.warns(CorruptLogWarning, match="checkpoint-40"):
        table = ingest(out, n_params=1e8, tokens_per_step=TPS)
    assert table.frame["step"].tolist() == [10, 20] and table.frame["loss"].tolist() == [3.9, 3.8]
    assert table.frame["truncated"].all()  # checkpoint-40 held a later part of the run
    assert any(str(cut) in w and "cannot read as JSON" in w for w in table.warnings)
    with pytest.raises(InputError, match=r"checkpoint-40.trainer_state\.json: cannot read as JSON .*delete it .*"
                                         r"--on-corrupt warn"):
        ingest(out, n_params=1e8, tokens_per_step=TPS, on_corrupt="error")


# ------------------------------------------------------------------------------- 11. the loss key per run

def test_loss_key_is_chosen_per_run_in_a_table(tmp_path):
    path = tmp_path / "curves.csv"
    path.write_text("run_id,step,loss,eval_loss\na,100,3.0,\na,200,2.8,2.9\nb,100,4.0,\nb,200,3.7,\n")
    table = ingest(path, n_params=1e8, tokens_per_step=TPS)
    assert last_losses(table) == {"a": 2.9, "b": 3.7}
    assert {r["run_id"]: r["loss_key"] for r in summarize_runs(table)} == {"a": "eval_loss", "b": "loss"}
    assert any("different loss keys" in w for w in table.warnings)
    table = ingest(path, n_params=1e8, tokens_per_step=TPS, loss_key="loss")  # named: the same key for all
    assert last_losses(table) == {"a": 2.8, "b": 3.7}


def test_loss_key_is_chosen_per_run_in_a_wandb_runs_table(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("Name,State,Created,Runtime,train/global_step,eval/loss,train/loss\n"
                    "x,finished,2025-01-01,100,500,2.9,2.8\ny,finished,2025-01-01,100,600,,3.1\n")
    table = ingest(path, n_params=1e8, tokens_per_step=TPS)
    assert last_losses(table) == {"x": 2.9, "y": 3.1}
    assert {r["run_id"]: r["loss_key"] for r in summarize_runs(table)} == {"x": "eval/loss", "y": "train/loss"}


# ---------------------------------------------------------------------------------------- messages

def test_jsonl_without_one_json_line_names_line_1(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text("step=1 loss=3.0\nstep=2 loss=2.9\n")
    with pytest.raises(InputError, match=r"log\.jsonl: line 1 is not a JSON object \('step=1 loss=3\.0'\)"):
        ingest(path, n_params=1e8, tokens_per_step=TPS)


def test_run_ids_of_relative_paths_are_their_folders_names(tb, monkeypatch):
    event_file = write_tb(tb / "myrun", {1: 3.0, 2: 2.9})
    (tb / "hf").mkdir()
    (tb / "hf" / "trainer_state.json").write_text(json.dumps({"global_step": 2, "log_history": [
        {"step": 2, "loss": 3.0}]}))
    monkeypatch.chdir(tb / "myrun")
    assert set(ingest(".", n_params=1e8, tokens_per_step=TPS).run_ids) == {"myrun"}
    assert set(ingest(event_file.name, n_params=1e8, tokens_per_step=TPS).run_ids) == {"myrun"}
    monkeypatch.chdir(tb / "hf")
    assert set(ingest("trainer_state.json", n_params=1e8, tokens_per_step=TPS).run_ids) == {"hf"}
    assert os.getcwd() == str(tb / "hf")


def test_format_tensorboard_on_a_table_says_so(tmp_path):
    path = tmp_path / "curves.csv"
    path.write_text("step,loss\n1,3.0\n")
    pytest.importorskip("tensorboard")
    with pytest.raises(InputError, match=r"curves\.csv: not a TensorBoard event file"):
        ingest(path, format="tensorboard", n_params=1e8, tokens_per_step=TPS)


def test_a_log_in_reverse_order_is_refused_not_read_as_restarts(tmp_path):
    """Read in file order, a newest-first table looked like one restart per row: all but its lowest step
    dropped, with a warning only."""
    rows = [{"step": s, "loss": 3 + 100 / s} for s in range(1000, 0, -100)]
    (tmp_path / "desc.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InputError, match="out of order"):
        ingest(tmp_path / "desc.jsonl", n_params=1e8, tokens_per_step=1000)


def test_a_column_of_timestamps_is_not_read_as_numbers(tmp_path):
    """A Parquet 'step' column of timestamps (a log keyed by time) was read as microseconds since 1970: steps of
    1.70e15, tokens 1.70e18 at 1,000 tokens a step, ingested without a word."""
    import pandas as pd

    path = tmp_path / "log.parquet"
    pd.DataFrame({"step": pd.to_datetime(["2024-01-01", "2024-01-02"]), "loss": [3.0, 2.0]}).to_parquet(path)
    with pytest.raises(InputError, match=r"log\.parquet: key 'step' holds dates or durations \(2024-01-01"):
        ingest(path, n_params=1e8, tokens_per_step=1000)
    pd.DataFrame({"step": [1, 2], "loss": [3.0, 2.0], "tokens": pd.to_timedelta([1, 2], unit="s")}).to_parquet(path)
    with pytest.raises(InputError, match=r"key 'tokens' holds dates or durations"):
        ingest(path, n_params=1e8)


@pytest.mark.parametrize("name, text, match", [
    ("b.csv", "step,loss\n", r"b\.csv: no rows, only a header; nothing logged to read"),
    ("b.csv", "step,loss\n100,3.", r"b\.csv: no rows, its only one cut \(.*ends without a newline"),
    ("b.jsonl", "", r"b\.jsonl: empty file$"),
    ("b.jsonl", "\n\n", r"b\.jsonl: empty file$"),
])
def test_a_log_with_no_rows_in_a_folder_is_named(tmp_path, name, text, match):
    """A folder of curve files where one holds only its header (its job died before logging a row): that run
    vanished without a word (the others ingested, exit 0). An empty JSON-lines file said "none of the usual step
    columns … it has no keys at all"."""
    (tmp_path / "a.csv").write_text("step,loss\n100,4.0\n200,3.0\n")
    (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=match):
        ingest(tmp_path, n_params=1e8, tokens_per_step=TPS)
    (tmp_path / name).unlink()
    assert ingest(tmp_path, n_params=1e8, tokens_per_step=TPS).frame["loss"].tolist() == [4.0, 3.0]
