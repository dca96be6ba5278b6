"""Ingestion of training logs: real TensorBoard event files, W&B exports, HF trainer_state.json and tables,
checked value for value against what was written."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from isoflop.cli import app
from isoflop.errors import InputError
from isoflop.fitting.envelope import schedule_flags
from isoflop.ingest import detect_format, ingest, parse_per_run, summarize_runs, write_runs
from isoflop.runs import RunTable

runner = CliRunner()
TPS = 524_288  # tokens per step: 512 sequences × 1,024 tokens


def curve(steps, scale=1.0):
    return scale * (2.0 + 8.0 / np.sqrt(np.asarray(steps, float)))


def by_run(table, run):
    return table.frame[table.frame["run_id"] == run].reset_index(drop=True)


# ------------------------------------------------------------------------------------------- tensorboard

@pytest.fixture(scope="module")
def tb_logs(tmp_path_factory):
    """Two runs written by torch's SummaryWriter (one with 12,000 training points, more than the
    EventAccumulator's default reservoir of 10,000) and one by tensorboard's own Writer (tensor summaries)."""
    pytest.importorskip("tensorboard")
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    root = tmp_path_factory.mktemp("tb")
    writer = torch_tb.SummaryWriter(str(root / "small"))
    for step in range(1, 12_001):
        writer.add_scalar("train/loss", curve(step), step)
        if step % 500 == 0:
            writer.add_scalar("eval/loss", curve(step, 1.05), step)
    writer.close()
    writer = torch_tb.SummaryWriter(str(root / "large"))
    for step in range(0, 3_001, 10):  # includes step 0: no tokens seen, dropped
        writer.add_scalar("train/loss", curve(max(step, 1), 0.9), step)
    writer.close()
    from tensorboard.summary import Writer

    writer = Writer(str(root / "v2"))
    for step in range(100, 2_001, 100):
        writer.add_scalar("eval/loss", float(curve(step, 0.95)), step=step)
    writer.flush()
    writer.close()
    return root


def test_tensorboard_no_downsampling_and_values(tb_logs):
    # v2 has no train/loss: naming a key that one run lacks is an error naming that run's folder and key.
    with pytest.raises(InputError, match=r"v2.*no loss scalar tag 'train/loss'.*eval/loss"):
        ingest(tb_logs, loss_key="train/loss", n_params=1e8, tokens_per_step=TPS)
    table = ingest(tb_logs / "small", loss_key="train/loss", n_params=1e8, tokens_per_step=TPS)
    small = by_run(table, "small")
    assert len(small) == 12_000  # every point: size_guidance 0, no reservoir sampling
    np.testing.assert_array_equal(small["step"], np.arange(1, 12_001))
    np.testing.assert_array_equal(small["loss"], curve(np.arange(1, 12_001)).astype(np.float32))  # stored as float32
    np.testing.assert_array_equal(small["n_tokens"], np.arange(1, 12_001) * float(TPS))
    np.testing.assert_allclose(small["flops"], 6 * 1e8 * small["n_tokens"])
    assert (small["n_params"] == 1e8).all() and (small["loss_key"] == "train/loss").all()


def test_tensorboard_default_keys_per_run(tb_logs):
    table = ingest(tb_logs, n_params={"small": 1e8, "large": 4e8, "v2": 2e8}, tokens_per_step=TPS)
    assert sorted(table.frame["run_id"].unique()) == ["large", "small", "v2"]
    small, large, v2 = (by_run(table, r) for r in ("small", "large", "v2"))
    # eval loss preferred where logged; training loss otherwise, with a warning about the mix.
    np.testing.assert_array_equal(small["step"], np.arange(500, 12_001, 500))
    np.testing.assert_array_equal(small["loss"], curve(np.arange(500, 12_001, 500), 1.05).astype(np.float32))
    np.testing.assert_array_equal(large["step"], np.arange(10, 3_001, 10))
    assert large["n_params"].iloc[0] == 4e8
    np.testing.assert_allclose(v2["loss"], curve(np.arange(100, 2_001, 100), 0.95), rtol=1e-6)
    assert (v2["loss_key"] == "eval/loss").all() and (large["loss_key"] == "train/loss").all()
    assert any("different loss keys" in w for w in table.warnings)
    assert any("step 0" in w for w in table.warnings)
    finals = table.finals()
    assert dict(zip(finals.run_ids, finals.frame["step"])) == {"large": 3000, "small": 12000, "v2": 2000}


def test_tensorboard_single_event_file(tb_logs):
    event_file = next((tb_logs / "large").glob("*tfevents*"))
    assert detect_format(event_file) == "tensorboard"
    table = ingest(event_file, n_params=4e8, batch_size=512, seq_len=1024, run_id="L")
    assert set(table.run_ids) == {"L"}
    np.testing.assert_array_equal(table.frame["n_tokens"], np.arange(10, 3_001, 10) * 512.0 * 1024)


# ------------------------------------------------------------------------------------------------- W&B

def test_wandb_chart_csv(tmp_path):
    steps = np.arange(100, 1_001, 100)
    a, b = curve(steps), curve(steps, 0.9)
    b[5:] = np.nan  # run b stopped earlier: blanks in the export
    frame = pd.DataFrame({"Step": steps, "run-a - train/loss": a, "run-a - train/loss__MIN": a - 0.1,
                          "run-a - train/loss__MAX": a + 0.1, "my run - b - train/loss": b})
    path = tmp_path / "chart.csv"
    frame.to_csv(path, index=False)
    assert detect_format(path) == "wandb"
    table = ingest(path, n_params={"run-a": 1e8, "my run - b": 2e8}, tokens_per_step=1000)
    run_a, run_b = by_run(table, "run-a"), by_run(table, "my run - b")
    np.testing.assert_allclose(run_a["loss"], a)  # not __MIN / __MAX
    np.testing.assert_array_equal(run_b["step"], steps[:5])
    np.testing.assert_allclose(run_b["loss"], b[:5])
    np.testing.assert_array_equal(run_b["n_tokens"], steps[:5] * 1000.0)


def wandb_history(n=40):
    """Rows as wandb's run.history() gives them: one per log call, sparse, _step counting calls, and
    HF's callback adding train/global_step."""
    rows = []
    for i in range(n):
        step = 10 * (i + 1)
        rows.append({"_step": 2 * i, "_runtime": 1.5 * i, "train/global_step": step, "train/loss": curve(step),
                     "train/learning_rate": 1e-3})
        if step % 50 == 0:
            rows.append({"_step": 2 * i + 1, "train/global_step": step, "eval/loss": curve(step, 1.1)})
    return rows


