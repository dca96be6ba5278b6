"""Logs that would give silently wrong numbers, and messages that must point at the right place: conflicting
parameter counts, non-finite losses in W&B exports and JSON lines, tokens-seen counts that go backwards,
Hugging Face's whole-run mean loss, a W&B row named in the file's own terms, a sweep folder given to ingest,
Python options of the wrong type, and points without a usable step."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from isoflop.cli import app
from isoflop.errors import InputError
from isoflop.ingest import ingest, parse_per_run

runner = CliRunner()
HEADER = ("Step,run_a - train/loss,run_a - train/loss__MIN,run_a - train/loss__MAX,"
          "run_b - train/loss,run_b - train/loss__MIN,run_b - train/loss__MAX\n")


def chart(tmp_path, cells, name="export.csv"):
    """A W&B chart export: {step: (loss_a, loss_b)} with '' for a step a run did not log."""
    lines = [f"{step},{a},{a},{a},{b},{b},{b}\n" for step, (a, b) in cells.items()]
    path = tmp_path / name
    path.write_text(HEADER + "".join(lines))
    return path


def good(n=8):
    return {100 * (i + 1): (f"{9 - 0.4 * i:.2f}", f"{8.8 - 0.4 * i:.2f}") for i in range(n)}


WB = dict(n_params={"run_a": 1e8, "run_b": 3e8}, tokens_per_step=1000)


# ------------------------------------------------------------------------ 1. conflicting parameter counts

def test_conflicting_n_params_in_one_runs_rows(tmp_path):
    path = tmp_path / "curves.csv"
    path.write_text("run_id,step,n_params,n_tokens,loss\na,100,1e8,1e8,4.0\na,200,2e8,2e8,3.5\n"
                    "b,100,3e8,1e8,3.9\nb,200,3e8,2e8,3.4\n")
    with pytest.raises(InputError, match=r"curves\.csv: run 'a' has two values of 'n_params': 1e\+08 \(row 1\) "
                                         r"and 2e\+08 \(row 2\)"):
        ingest(path)
    # One value per run (repeated on every row) is fine.
    path.write_text("run_id,step,n_params,n_tokens,loss\na,100,1e8,1e8,4.0\na,200,1e8,2e8,3.5\n")
    assert ingest(path).frame["n_params"].tolist() == [1e8, 1e8]


def test_meta_listing_a_run_twice_or_an_unknown_run(tmp_path):
    path = chart(tmp_path, good())
    meta = tmp_path / "meta.csv"
    meta.write_text("run_id,n_params\nrun_a,1e8\nrun_a,5e8\nrun_b,3e8\n")
    with pytest.raises(InputError, match=r"meta\.csv: run 'run_a' is listed twice with different n_params "
                                         r"\(row 1: 1e\+08, row 2: 5e\+08\)"):
        ingest(path, meta=meta, tokens_per_step=1000)
    meta.write_text("run_id,n_params\nrun_a,1e8\nrun_a,1e8\nrun_b,3e8\n")  # repeated, but agreeing: fine
    table = ingest(path, meta=meta, tokens_per_step=1000)
    assert sorted(table.frame.groupby("run_id")["n_params"].first().tolist()) == [1e8, 3e8]
    meta.write_text("run_id,n_params\nrun_zz,1e8\nrun_b,3e8\n")
    with pytest.raises(InputError, match=r"meta\.csv: no run named 'run_zz' \(row 1\); runs are run_a, run_b"):
        ingest(path, meta=meta, n_params=1e8, tokens_per_step=1000)


def test_params_giving_a_run_twice():
    with pytest.raises(InputError, match=r"--params: run 'run_a' is given twice, as 1e\+08 and 5e\+08"):
        parse_per_run("run_a=1e8,run_b=3e8,run_a=5e8", "--params")
    assert parse_per_run("run_a=1e8,run_a=100M", "--params") == {"run_a": 1e8}


# ----------------------------------------------------------------------------- 2. non-finite losses

@pytest.mark.parametrize("bad", ["inf", "NaN", "nan", "-inf"])
def test_wandb_chart_non_finite_loss_is_dropped_with_a_warning(tmp_path, bad):
    cells = good(9)
    cells[300] = (cells[300][0], bad)  # run_b: one non-finite point amid finite ones, dropped alone
    cells[1000] = (bad, "")  # run_a's last point diverged; run_b stopped logging earlier (empty cells)
    table = ingest(chart(tmp_path, cells), **WB)
    assert len(table.frame[table.frame["run_id"] == "run_a"]) == 9
    assert len(table.frame[table.frame["run_id"] == "run_b"]) == 8
    # A loss non-finite to the end: the run diverged, so its last finite loss is not final (left out of fits).
    assert [w for w in table.warnings if "non-finite" in w] == [
        f"{tmp_path / 'export.csv'} (run 'run_a'): run 'run_a' diverged: its 'train/loss' is non-finite from step "
        f"1000 to the end (1 point(s) dropped), so its last finite loss is not a final loss; final-loss fits leave "
        f"it out",
        f"{tmp_path / 'export.csv'} (run 'run_b'): dropped 1 non-finite 'train/loss' value(s) (row 3 at step 300)"]
    assert table.frame.groupby("run_id")["truncated"].all().to_dict() == {"run_a": True, "run_b": False}


def test_wandb_chart_empty_cells_are_not_divergence(tmp_path):
    cells = good(9)
    cells[1000] = ("5.0", "")
    table = ingest(chart(tmp_path, cells), **WB)
    assert not any("non-finite" in w for w in table.warnings)


def test_jsonl_counts_every_non_finite_loss(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text('{"run_id":"a","step":1,"loss":4.0}\n{"run_id":"a","step":2,"loss":NaN}\n'
                    '{"run_id":"a","step":3,"loss":Infinity}\n{"run_id":"a","step":4}\n'
                    '{"run_id":"a","step":5,"loss":3.0}\n')
    table = ingest(path, n_params=1e8, tokens_per_step=10)
    assert table.frame["step"].tolist() == [1.0, 5.0]
    # Two losses were logged as non-finite; step 4 logged no loss at all (a sparse log), which is no divergence.
    assert f"{path}: dropped 2 non-finite 'loss' value(s) (line 2 at step 2, line 3 at step 3)" in table.warnings
    assert not table.frame["truncated"].any()


# -------------------------------------------------------------------------------------- 3. tokens seen

def test_tokens_seen_going_backwards_is_an_error(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("run_id,step,tokens,loss\na,1,1000,4.0\na,2,500,3.5\na,3,3000,3.2\n")
    with pytest.raises(InputError, match=r"t\.csv: run 'a': 'tokens' goes backwards at step 2 \(500, after 1000 "
                                         r"at step 1\)"):
        ingest(path, n_params=1e8)
    # Tokens stated per step: the log's tokens key is not used, so it does not matter.
    assert ingest(path, n_params=1e8, tokens_per_step=10).frame["n_tokens"].tolist() == [10, 20, 30]


@pytest.mark.parametrize("value", ["inf", "-5"])
def test_non_finite_or_negative_tokens_seen_is_an_error(tmp_path, value):
    path = tmp_path / "t.csv"
    path.write_text(f"run_id,step,tokens,loss\na,1,1000,4.0\na,2,{value},3.5\na,3,3000,3.2\n")
    with pytest.raises(InputError, match=rf"t\.csv: run 'a': step 2, 'tokens': {value} is not a count of tokens"):
        ingest(path, n_params=1e8)


def test_tokens_seen_backwards_in_a_trainer_state(tmp_path):
    log = [{"step": s, "loss": 5.0 - s / 100, "num_input_tokens_seen": t} for s, t in ((10, 100), (20, 50), (30, 300))]
    path = tmp_path / "run" / "trainer_state.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"global_step": 30, "max_steps": 30, "log_history": log}))
    with pytest.raises(InputError, match="'num_input_tokens_seen' goes backwards at step 20"):
        ingest(path, n_params=1e8)


# ------------------------------------------------------------------------------- 4. HF's train_loss

def test_trainer_state_with_only_the_whole_run_mean(tmp_path):
    log = [{"step": s, "learning_rate": 1e-3, "grad_norm": 1.0} for s in (10, 20, 30)]
    log.append({"step": 30, "train_loss": 3.4567, "train_runtime": 10.0, "total_flos": 1.0})
    path = tmp_path / "run" / "trainer_state.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"global_step": 30, "max_steps": 30, "log_history": log}))
    with pytest.raises(InputError, match=r"only 'train_loss', which is Hugging Face's mean over the whole run, not "
                                         r"a final loss.*--loss-key"):
        ingest(path, n_params=1e8, tokens_per_step=1000)
    # Asked for by name, it is what the user wants.
    table = ingest(path, n_params=1e8, tokens_per_step=1000, loss_key="train_loss")
    assert table.frame["loss"].tolist() == [3.4567]


# ------------------------------------------------------------------------- 5. the file's row and column

def test_wandb_bad_loss_names_the_files_row_and_column(tmp_path):
    cells = good()
    cells[300] = (cells[300][0], "-3")
    with pytest.raises(InputError) as info:
        ingest(chart(tmp_path, cells), **WB)
    assert str(info.value) == (f"{tmp_path / 'export.csv'} (run 'run_b'): row 3 (step 300), column "
                               f"'run_b - train/loss': -3 must be positive (a loss in nats per token)")


def test_bad_loss_row_counts_rows_left_out(tmp_path):
    # A malformed row is left out (with a warning); the row named later is still the file's own row 4.
    path = tmp_path / "c.csv"
    path.write_text("step,loss\n1,4.0\n2,3.9,extra\n3,3.8\n4,0\n")
    with pytest.raises(InputError, match=r"c\.csv: row 4 \(step 4\), column 'loss': 0 must be positive"):
        ingest(path, n_params=1e8, tokens_per_step=10)


# ------------------------------------------------------------------------------------- 6. sweep folder

def test_sweep_folder_is_refused_with_the_right_command(tmp_path):
    sweep = tmp_path / "sw1"
    (sweep / "runs").mkdir(parents=True)
    (sweep / "sweep.json").write_text(json.dumps({"law": "besiroglu2024", "warnings": []}))
    for source in (sweep, sweep / "sweep.json"):
        with pytest.raises(InputError, match=r"an isoflop sweep folder, not training logs; `isoflop fit .*sw1` and "
                                             r"`isoflop report .*sw1` read it directly.*read_runs\("):
            ingest(source, n_params=1e8, tokens_per_step=10)
    result = runner.invoke(app, ["ingest", str(sweep), "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 2 and "isoflop sweep folder" in result.stderr and "Traceback" not in result.output


# ------------------------------------------------------------------------------------ 7. Python options

@pytest.mark.parametrize("options,message", [
    (dict(n_params=1e8, tokens_per_step="262144"),
     "tokens_per_step (--tokens-per-step) must be a positive whole number, got '262144' (a string)"),
    (dict(n_params=1e8, tokens_per_step=0), "tokens_per_step (--tokens-per-step) must be a positive whole number, got 0"),
    (dict(n_params=1e8, tokens_per_step=float("nan")), "must be a positive whole number, got nan"),
    (dict(n_params=1e8, batch_size=-256, seq_len=2048),
     "batch_size (--batch-size) must be a positive whole number, got -256"),
    (dict(n_params=1e8, batch_size=0.5, seq_len=2048), "batch_size (--batch-size) must be a positive whole number"),
    (dict(n_params=1e8, tokens_per_step=1000, planned_steps=-1),
     "planned_steps (--planned-steps) must be a positive whole number, got -1"),
    (dict(n_params=1e8, tokens_per_step=1000, planned_steps={"run_a": 0}),
     "planned_steps (--planned-steps) of run 'run_a' must be a positive whole number, got 0"),
    (dict(n_params=0, tokens_per_step=1000), "n_params (--params) must be a positive number, got 0"),
    (dict(n_params=True, tokens_per_step=1000), "got True (a boolean)"),
])
def test_python_options_are_checked(tmp_path, options, message):
    path = chart(tmp_path, good())
    with pytest.raises(InputError) as info:
        ingest(path, **options)
    assert str(info.value) == message or message in str(info.value)


def test_read_logs_option_error_not_a_numpy_error(tmp_path):
    import isoflop

    with pytest.raises(InputError, match="got '262144' \\(a string\\)"):
        isoflop.read_logs(chart(tmp_path, good()), n_params=1e8, tokens_per_step="262144")


# ------------------------------------------------------------------------------- 8. unusable steps

def test_negative_and_missing_steps_are_named(tmp_path):
    cells = good()
    steps = list(cells)
    cells = {(-100 if s == steps[2] else s): v for s, v in cells.items()}
    table = ingest(chart(tmp_path, cells, "neg.csv"), **WB)
    assert f"{tmp_path / 'neg.csv'} (run 'run_a'): dropped 1 point(s) at a negative step (row 3 at step -100)" \
        in table.warnings
    assert not any("step 0" in w for w in table.warnings)
    path = tmp_path / "empty.csv"
    path.write_text(chart(tmp_path, good()).read_text().replace("\n300,", "\n,"))
    table = ingest(path, **WB)
    assert len(table) == 14
    assert f"{path} (run 'run_b'): dropped 1 point(s) with a missing or non-finite step (row 3)" in table.warnings


def test_trainer_state_null_and_negative_steps(tmp_path):
    log = [{"step": s, "loss": 5.0 - i / 10} for i, s in enumerate((None, 20, -5, 40))]
    path = tmp_path / "run" / "trainer_state.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"global_step": 40, "max_steps": 40, "log_history": log}))
    table = ingest(path, n_params=1e8, tokens_per_step=1000)
    assert table.frame["step"].tolist() == [20.0, 40.0]
    assert any("with a missing or non-finite step (log_history entry 1)" in w for w in table.warnings)
    assert any("at a negative step (log_history entry 3 at step -5)" in w for w in table.warnings)
    assert not any("step 0" in w for w in table.warnings)


def test_step_zero_still_reported_as_no_tokens_seen(tmp_path):
    path = tmp_path / "z.csv"
    pd.DataFrame({"step": [0, 1, 2], "loss": [9.0, 4.0, 3.5]}).to_csv(path, index=False)
    table = ingest(path, n_params=1e8, tokens_per_step=10)
    assert table.frame["step"].tolist() == [1.0, 2.0]
    assert f"{path}: dropped 1 point(s) at step 0 (no tokens seen)" in table.warnings
    np.testing.assert_array_equal(table.frame["n_tokens"], [10.0, 20.0])


def test_an_interrupted_write_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    """`isoflop ingest --out` killed midway used to leave a cut file that read as complete (77,718 of 2M lines);
    now the old file stays until the new one is whole."""
    import pandas as pd

    from isoflop.ingest import write_runs
    from isoflop.runs import RunTable

    table = RunTable.from_frame(pd.DataFrame({"run_id": ["a", "a"], "step": [1, 2], "n_params": [1e8, 1e8],
                                              "n_tokens": [1e9, 2e9], "loss": [3.0, 2.9]}))
    out = tmp_path / "runs.csv"
    out.write_text("precious\n")

    def dies_midway(self, handle, **kw):
        handle.write(b"run_id,step\n")  # part of the new file, then the process is gone
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        write_runs(table, out)
    assert out.read_text() == "precious\n" and [p.name for p in tmp_path.iterdir()] == ["runs.csv"]
    monkeypatch.undo()
    write_runs(table, out)
    assert len(RunTable.load(out)) == 2


def test_fractional_steps_are_refused(tmp_path):
    """Steps 1.5, 2.7 are not optimiser steps (an epoch column, or a corrupt one): one error naming the rows."""
    path = tmp_path / "curves.csv"
    path.write_text("run_id,step,loss\na,1.5,4.0\na,2.7,3.5\na,3,3.2\n")
    with pytest.raises(InputError, match=r"fractional steps \(row 1 at step 1.5, row 2 at step 2.7\)"):
        ingest(path, n_params=1e8, tokens_per_step=1000)


def test_a_run_without_a_name_is_never_dropped_in_silence(tmp_path):
    """pandas 3 keeps an empty cell as NaN through astype(str): a runs file's empty run_id grouped as NaN, and
    the run's rows vanished from its final losses (20 runs read, 19 fitted); an empty W&B 'Name' crashed the
    warning that listed cut runs. Each is now named."""
    import isoflop

    runs = pd.DataFrame({"run_id": ["a", None, "c"], "n_params": [1e8, 2e8, 4e8], "n_tokens": [2e9, 4e9, 8e9],
                         "loss": [3.1, 2.9, 2.7], "step": [1, 1, 1]})
    runs.to_csv(tmp_path / "runs.csv", index=False)
    with pytest.raises(InputError, match="row 2, column 'run_id' is empty"):
        isoflop.read_runs(tmp_path / "runs.csv")
    table = tmp_path / "runs_table.csv"
    table.write_text("Name,State,Created,Runtime,train/loss,_step\n,finished,1,1,3.5,100\nb,finished,1,1,3.2,100\n")
    out = ingest(table, n_params=1e8, tokens_per_step=1000)
    assert set(out.frame["run_id"]) == {"b"} and any("row 1 has no run name" in w for w in out.warnings)
    # an empty State is not "running" (it was NaN, not in ("finished", ""), so the run read as unfinished)
    table.write_text("Name,State,Created,Runtime,train/loss,_step\na,,1,1,3.5,100\nb,running,1,1,3.2,50\n")
    flags = ingest(table, n_params=1e8, tokens_per_step=1000).frame.set_index("run_id")["truncated"]
    assert not flags["a"] and flags["b"]
    log = tmp_path / "log.csv"
    log.write_text("run_id,step,loss\na,1,3.0\n,2,2.9\n")
    with pytest.raises(InputError, match="row 2 logs 'loss' but its 'run_id' is empty"):
        ingest(log, n_params=1e8, tokens_per_step=1000)


def test_trainer_state_problems_name_the_log_history_entry(tmp_path):
    """Entry 12 of log_history (its 2nd eval) was called 'entry 2' or 'row 2', and entry 2 is a training entry."""
    from pathlib import Path

    state = json.loads((Path(__file__).resolve().parents[1] / "examples" / "gpt-small" /
                        "trainer_state.json").read_text())
    evals = [i for i, e in enumerate(state["log_history"]) if "eval_loss" in e]
    second = evals[1]
    for change, said in ((lambda e: e.pop("step"), f"log_history entry {second + 1} has 'eval_loss' but no 'step'"),
                         (lambda e: e.update(eval_loss=True), f"log_history entry {second + 1}, key 'eval_loss'")):
        edited = json.loads(json.dumps(state))
        change(edited["log_history"][second])
        folder = tmp_path / f"run{len(said)}"
        folder.mkdir()
        (folder / "trainer_state.json").write_text(json.dumps(edited))
        with pytest.raises(InputError, match=said):
            ingest(folder / "trainer_state.json", n_params=3.5e8, batch_size=256, seq_len=2048)


def test_a_null_loss_in_trainer_state_is_reported(tmp_path):
    """An "eval_loss": null entry was dropped without a word, while a NaN one is warned about."""
    from pathlib import Path

    state = json.loads((Path(__file__).resolve().parents[1] / "examples" / "gpt-small" /
                        "trainer_state.json").read_text())
    second = [i for i, e in enumerate(state["log_history"]) if "eval_loss" in e][1]
    state["log_history"][second]["eval_loss"] = None
    (tmp_path / "trainer_state.json").write_text(json.dumps(state))
    table = ingest(tmp_path / "trainer_state.json", n_params=3.5e8, batch_size=256, seq_len=2048)
    assert any(f"log_history entry {second + 1} logs 'eval_loss' as null; left out" in w for w in table.warnings)
