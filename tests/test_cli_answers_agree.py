"""A second hostile pass over the command line (2026-11-26): where two commands answer the same question they
give the same numbers and warnings, options that cannot apply are refused rather than recorded, and every number
is shown with its unit."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from isoflop.cli import app
from tests.conftest import shared_file

runner = CliRunner()
RUNS = str(Path(__file__).resolve().parents[1] / "examples" / "runs.csv")


def run_json(*args):
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def saved_fit(tmp_path_factory):
    path = tmp_path_factory.mktemp("fit") / "fit.json"
    result = runner.invoke(app, ["fit", RUNS, "--bootstrap", "100", "--save", str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_a_report_from_a_saved_fit_plans_as_plan_fit_does(saved_fit, tmp_path):
    """`report fit.json` gave the ensemble's parameter-only loss interval ([2.292, 2.306] at 1e21), 3× narrower
    than `plan --fit` ([2.278, 2.318], calibrated), with no distance and no warning."""
    plan = run_json("plan", "--fit", str(saved_fit), "--flops", "1e21")
    report = run_json("report", str(saved_fit), "--budgets", "1e21", "--out", str(tmp_path / "r.html"))
    row = report["plans"][0]
    assert row["loss_interval"] == pytest.approx(plan["intervals"]["loss"], rel=1e-12)
    assert row["extrapolation_decades"] == pytest.approx(plan["extrapolation_decades"])
    # plan's extra line is the verdict ("weakly identified"), which the report gives in its banner
    assert report["plan_warnings"] == plan["warnings"][-1:] and "extrapolates 1.52 decades" in plan["warnings"][-1]
    assert report["options"] is None and "weakly identified" in report["verdict"]


def test_fitting_options_do_not_apply_to_a_saved_fit(saved_fit, tmp_path):
    """They were recorded as used ({'form': 'kaplan', 'fixed': {'E': 1.5}, …}) while the chinchilla fit stood."""
    result = runner.invoke(app, ["report", str(saved_fit), "--form", "kaplan", "--fix", "E=1.5", "--out",
                                 str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "--form, --fix" in result.stderr and "not refitted" in result.stderr
    # ignored in silence: the first two always, the rest when typed at their defaults (a hand list of defaults
    # told given options from the rest)
    for option, value in (("--smooth", "0.1"), ("--param-convention", "non-embedding"), ("--form", "chinchilla"),
                          ("--bootstrap", "200"), ("--delta", "1e-3"), ("--seed", "0")):
        result = runner.invoke(app, ["report", str(saved_fit), option, value, "--out", str(tmp_path / "r.html")])
        assert result.exit_code == 2 and option in result.stderr and "not refitted" in result.stderr


def test_approach_2_needs_three_sizes_per_budget_not_three_runs():
    """Datablations' runs repeat one size per budget: approach 2 fitted parabolas to one size and printed
    N* ∝ C^-0.245 with optima of 1.9e-5 parameters, and NumPy's RankWarning leaked."""
    result = runner.invoke(app, ["fit", str(shared_file("datablations_repeated_c4.csv")), "--isoflop", "--json"])
    assert result.exit_code == 0 and "RankWarning" not in result.output
    out = json.loads(result.stdout)
    assert out["isoflop"] is None and any("3+ model sizes" in n for n in out["notes"])


def test_data_constrained_refuses_what_it_cannot_use():
    data = str(shared_file("datablations_repeated_c4.csv"))
    for args, said in ((["--fix", "E=1.7"], "(--fix) applies to the chinchilla"),
                       (["--backtest-above", "1e21"], "not available for --form data-constrained")):
        result = runner.invoke(app, ["fit", data, "--form", "data-constrained", *args])
        assert result.exit_code == 2 and said in result.stderr, result.output


def test_repeated_data_keeps_the_published_range_warnings():
    """`loss --unique-tokens` renamed the law (…+muennighoff2023-repetition) and so lost the preset's range
    warning that the same call without --unique-tokens gives (Hoffmann et al.: 70M–16B parameters)."""
    plain = run_json("loss", "--params", "70B", "--tokens", "1.29T")
    repeated = run_json("loss", "--params", "70B", "--tokens", "1.29T", "--unique-tokens", "1T")
    assert "outside 70M to 16B" in plain["warnings"][0] and "outside 70M to 16B" in repeated["warnings"][0]
    assert repeated["loss"] > plain["loss"]  # 1.29 epochs cost a little (Muennighoff et al. 2023)