def test_wandb_history_jsonl_and_json(tmp_path):
    rows = wandb_history()
    jsonl = tmp_path / "run-7.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    listed = tmp_path / "run-8.json"
    listed.write_text(json.dumps(rows))
    for path in (jsonl, listed):
        table = ingest(path, n_params=1e8, tokens_per_step=TPS)
        assert set(table.run_ids) == {path.stem}
        eval_steps = np.arange(50, 401, 50)
        np.testing.assert_array_equal(table.frame["step"], eval_steps)  # train/global_step, not _step
        np.testing.assert_allclose(table.frame["loss"], curve(eval_steps, 1.1))
    train = ingest(jsonl, n_params=1e8, tokens_per_step=TPS, loss_key="train/loss")
    np.testing.assert_allclose(train.frame["loss"], curve(np.arange(10, 401, 10)))
    underscore = ingest(jsonl, n_params=1e8, tokens_per_step=TPS, step_key="_step")
    np.testing.assert_array_equal(underscore.frame["step"], [9, 19, 29, 39, 49, 59, 69, 79])


# ------------------------------------------------------------------------------------------ Hugging Face

def trainer_state(max_steps, global_step, tokens=False):
    log = []
    for step in range(10, global_step + 1, 10):
        entry = {"epoch": step / 1000, "grad_norm": 1.0, "learning_rate": 1e-4, "loss": round(curve(step), 4),
                 "step": step}
        if tokens:
            entry["num_input_tokens_seen"] = step * 4096
        log.append(entry)
        if step % 50 == 0:
            log.append({"epoch": step / 1000, "eval_loss": curve(step, 1.1), "eval_runtime": 2.0, "step": step})
    log.append({"epoch": 1.0, "step": global_step, "total_flos": 1e15, "train_loss": 3.14, "train_runtime": 99.0})
    return {"global_step": global_step, "max_steps": max_steps, "logging_steps": 10, "eval_steps": 50,
            "train_batch_size": 8, "log_history": log}


