"""Common wrong inputs given to `isoflop ingest`, each written as users write it: a spreadsheet's ';'-separated
CSV, a printed (stdout) training log, a history saved with pandas' orient="index". Each is read, or refused in
one line that names the file and the fix (the messages before named a step column the file did not need)."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from isoflop.cli import app
from isoflop.errors import CorruptLogWarning, InputError
from isoflop.ingest import ingest

runner = CliRunner()
TPS = 1000


def cli_ingest(source, out):
    return runner.invoke(app, ["ingest", str(source), "--out", str(out), "--params", "1e8", "--tokens-per-step",
                               str(TPS)])


# ------------------------------------------------------------------------------------- ';'-separated CSV

def test_a_semicolon_separated_csv_is_read_with_its_decimal_commas(tmp_path):
    """Excel in a European locale saves 'CSV' with ';' between columns and ',' in numbers. It was read as one
    column 'step;loss', and refused as having no step column ('name it with --step-key'); the decimal-comma
    file was even called cut. Read as `isoflop.read_runs` reads ';' files, decimal commas as decimal points."""
    euro = tmp_path / "euro.csv"
    euro.write_text("step;loss\n1;4,0\n2;3,5\n3;3,25\n")
    table = ingest(euro, n_params=1e8, tokens_per_step=TPS)
    np.testing.assert_array_equal(table.frame["loss"], [4.0, 3.5, 3.25])
    np.testing.assert_array_equal(table.frame["step"], [1, 2, 3])
    dots = tmp_path / "dots.csv"  # ';' between columns, '.' in numbers (pandas' to_csv(sep=';'))
    dots.write_text("run_id;step;loss\na;1;4.0\na;2;3.5\nb;1;4.5\nb;2;3.75\n")
    table = ingest(dots, n_params=1e8, tokens_per_step=TPS)
    assert table.finals().frame.set_index("run_id")["loss"].to_dict() == {"a": 3.5, "b": 3.75}
    tabs = tmp_path / "tabs.csv"  # tab-separated, named .csv
    tabs.write_text("step\tloss\n1\t4.0\n2\t3.5\n")
    np.testing.assert_array_equal(ingest(tabs, n_params=1e8, tokens_per_step=TPS).frame["loss"], [4.0, 3.5])
    assert cli_ingest(euro, tmp_path / "runs.csv").exit_code == 0


def test_a_cut_semicolon_separated_csv_marks_its_run(tmp_path):
    """Cut and short rows are found with the file's own separator."""
    path = tmp_path / "runs.csv"
    path.write_text("run_id;step;loss\na;1;4,0\na;2;3,5\nb;1;4,5\nb;2;3,75\nb;3;3,")
    with pytest.warns(CorruptLogWarning, match=r"line 6: 'b;3;3,'"):
        table = ingest(path, n_params=1e8, tokens_per_step=TPS)
    assert table.frame.groupby("run_id")["truncated"].all().to_dict() == {"a": False, "b": True}


# -------------------------------------------------------------------------------- a printed training log

def test_a_printed_training_log_says_what_is_read_and_how_to_convert(tmp_path):
    """A stdout log saved as .txt was read as a CSV and refused for want of a step column ('it has 'step 100 |
    loss 4.01 | lr 1e-3' — name it with --step-key'); as .log it was an 'unknown file type'."""
    printed = "step 100 | loss 4.01 | lr 1e-3\nstep 200 | loss 3.80 | lr 1e-3\n"
    for name in ("train.txt", "train.log"):
        path = tmp_path / name
        path.write_text(printed)
        with pytest.raises(InputError, match=rf"{name}: a text log, not a table .*'step 100 \| loss 4.01 \| lr 1e-3'.*"
                                             r"TensorBoard event files.*write each logged step and loss to a CSV "
                                             r"with the header step,loss"):
            ingest(path, n_params=1e8, tokens_per_step=TPS)
        result = cli_ingest(path, tmp_path / "runs.csv")
        assert result.exit_code == 2 and f"{name}: a text log" in result.output
    table = tmp_path / "table.txt"  # a CSV saved as .txt, with a step column: read, as before
    table.write_text("step,loss\n1,4.0\n2,3.5\n")
    np.testing.assert_array_equal(ingest(table, n_params=1e8, tokens_per_step=TPS).frame["loss"], [4.0, 3.5])
    folder = tmp_path / "logs"  # a folder of printed logs only: named, with the same fix
    folder.mkdir()
    (folder / "train.txt").write_text(printed)
    with pytest.raises(InputError, match=r"logs: no event files, trainer_state.json or tables .*text logs \(train.txt\) "
                                         r"are not read.*header step,loss"):
        ingest(folder, n_params=1e8, tokens_per_step=TPS)


# ---------------------------------------------------------------------------- JSON saved with another orient

