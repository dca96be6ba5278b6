"""RunTable loading and validation: every problem names its row and column."""

import json

import numpy as np
import pandas as pd
import pytest

from isoflop.errors import InputError
from isoflop.runs import RunTable, parse_column_map


def frame(**cols):
    base = {"n_params": [1e8, 2e8, 4e8], "n_tokens": [2e9, 4e9, 8e9], "loss": [3.1, 2.9, 2.7]}
    base.update(cols)
    return pd.DataFrame(base)


def test_derives_tokens_from_flops():
    df = pd.DataFrame({"Model Size": [1e8, 1e9], "Training FLOP": [6e18, 6e20], "loss": [3.0, 2.5]})
    t = RunTable.from_frame(df, parse_column_map('n_params="Model Size",flops="Training FLOP"'))
    np.testing.assert_allclose(t.n_tokens, [1e10, 1e11])
    np.testing.assert_allclose(t.flops, [6e18, 6e20])


def test_flops_derived_from_tokens():
    t = RunTable.from_frame(frame())
    np.testing.assert_allclose(t.flops, 6 * t.n_params * t.n_tokens)


@pytest.mark.parametrize("cols,match", [
    ({"loss": [3.1, "abc", 2.7]}, r"row 2, column 'loss'.*not a number"),
    ({"loss": [3.1, np.nan, 2.7]}, r"row 2, column 'loss'.*not finite"),
    ({"n_params": [1e8, 2e8, np.inf]}, r"row 3, column 'n_params'"),
    ({"n_tokens": [2e9, -4e9, 8e9]}, r"row 2, column 'n_tokens'.*positive"),
    ({"n_params": [0, 2e8, 4e8]}, r"row 1, column 'n_params'.*positive"),
])
def test_validation_names_row_and_column(cols, match):
    with pytest.raises(InputError, match=match):
        RunTable.from_frame(frame(**cols))


def test_missing_columns():
    with pytest.raises(InputError, match="missing column.*loss"):
        RunTable.from_frame(pd.DataFrame({"n_params": [1.0], "n_tokens": [1.0]}))
    with pytest.raises(InputError, match="n_tokens \\(or flops\\)"):
        RunTable.from_frame(pd.DataFrame({"n_params": [1.0], "loss": [1.0]}))
    with pytest.raises(InputError, match="'Size' .*not found"):
        RunTable.from_frame(frame(), {"n_params": "Size"})


def test_duplicates_reported_not_dropped():
    df = pd.concat([frame(), frame().iloc[[1]]])
    t = RunTable.from_frame(df)
    assert len(t) == 4
    assert any("duplicate" in w and "rows 2, 4" in w for w in t.warnings)


def test_formats_roundtrip(tmp_path):
    df = frame(run_id=["a", "b", "c"])
    df.to_csv(tmp_path / "r.csv", index=False)
    df.to_json(tmp_path / "r.jsonl", orient="records", lines=True)
    (tmp_path / "r.json").write_text(json.dumps(df.to_dict(orient="records")))
    df.to_parquet(tmp_path / "r.parquet")
    for name in ("r.csv", "r.jsonl", "r.json", "r.parquet"):
        t = RunTable.load(tmp_path / name)
        np.testing.assert_allclose(t.loss, [3.1, 2.9, 2.7])
        assert list(t.run_ids) == ["a", "b", "c"]
    with pytest.raises(InputError, match="no such file"):
        RunTable.load(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="unknown file type"):
        (tmp_path / "r.xlsx").write_text("")
        RunTable.load(tmp_path / "r.xlsx")


def test_finals_keeps_last_step_per_run():
    df = pd.DataFrame({"run_id": ["a", "a", "b", "b"], "step": [1, 2, 1, 2], "n_params": [1e8] * 4,
                       "n_tokens": [1e9, 2e9, 1e9, 2e9], "loss": [3.0, 2.8, 3.1, 2.9]})
    finals = RunTable.from_frame(df).finals()
    assert len(finals) == 2 and sorted(finals.loss) == [2.8, 2.9]


def test_drop_highest_is_reported():
    t = RunTable.from_frame(frame()).drop_highest_loss(1)
    assert len(t) == 2 and max(t.loss) == 2.9 and any("dropped" in w for w in t.warnings)


def test_column_map_errors():
    with pytest.raises(InputError, match="unknown field"):
        parse_column_map("params=Size")
    with pytest.raises(InputError, match="name=column"):
        parse_column_map("n_params")


# ------------------------------------------------------------------ nothing silently wrong (issue 13)