def test_trainer_state_checkpoints_and_keys(tmp_path):
    out = tmp_path / "gpt-small"
    for step in (100, 200):
        (out / f"checkpoint-{step}").mkdir(parents=True)
        (out / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps(trainer_state(200, step)))
    assert detect_format(tmp_path) == "huggingface"
    table = ingest(tmp_path, n_params=1.2e8, tokens_per_step=TPS)
    assert set(table.run_ids) == {"gpt-small"}  # the output folder, latest checkpoint only
    np.testing.assert_array_equal(table.frame["step"], np.arange(50, 201, 50))
    np.testing.assert_allclose(table.frame["loss"], curve(np.arange(50, 201, 50), 1.1))
    np.testing.assert_array_equal(table.frame["planned_tokens"], 200.0 * TPS)  # from max_steps
    train = ingest(out / "checkpoint-200" / "trainer_state.json", n_params=1.2e8, tokens_per_step=TPS,
                   loss_key="loss")
    np.testing.assert_array_equal(train.frame["step"], np.arange(10, 201, 10))  # not the final train_loss entry
    np.testing.assert_allclose(train.frame["loss"], np.round(curve(np.arange(10, 201, 10)), 4))
    assert set(train.run_ids) == {"gpt-small"}


def test_trainer_state_tokens_and_truncation(tmp_path):
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "trainer_state.json").write_text(json.dumps(trainer_state(400, 200, tokens=True)))
    table = ingest(tmp_path / "cut" / "trainer_state.json", n_params=5e7)  # tokens from num_input_tokens_seen
    np.testing.assert_array_equal(table.frame["n_tokens"], np.arange(50, 201, 50) * 4096.0)
    np.testing.assert_array_equal(table.frame["planned_tokens"], 400 * 4096.0)
    flags, _ = schedule_flags(table)
    assert list(flags) == ["cut"] and "stopped at 50%" in flags["cut"]


# ------------------------------------------------------------------------------------------------ tables

def test_curve_table_with_runs_tokens_and_meta(tmp_path):
    frame = pd.DataFrame({"run_id": ["a"] * 4 + ["b"] * 3, "step": [0, 1, 2, 2, 1, 2, 3],
                          "loss": [9.0, 4.0, 3.9, 3.5, 5.0, np.nan, 4.5]})
    path = tmp_path / "curves.csv"
    frame.to_csv(path, index=False)
    meta = pd.DataFrame({"run_id": ["a", "b"], "n_params": [1e6, 2e6], "batch_size": [8, 16], "seq_len": [128, 128],
                         "planned_steps": [2, 6]})
    table = ingest(path, meta=meta)
    a, b = by_run(table, "a"), by_run(table, "b")
    np.testing.assert_array_equal(a["step"], [1, 2])
    np.testing.assert_array_equal(a["loss"], [4.0, 3.5])  # repeated step 2: the last logged
    np.testing.assert_array_equal(a["n_tokens"], [1024.0, 2048.0])
    np.testing.assert_array_equal(b["step"], [1, 3])  # the missing loss is skipped
    np.testing.assert_array_equal(b["n_tokens"], [2048.0, 6144.0])
    assert a["planned_tokens"].iloc[0] == 2048.0 and b["planned_tokens"].iloc[0] == 6 * 2048.0
    assert set(table.frame["n_params"]) == {1e6, 2e6}
    assert any("repeated steps" in w for w in table.warnings) and any("step 0" in w for w in table.warnings)