def test_a_json_history_saved_with_another_orient_names_orient_records(tmp_path):
    """A W&B history (run.history()) saved with to_json(orient='index') was read with its row labels as columns:
    'none of the usual step columns … it has '0', '1', '2' — name it with --step-key'."""
    history = pd.DataFrame({"_step": [1, 2, 3], "loss": [4.0, 3.5, 3.25], "train/global_step": [10, 20, 30]})
    for orient, said in (("index", r"an object of row label → \{column: value\}, as to_json\(orient='index'\) "
                                   r"writes \('0': \{…\}\)"),
                         ("split", r"an object of 'columns' and 'data', as to_json\(orient='split'\) writes"),
                         ("values", r"rows without column names, as to_json\(orient='values'\) writes")):
        path = tmp_path / f"{orient}.json"
        history.to_json(path, orient=orient)
        with pytest.raises(InputError, match=rf"{orient}.json: {said}; save it with to_json\(path, "
                                             r"orient='records'\)"):
            ingest(path, n_params=1e8, tokens_per_step=TPS)
    for orient in ("records", "columns"):  # read as before
        path = tmp_path / f"{orient}.json"
        history.to_json(path, orient=orient)
        table = ingest(path, n_params=1e8, tokens_per_step=TPS)
        np.testing.assert_array_equal(table.frame["step"], [10, 20, 30])
        np.testing.assert_array_equal(table.frame["loss"], [4.0, 3.5, 3.25])
    path = tmp_path / "one.json"  # a dict of dicts keyed by column names is orient='columns': not refused
    path.write_text(json.dumps({"step": {"a": 1, "b": 2}, "loss": {"a": 4.0, "b": 3.5}}))
    np.testing.assert_array_equal(ingest(path, n_params=1e8, tokens_per_step=TPS).frame["loss"], [4.0, 3.5])


# ------------------------------------------------------------------------------------------ dangling symlinks

def link(path, target):
    """``path`` made a symbolic link to ``target`` (which need not exist); skips where links cannot be made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.symlink_to(target)
    except (OSError, NotImplementedError):
        pytest.skip("symbolic links cannot be made here")
    return path


def test_a_broken_link_in_a_folder_of_tables_is_data_loss(tmp_path):
    """c.csv -> missing.csv (a log moved away, a mount gone) was skipped without a word: two runs came back
    where the folder listed three."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.csv").write_text("step,loss\n1,4.0\n2,3.5\n")
    (logs / "b.csv").write_text("step,loss\n1,4.2\n2,3.7\n")
    link(logs / "c.csv", "missing.csv")
    with pytest.warns(CorruptLogWarning, match=r"1 damaged part\(s\) of the logs \(.*c.csv: a broken link \(to "
                                               r"missing.csv\): nothing of it could be read"):
        table = ingest(logs, n_params=1e8, tokens_per_step=TPS)
    assert sorted(table.frame["run_id"].unique()) == ["a", "b"]
    with pytest.raises(InputError, match=r"c.csv: a broken link \(to missing.csv\).*on_corrupt='error'"):
        ingest(logs, n_params=1e8, tokens_per_step=TPS, on_corrupt="error")
    result = cli_ingest(logs, tmp_path / "runs.csv")
    assert result.exit_code == 0 and "data loss:" in result.output and "c.csv: a broken link" in result.output
    only = tmp_path / "only"
    link(only / "c.csv", "missing.csv")
    with pytest.raises(InputError, match=r"only: no event files, trainer_state.json or tables .*broken links: "
                                         r".*c.csv \(to missing.csv\)"):
        ingest(only, n_params=1e8, tokens_per_step=TPS)


def test_a_broken_event_file_link_is_data_loss(tb):
    """run3/events.out.tfevents.x -> /nonexistent: run3 vanished without a word; and a run's later event file
    linked to nothing left the run looking whole, its last readable loss taken as final."""
    from torch.utils.tensorboard import SummaryWriter

    for run in ("run1", "run2"):
        writer = SummaryWriter(str(tb / run))
        for step in range(1, 4):
            writer.add_scalar("train/loss", 4 - step / 10, step)
        writer.close()
    link(tb / "run3" / "events.out.tfevents.1700000000.host", "/nonexistent/events")
    with pytest.warns(CorruptLogWarning, match=r"run3/events.out.tfevents.1700000000.host: a broken link \(to "
                                               r"/nonexistent/events\).*1 run\(s\) skipped .*\(run3\)"):
        table = ingest(tb, n_params=1e8, tokens_per_step=TPS)
    assert sorted(table.frame["run_id"].unique()) == ["run1", "run2"] and not table.frame["truncated"].any()
    with pytest.raises(InputError, match=r"run3/events.out.tfevents.1700000000.host: a broken link"):
        ingest(tb, n_params=1e8, tokens_per_step=TPS, on_corrupt="error")
    # run1's later file (by name: write order) is a broken link: its end may be lost
    link(tb / "run1" / "events.out.tfevents.9999999999.host", "/nonexistent/later")
    with pytest.warns(CorruptLogWarning, match=r"run\(s\) that lost their end are left out of final-loss fits "
                                               r"\(run1\)"):
        table = ingest(tb, n_params=1e8, tokens_per_step=TPS)
    assert table.frame.groupby("run_id")["truncated"].all().to_dict() == {"run1": True, "run2": False}


def test_a_broken_trainer_state_link_is_data_loss(tmp_path):
    """hf/r2/trainer_state.json -> /nonexistent: run r2 vanished without a word."""
    from pathlib import Path

    state = Path(__file__).resolve().parents[1] / "examples" / "gpt-small" / "trainer_state.json"
    (tmp_path / "hf" / "r1").mkdir(parents=True)
    (tmp_path / "hf" / "r1" / "trainer_state.json").write_text(state.read_text())
    link(tmp_path / "hf" / "r2" / "trainer_state.json", "/nonexistent/state")
    with pytest.warns(CorruptLogWarning, match=r"r2/trainer_state.json: a broken link \(to /nonexistent/state\).*"
                                               r"1 run\(s\) skipped .*\(r2\)"):
        table = ingest(tmp_path / "hf", n_params=3.5e8, batch_size=256, seq_len=2048)
    assert list(table.frame["run_id"].unique()) == ["r1"]
    with pytest.raises(InputError, match=r"r2/trainer_state.json: a broken link"):
        ingest(tmp_path / "hf", n_params=3.5e8, batch_size=256, seq_len=2048, on_corrupt="error")