def test_numbers_show_their_units(saved_fit):
    """A dollar fraction printed as '$0.719'; a frontier from a fit dropped its loss intervals from the table;
    a fit planned at two budgets printed its intervals as raw nested lists of 17 digits."""
    args = ["plan", "--match-flops", "1e23", "--inference-tokens", "10T", "--gpu", "h100-sxm",
            "--usd-per-gpu-hour", "2", "--inference-mfu", "0.2", "--inference-usd-per-gpu-hour", "20"]
    fraction = run_json(*args)["saved_usd_fraction"]
    assert f"{100 * fraction:.3g}%" in runner.invoke(app, args).stdout
    table = runner.invoke(app, ["frontier", "--fit", str(saved_fit), "--from", "1e20", "--to", "1e21",
                                "--per-decade", "1"]).stdout
    rows = run_json("frontier", "--fit", str(saved_fit), "--from", "1e20", "--to", "1e21", "--per-decade", "1")
    first = rows["rows"][0]
    assert f"[{first['optimal_loss_low']:.4g} nats," in table and f"{first['optimal_loss_high']:.4g} nats]" in table
    fit = runner.invoke(app, ["fit", RUNS, "--bootstrap", "100", "--plan", "1e21,1e22"]).stdout
    assert "], [" in fit and "[[" not in fit and "2515047737" not in fit


def test_a_fit_file_with_a_byte_order_mark_reads(saved_fit, tmp_path):
    marked = tmp_path / "bom.json"
    marked.write_bytes(b"\xef\xbb\xbf" + saved_fit.read_bytes())
    with_mark, without = (run_json("plan", "--fit", str(path), "--flops", "1e21") for path in (marked, saved_fit))
    assert with_mark.pop("warnings")[1:] == without.pop("warnings")[1:] and with_mark == without  # [0] names the file


@pytest.mark.parametrize("key, value, said", [
    ("ensemble", [1, 2, 3], "ensemble must be an object"), ("ensemble", "abc", "ensemble must be an object"),
    ("identifiability", ["identified"], "identifiability must be an object"),  # was dropped: no refusal
    ("calibration", [1], "calibration must be an object"),
    ("calibration.n_folds", None, "calibration.n_folds must be a whole number"),  # was a TypeError traceback
    ("calibration.n_folds", "abc", "calibration.n_folds must be a whole number")])
def test_a_hand_edited_fit_file_gives_one_line_naming_the_key(saved_fit, tmp_path, key, value, said):
    data = json.loads(saved_fit.read_text())
    if "." in key:
        outer, inner = key.split(".")
        data[outer][inner] = value
    else:
        data[key] = value
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data))
    result = runner.invoke(app, ["plan", "--fit", str(edited), "--flops", "1e21"])
    assert result.exit_code == 2 and said in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_outputs_are_checked_before_the_work_and_written_whole(tmp_path, monkeypatch):
    """`fit --save missing/fit.json` failed after the whole fit (22 s on 100,000 runs); `frontier --csv` wrote
    in place, so a kill left a shorter table that read as complete; killed writers' temporaries were never
    removed; a valid 245-byte file name plus the temporary suffix was refused as too long."""
    import os

    from isoflop.io_utils import atomic_write, temp_path

    for args in (["fit", RUNS, "--save", str(tmp_path / "missing" / "fit.json")],
                 ["report", RUNS, "--out", str(tmp_path / "missing" / "r.html")],
                 ["frontier", "--from", "1e20", "--to", "1e21", "--csv", str(tmp_path / "missing" / "f.csv")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "does not exist; create it first" in result.stderr
    target = tmp_path / "f.csv"
    dead = temp_path(target).with_name(temp_path(target).name.replace(f"-{os.getpid()}-", "-999999999-", 1))
    dead.write_text("half a table")  # what a writer killed mid-way leaves
    writes = []
    monkeypatch.setattr("isoflop.cli.planning.atomic_write", lambda path, text: writes.append(text) or
                        atomic_write(path, text))
    assert runner.invoke(app, ["frontier", "--from", "1e20", "--to", "1e21", "--csv", str(target)]).exit_code == 0
    assert len(writes) == 1 and target.read_bytes().decode() == writes[0]  # one whole write, not row by row
    assert not dead.exists()  # pid 999999999 is gone: its leftover was removed
    long_name = tmp_path / ("x" * 240 + ".json")
    atomic_write(long_name, "{}")
    assert long_name.read_text() == "{}"