def test_round_trip_through_files(tmp_path):
    frame = pd.DataFrame({"step": [1, 2, 3], "n_tokens": [100.0, 250.0, 400.0], "val_loss": [3.0, 2.5, 2.2],
                          "loss": [3.1, 2.6, 2.3], "n_params": [1e6] * 3})
    path = tmp_path / "one.jsonl"
    frame.to_json(path, orient="records", lines=True)
    table = ingest(path)  # n_params and n_tokens from the file's own columns; val_loss before loss
    np.testing.assert_array_equal(table.frame["loss"], [3.0, 2.5, 2.2])
    np.testing.assert_array_equal(table.frame["n_tokens"], [100.0, 250.0, 400.0])
    for suffix in ("parquet", "csv", "jsonl"):
        written = write_runs(table, tmp_path / f"runs.{suffix}")
        back = RunTable.load(written)
        for column in ("step", "n_params", "n_tokens", "flops", "loss"):
            np.testing.assert_allclose(back.column(column), table.column(column))
        assert list(back.run_ids) == ["one"] * 3


def test_parse_per_run():
    assert parse_per_run("1.2e8", "--params") == 1.2e8
    assert parse_per_run("a=1e8, b=300M", "--params") == {"a": 1e8, "b": 3e8}
    assert parse_per_run(None, "--params") is None
    with pytest.raises(InputError, match="--params"):
        parse_per_run("a=1e8,oops", "--params")


@pytest.mark.parametrize("kwargs,message", [
    (dict(tokens_per_step=TPS), "has no parameter count; give --params"),
    (dict(n_params=1e8), "has no token count; give --tokens-per-step"),
    (dict(n_params=1e8, tokens_per_step=TPS, loss_key="train/los"), "no loss key 'train/los'"),
    (dict(n_params={"nope": 1e8}, tokens_per_step=TPS), "--params: no run named 'nope'"),
    (dict(n_params=1e8, batch_size=8), "--batch-size and --seq-len together"),
])
def test_errors_name_file_and_key(tmp_path, kwargs, message):
    path = tmp_path / "hist.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in wandb_history(5)))
    with pytest.raises(InputError, match=message) as info:
        ingest(path, **kwargs)
    assert "hist" in str(info.value) or message.startswith("--")


def test_missing_loss_and_step_keys(tmp_path):
    path = tmp_path / "odd.csv"
    pd.DataFrame({"iteration_no": [1, 2], "perplexity": [30.0, 20.0]}).to_csv(path, index=False)
    with pytest.raises(InputError, match=r"odd\.csv: none of the usual step columns.*'iteration_no'.*--step-key"):
        ingest(path, n_params=1e6, tokens_per_step=10)
    with pytest.raises(InputError, match=r"odd\.csv: none of the usual loss keys.*'perplexity'.*--loss-key"):
        ingest(path, n_params=1e6, tokens_per_step=10, step_key="iteration_no")
    state = tmp_path / "trainer_state.json"
    state.write_text(json.dumps({"global_step": 3}))
    with pytest.raises(InputError, match="no 'log_history'"):
        ingest(state, n_params=1e6, tokens_per_step=10)
    with pytest.raises(InputError, match="no such file"):
        ingest(tmp_path / "absent", n_params=1e6)


# --------------------------------------------------------------------------------------------------- CLI

