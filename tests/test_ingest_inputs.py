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