@pytest.mark.parametrize("cols,match", [
    ({"loss": [3.1, True, 2.7]}, r"row 2, column 'loss': True is a boolean"),
    ({"loss": [True, False, True]}, r"row 1, column 'loss': .*boolean"),
    ({"n_params": [1e8, np.bool_(True), 4e8]}, r"row 2, column 'n_params'.*boolean"),
    ({"n_params": [0.5, 2e8, 4e8]}, r"row 1, column 'n_params': 0.5 is below 1"),
    ({"n_tokens": [2e9, 4e9, 1e-3]}, r"row 3, column 'n_tokens'.*below 1"),
    ({"n_params": [1e8, 2e8, 1e300], "n_tokens": [2e9, 4e9, 1e300]}, r"row 3: flops = inf is out of range"),
    ({"loss": [3.1, "1,5", 2.7]}, r"row 2, column 'loss'.*not a number"),
    ({"planned_tokens": [1e9, True, None]}, r"row 2, column 'planned_tokens'"),
    ({"planned_tokens": [1e9, np.inf, None]}, r"row 2, column 'planned_tokens'"),
])
def test_out_of_range_and_booleans_are_errors(cols, match):
    with pytest.raises(InputError, match=match):
        RunTable.from_frame(frame(**cols))


def test_boolean_column_from_csv_is_an_error(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("n_params,n_tokens,loss\n1e8,2e9,True\n2e8,4e9,False\n")
    with pytest.raises(InputError, match=r"runs.csv: row 1, column 'loss': .*boolean"):
        RunTable.load(path)


def test_mapped_column_clashing_with_existing_one():
    df = frame(size=[1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="'n_params' appears twice"):
        RunTable.from_frame(df, {"n_params": "size"})


def test_flops_disagreeing_with_6nd_is_reported_with_rows():
    base = frame()
    six_nd = 6 * base["n_params"] * base["n_tokens"]
    flops = six_nd * np.array([1.05, 167.0, 0.5])  # within 10%, 167× off, half
    t = RunTable.from_frame(frame(flops=flops))
    (warning,) = [w for w in t.warnings if "6·N·D" in w]
    assert "2 of 3 rows (rows 2, 3; worst row 2: 167× 6·N·D)" in warning
    assert "Chinchilla and Kaplan forms fit n_tokens" in warning and "use flops" in warning
    np.testing.assert_array_equal(t.flops, flops)  # kept as given
    np.testing.assert_array_equal(t.n_tokens, base["n_tokens"])
    assert not [w for w in RunTable.from_frame(frame(flops=six_nd * 1.09)).warnings if "6·N·D" in w]
    assert not RunTable.from_frame(frame(flops=flops), flops_tolerance=None).warnings


@pytest.mark.parametrize("k,match", [(3, "cannot drop 3 of 3 rows; give at most 2"), (50, "cannot drop 50 of 3"),
                                     (-1, "negative"), (True, "whole number"), (1.0, "whole number")])
def test_drop_highest_out_of_range(k, match):
    with pytest.raises(InputError, match=match):
        RunTable.from_frame(frame()).drop_highest_loss(k)


def test_drop_highest_names_dropped_runs():
    t = RunTable.from_frame(frame(run_id=["a", "b", "c"])).drop_highest_loss(2)
    assert list(t.run_ids) == ["c"] and "(a, b)" in t.warnings[-1]
    assert RunTable.from_frame(frame()).drop_highest_loss(0).warnings == ()


def test_unterminated_last_line_is_reported_not_dropped(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("n_params,n_tokens,loss\n1e8,2e9,3.1\n2e8,4e9,4.0")  # perhaps '4.0268' cut short
    t = RunTable.load(path)
    assert len(t) == 2 and any("ends without a newline" in w and "'2e8,4e9,4.0'" in w for w in t.warnings)
    path.write_text("n_params,n_tokens,loss\n1e8,2e9,3.1\n2e8,4e9,4.0\n")
    assert RunTable.load(path).warnings == ()


def test_every_bad_value_is_counted_and_the_first_by_row_named(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("n_params,n_tokens,loss\n2e7,8e9,3.7\n4e7,4e9,nan\n8e7,2e9,3.5\n-3,1e9,3.5\n3e8,5e8,abc\n")
    with pytest.raises(InputError) as err:
        RunTable.load(path)
    message = str(err.value)
    assert message.startswith(f"{path}: row 2, column 'loss': nan is missing or not finite (and 2 more: ")
    assert "row 4, column 'n_params': -3 must be positive" in message and "row 5, column 'loss': 'abc'" in message


@pytest.mark.parametrize("name, text", [
    ("runs.csv", "n_params,n_tokens,loss\n20000000,8e9,3.7\n1" + "0" * 400 + ",4e9,3.5\n"),  # whole numbers
    ("runs.json", '[{"n_params": 2e7, "n_tokens": 8e9, "loss": 3.7}, {"n_params": 1' + "0" * 400
     + ', "n_tokens": 4e9, "loss": 3.5}]'),
])
def test_an_integer_past_a_floats_range_is_a_bad_value_not_a_traceback(tmp_path, name, text):
    """A 1 and 400 zeros in a cell raised pandas' OverflowError ("int too large to convert to float"): a
    traceback and exit 1 from `isoflop fit`. Oracle: float('1e400') is inf."""
    path = tmp_path / name
    path.write_text(text)
    assert float("1e400") == np.inf
    with pytest.raises(InputError, match=r"row 2, column 'n_params': inf is missing or not finite"):
        RunTable.load(path)


def test_semicolon_separated_csv_is_read(tmp_path):
    comma, semi = tmp_path / "comma.csv", tmp_path / "semi.csv"
    rows = [("n_params", "n_tokens", "loss"), ("2e7", "8e9", "3.7"), ("4e7", "4e9", "3.55")]
    comma.write_text("\n".join(",".join(r) for r in rows) + "\n")
    semi.write_text("\n".join(";".join(r) for r in rows) + "\n")
    assert RunTable.load(semi).frame.equals(RunTable.load(comma).frame)
    tabs = tmp_path / "tabs.csv"  # was "missing column(s) n_params, loss, …; map foreign names with --columns"
    tabs.write_text("\n".join("\t".join(r) for r in rows) + "\n")
    assert RunTable.load(tabs).frame.equals(RunTable.load(comma).frame)


def test_jsonl_cut_mid_line_keeps_the_whole_lines_and_says_so(tmp_path):
    """A JSON-lines file whose writer was killed mid-record was a hard error while a CSV cut mid-row was read with
    a warning: the cut line is now left out, and said so. A bad line that is not the last stays an error."""
    path = tmp_path / "runs.jsonl"
    whole = '{"n_params": 1e8, "n_tokens": 2e9, "loss": 3.1}\n{"n_params": 2e8, "n_tokens": 4e9, "loss": 2.9}\n'
    path.write_text(whole + '{"n_params": 4e8, "n_tok')
    table = RunTable.load(path)
    assert table.n_params.tolist() == [1e8, 2e8]
    assert any("last line" in w and "cut" in w and "left out" in w for w in table.warnings)
    path.write_text(whole.replace('"loss": 3.1}', '"loss": 3.1') + '{"n_params": 4e8, "n_tok')
    with pytest.raises(InputError, match="line 1 is not JSON"):
        RunTable.load(path)
    path.write_text('{"n_params": 4e8, "n_tok')  # nothing whole to keep
    with pytest.raises(InputError, match="line 1 is not JSON"):
        RunTable.load(path)


def test_unreadable_tables_name_the_line_in_one_line(tmp_path):
    """A bad JSON line was named by its byte offset ('position 52721948'); a CSV row with an extra field gave a
    message with a newline inside."""
    jsonl = tmp_path / "runs.jsonl"
    jsonl.write_text('{"n_params": 1e8, "n_tokens": 1e9, "loss": 3}\n{"n_params": 2e8, "loss":\n[1, 2]\n')
    with pytest.raises(InputError, match=r"line 2 is not JSON") as err:
        RunTable.load(jsonl)
    assert "\n" not in str(err.value)
    jsonl.write_text('{"n_params": 1e8, "n_tokens": 1e9, "loss": 3}\n[1, 2]\n')
    with pytest.raises(InputError, match=r"line 2 is not a JSON object"):
        RunTable.load(jsonl)
    extra = tmp_path / "runs.csv"
    extra.write_text("n_params,n_tokens,loss\n1e8,1e9,3\n2e8,2e9,2.9,7\n")
    with pytest.raises(InputError, match="Expected 3 fields in line 3, saw 4") as err:
        RunTable.load(extra)
    assert "\n" not in str(err.value)


def test_a_column_map_naming_no_field_says_so():
    """columns={"params": ...} renamed the column, then reported n_params missing, never naming the typo."""
    frame = pd.DataFrame({"Model Size": [1e8, 2e8], "n_tokens": [1e9, 2e9], "loss": [3.0, 2.9]})
    with pytest.raises(InputError, match="unknown field 'params'"):
        RunTable.from_frame(frame, columns={"params": "Model Size"})
    assert RunTable.from_frame(frame, columns={"n_params": "Model Size"}).n_params.tolist() == [1e8, 2e8]


@pytest.mark.parametrize("text, sep", [("n_params,n_tokens,loss,loss\n1e8,1e9,3.0,9.0\n2e8,2e9,2.8,9.0\n", ","),
                                       ("n_params;n_tokens;loss;loss\n1e8;1e9;3.0;9.0\n2e8;2e9;2.8;9.0\n", ";"),
                                       ("n_params\tn_tokens\tloss\tloss\n1e8\t1e9\t3.0\t9.0\n", "\t")])
def test_a_column_named_twice_is_an_error(tmp_path, text, sep):
    """pandas renames a repeated 'loss' to 'loss.1': read_runs fitted the first and dropped the other without a
    word (losses 3.0 and 2.8; the 9.0 column ignored)."""
    path = tmp_path / "runs.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=r"runs\.csv: two columns named 'loss' \(columns 3 and 4\)"):
        RunTable.load(path)


def test_a_table_of_dates_or_suffixed_numbers_is_refused_with_the_fix(tmp_path):
    """A Parquet column of dates was read as nanoseconds since 1970 (n_params 1.7e18, no word); a cell written as
    on the command line ('70B') was only "not a number"."""
    frame = pd.DataFrame({"n_params": pd.to_datetime(["2024-01-01", "2024-01-02"]), "n_tokens": [1e9, 2e9],
                          "loss": [3.0, 2.9]})
    frame.to_parquet(tmp_path / "dates.parquet")
    with pytest.raises(InputError, match=r"column 'n_params' holds dates or durations"):
        RunTable.load(tmp_path / "dates.parquet")
    (tmp_path / "suffixed.csv").write_text("n_params,n_tokens,loss\n70B,1.4T,2.0\n1e9,2e10,3\n")
    with pytest.raises(InputError, match=r"'70B' is not a number \(write it as 7e\+10") as caught:
        RunTable.load(tmp_path / "suffixed.csv")
    assert "'1.4T' is not a number (write it as 1.4e+12" in str(caught.value)
    (tmp_path / "words.csv").write_text("n_params,n_tokens,loss\nbig,1e9,2.0\n")
    with pytest.raises(InputError, match=r"'big' is not a number$"):
        RunTable.load(tmp_path / "words.csv")


def test_read_runs_reads_what_ingest_reads_european_csv_and_refuses_index_json(tmp_path):
    """`isoflop ingest` reads a ';'-separated CSV with decimal commas (a European spreadsheet's export) and names
    orient='records' for JSON saved with orient='index'; `read_runs` (what `isoflop fit` reads) refused the first
    ("'3,1' is not a number") and read the second as a table whose columns were the row labels."""
    import isoflop

    truth = pd.DataFrame({"n_params": [1e8, 2e8, 4e8], "n_tokens": [2e9, 4e9, 8e9], "loss": [3.125, 3.0, 2.875]})
    (tmp_path / "eu.csv").write_text(truth.to_csv(sep=";", decimal=",", index=False))
    (tmp_path / "eu_dots.csv").write_text(truth.to_csv(sep=";", index=False))
    for name in ("eu.csv", "eu_dots.csv"):
        table = isoflop.read_runs(tmp_path / name)
        assert table.frame[["n_params", "n_tokens", "loss"]].to_numpy().tolist() == truth.to_numpy().tolist()
    truth.to_json(tmp_path / "records.json", orient="records")
    truth.to_json(tmp_path / "columns.json")  # pandas' default orient: a table too
    for name in ("records.json", "columns.json"):
        assert isoflop.read_runs(tmp_path / name).frame["loss"].tolist() == truth["loss"].tolist()
    truth.rename(columns={"n_params": "Model Size"}).to_json(tmp_path / "index.json", orient="index")
    with pytest.raises(InputError, match=r"index\.json: .*orient='index'.*orient='records'"):
        isoflop.read_runs(tmp_path / "index.json", columns={"n_params": "Model Size"})


def test_missing_columns_guess_the_map_from_usual_names():
    """A table with other names for the fields got Epoch's example map whatever its columns: Porian et al.'s
    points (n, t, flops) were told to map n_params="Model Size". The map is now guessed from the names other
    tools use, and the guess, which is said to be one, reads the table; without a guess the example stays."""
    points = pd.DataFrame({"param_count": ["standard"] * 3, "n": [1e8, 2e8, 4e8], "t": [2e9, 4e9, 8e9],
                           "loss": [3.1, 3.0, 2.9]})
    with pytest.raises(InputError, match=r"--columns n_params=n,n_tokens=t \(a guess from the names: check it\)"):
        RunTable.from_frame(points)
    assert RunTable.from_frame(points, {"n_params": "n", "n_tokens": "t"}).n_params.tolist() == [1e8, 2e8, 4e8]
    epoch = pd.DataFrame({"Model Size": [1e8], "Training FLOP": [1e18], "final_loss": [3.0]})
    with pytest.raises(InputError, match=r'n_params="Model Size",loss=final_loss,flops="Training FLOP" \(a guess'):
        RunTable.from_frame(epoch)
    with pytest.raises(InputError, match=r'--columns n_params="Model Size",flops="Training FLOP"$'):
        RunTable.from_frame(pd.DataFrame({"width": [1.0], "steps": [1.0], "score": [1.0]}))