def test_cli_ingest(tmp_path):
    path = tmp_path / "hist.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in wandb_history()))
    out = tmp_path / "runs.parquet"
    result = runner.invoke(app, ["ingest", str(path), "--out", str(out), "--params", "1e8", "--batch-size", "512",
                                 "--seq-len", "1024", "--planned-steps", "400", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rows"] == 8 and report["runs"][0]["loss_key"] == "eval/loss"
    assert report["runs"][0]["planned_tokens"] == 400 * TPS
    back = pd.read_parquet(out)
    np.testing.assert_array_equal(back["n_tokens"], np.arange(50, 401, 50) * float(TPS))
    result = runner.invoke(app, ["ingest", str(path), "--out", str(tmp_path / "r.csv"), "--params", "1e8",
                                 "--tokens-per-step", "512K"])
    assert result.exit_code == 0 and "eval/loss" in result.stdout
    for name, args, message in (("r.csv", ["--params", "1e8"], "no token count"),
                                ("r.csv", ["--params", "1e8", "--tokens-per-step", "1", "--loss-key", "x"],
                                 "no loss key 'x'"),
                                ("r.xlsx", ["--params", "1e8", "--tokens-per-step", "1"], "unknown output type")):
        result = runner.invoke(app, ["ingest", str(path), "--out", str(tmp_path / name), *args])
        assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output


def test_a_logged_flops_column_is_a_running_total(tmp_path):
    """A curve's cumulative FLOPs column grows with the step; it was checked as a per-run constant, so a log with
    one (and every table `ingest` writes) was refused: "run 'log' has two values of 'flops': 6e+13 (row 1) and
    1.2e+14 (row 2); a run has one"."""
    path = tmp_path / "log.csv"
    steps = np.array([100, 200, 300])
    pd.DataFrame({"step": steps, "loss": curve(steps), "flops": 6 * 1e8 * steps * 1000.0}).to_csv(path, index=False)
    table = ingest(path, n_params=1e8, tokens_per_step=1000)
    np.testing.assert_array_equal(table.frame["n_tokens"], [1e5, 2e5, 3e5])
    np.testing.assert_allclose(table.frame["flops"], [6e13, 1.2e14, 1.8e14])
    np.testing.assert_allclose(table.frame["loss"], curve(steps))
    out = write_runs(table, tmp_path / "runs.csv")  # an ingested table reads back as a curve table, as written
    again = ingest(out)
    np.testing.assert_array_equal(again.frame["n_params"], [1e8] * 3)
    np.testing.assert_array_equal(again.frame["n_tokens"], [1e5, 2e5, 3e5])
    np.testing.assert_allclose(again.frame["loss"], curve(steps))


def test_out_that_is_the_log_read_is_refused(tmp_path):
    """`ingest log.jsonl --out log.jsonl` replaced the training log with the runs table (exit 0): the log, and
    the cut last line it still held, were gone. --out naming the log read, or the --meta table, is refused
    before anything is written."""
    log = tmp_path / "log.jsonl"
    text = '{"step": 100, "loss": 4.0}\n{"step": 200, "loss": 3.5}\n'
    log.write_text(text)
    result = runner.invoke(app, ["ingest", str(log), "--out", str(log), "--params", "1e8", "--tokens-per-step", "10"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"--out {log}: is the log being read" in result.stderr
    assert log.read_text() == text
    folder = tmp_path / "logs"  # a table in a folder of logs
    folder.mkdir()
    (folder / "a.csv").write_text("step,loss\n100,4.0\n")
    result = runner.invoke(app, ["ingest", str(folder), "--out", str(folder / "a.csv"), "--params", "1e8",
                                 "--tokens-per-step", "10"])
    assert result.exit_code == 2 and "is the log being read" in result.stderr
    assert (folder / "a.csv").read_text() == "step,loss\n100,4.0\n"
    meta = tmp_path / "meta.csv"
    meta.write_text("run_id,n_params\nlog,1e8\n")
    result = runner.invoke(app, ["ingest", str(log), "--out", str(meta), "--meta", str(meta), "--tokens-per-step",
                                 "10"])
    assert result.exit_code == 2 and "is the --meta table" in result.stderr
    assert meta.read_text() == "run_id,n_params\nlog,1e8\n"
    result = runner.invoke(app, ["ingest", str(log), "--out", str(tmp_path / "runs.csv"), "--params", "1e8",
                                 "--tokens-per-step", "10"])
    assert result.exit_code == 0 and log.read_text() == text


def test_a_log_without_steps_says_so(tmp_path):
    """add_scalar(tag, value) without a step logs every point at step 0. The error said only "has no point with
    tokens seen and a finite 'train/loss'" (the warning that every point sat at step 0 was lost with it)."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "run"))
    for loss in (5.0, 4.0, 3.0):
        writer.add_scalar("train/loss", loss)
    writer.close()
    with pytest.raises(InputError, match=r"run 'run' has no point with tokens seen and a finite 'train/loss': every "
                                         r"point is at step 0 \(logged without a step"):
        ingest(tmp_path / "run", n_params=1e8, tokens_per_step=TPS)
    path = tmp_path / "log.csv"  # a table whose step column is all zero: the same words
    path.write_text("step,loss\n0,4.0\n0,3.5\n")
    with pytest.raises(InputError, match="every point is at step 0"):
        ingest(path, n_params=1e8, tokens_per_step=TPS)


def test_a_run_folder_named_in_latin_1_is_named_in_the_error(tmp_path):
    """A run folder named with a byte that is not UTF-8 (b'run\\xff', as a Latin-1 file system writes 'runÿ'):
    writing the table failed with "'utf-8' codec can't encode character '\\udcff' in position 3: surrogates not
    allowed", naming neither the folder nor the fix."""
    import os

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "logs" / "run"))  # tensorboard cannot write there: renamed after
    writer.add_scalar("train/loss", 3.0, 10)
    writer.close()
    os.rename(os.fsencode(tmp_path / "logs" / "run"), os.path.join(os.fsencode(tmp_path / "logs"), b"run\xff"))
    with pytest.raises(InputError, match=r"logs/run\\udcff: run id 'run\\udcff' \(a file or folder name\) is not "
                                         r"UTF-8; rename it"):
        ingest(tmp_path / "logs", n_params=1e8, tokens_per_step=TPS)
    result = runner.invoke(app, ["ingest", str(tmp_path / "logs"), "--out", str(tmp_path / "r.csv"), "--params", "1e8",
                                 "--tokens-per-step", "8"])
    assert result.exit_code == 2 and "is not UTF-8; rename it" in result.stderr and "Traceback" not in result.output


def test_an_empty_run_id_option_is_named(tmp_path):
    """`--run-id ''` was reported as "log.csv: row 1, column 'run_id' is empty", a column the file does not
    have."""
    path = tmp_path / "log.csv"
    path.write_text("step,loss\n100,4.0\n")
    for empty in ("", "  "):
        with pytest.raises(InputError, match=r"^run_id \(--run-id\): empty; give the run a name"):
            ingest(path, n_params=1e8, tokens_per_step=TPS, run_id=empty)
    assert ingest(path, n_params=1e8, tokens_per_step=TPS, run_id="mine").frame["run_id"].tolist() == ["mine"]


def test_a_table_of_many_runs_is_read_in_time_linear_in_its_rows(tmp_path):
    """Each run's rows were found with a mask over the whole file (runs == run): 20,000 runs of 2 points took
    8.6 s in read_table (10,000 runs of 10 points: 14 s of the 45 s ingest), 0.4 s now."""
    import time

    from isoflop.ingest.table import read_table

    path = tmp_path / "runs.csv"
    path.write_text("run_id,step,loss\n" + "".join(f"r{i},{s},{3 + i / 1e5 + 1 / s}\n" for i in range(20_000)
                                                    for s in (100, 200)))
    start = time.perf_counter()
    curves = read_table(path)
    assert time.perf_counter() - start < 4.0  # 8.6 s before, on the same 2-core machine
    assert len(curves) == 20_000
    run = curves[12_345]
    assert run.run_id == "r12345" and run.step.tolist() == [100, 200] and run.rows.tolist() == [24_691, 24_692]
    np.testing.assert_allclose(run.loss, [3.12345 + 1 / 100, 3.12345 + 1 / 200])


def many_small_runs(n=300):
    """Run id → its logged (step, loss) points: 1 to 7 points each, every 50th with a step-0 point first, and
    r123 diverged (NaN to its end)."""
    runs = {}
    for i in range(n):
        points = [(s, 3 + i / 1000 + 1 / s) for s in range(1, 2 + i % 7)]
        if i % 50 == 7:
            points = [(0, 9.0)] + points  # dropped: no tokens seen at step 0
        if i == 123:
            points += [(100, float("nan")), (101, float("nan"))]
        runs[f"r{i:03d}"] = points
    return runs


def check_many_small_runs(table, runs):
    """Every run has its own points, size and final loss, and only the diverged one is left out of finals."""
    frame = table.frame
    for run, points in runs.items():
        kept = [(s, loss) for s, loss in points if s > 0 and np.isfinite(loss)]
        rows = frame[frame["run_id"] == run]
        assert rows["step"].tolist() == [s for s, _ in kept], run
        np.testing.assert_allclose(rows["loss"], [loss for _, loss in kept], rtol=1e-6)
        assert (rows["n_params"] == 1e6 * (int(run[1:]) + 1)).all() and (rows["truncated"] == (run == "r123")).all()
    finals = table.finals().frame.set_index("run_id")
    assert len(finals) == len(runs) - 1 and "r123" not in finals.index
    expected = {run: points[-1][1] for run, points in runs.items() if run != "r123"}
    np.testing.assert_allclose(finals.loss[list(expected)], list(expected.values()), rtol=1e-6)
    summary = {r["run_id"]: r for r in summarize_runs(table)}
    assert list(summary) == sorted(runs) and summary["r123"]["truncated"] and not summary["r122"]["truncated"]
    assert [summary[run]["points"] for run in runs] == [sum(s > 0 and np.isfinite(v) for s, v in p)
                                                        for p in runs.values()]
    assert summary["r006"]["last_loss"] == frame.loc[frame["run_id"] == "r006", "loss"].iloc[-1]


def test_a_folder_of_many_small_csv_runs_keeps_each_runs_points(tmp_path):
    """A folder of 300 one-run CSV logs of different lengths (the table is built from all runs at once, not a
    DataFrame per run): each run keeps its own points, parameter count and final loss."""
    runs = many_small_runs()
    for run, points in runs.items():
        (tmp_path / f"{run}.csv").write_text("step,loss\n" + "".join(f"{s},{loss!r}\n" for s, loss in points))
    sizes = {run: 1e6 * (int(run[1:]) + 1) for run in runs}
    table = ingest(tmp_path, n_params=sizes, tokens_per_step=TPS)
    check_many_small_runs(table, runs)
    assert sum("at step 0 (no tokens seen)" in w for w in table.warnings) == 6  # r007, r057, …, r257


def test_a_folder_of_many_small_tensorboard_runs_keeps_each_runs_points(tb):
    """300 TensorBoard run folders (the runs nested in each were looked for among all runs, per run: 10,000 runs
    took minutes), written record by record as SummaryWriter writes them."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    runs = many_small_runs()
    for run, points in runs.items():
        (tb / run).mkdir()
        with open(tb / run / "events.out.tfevents.1700000000.host.1.0", "wb") as f:
            writer = RecordWriter(f)
            writer.write(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())
            for step, loss in points:
                value = summary_pb2.Summary.Value(tag="train/loss", simple_value=loss)
                writer.write(event_pb2.Event(wall_time=1.7e9, step=step,
                                             summary=summary_pb2.Summary(value=[value])).SerializeToString())
    sizes = {run: 1e6 * (int(run[1:]) + 1) for run in runs}
    check_many_small_runs(ingest(tb, n_params=sizes, tokens_per_step=TPS), runs)
