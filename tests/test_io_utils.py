"""atomic_write: all-or-nothing replacement, strict JSON, file-system errors as one InputError naming the path."""

import json
import multiprocessing as mp
import os
from pathlib import Path

import pytest

from isoflop.errors import InputError
from isoflop.fitting.io import save_fit
from isoflop.io_utils import atomic_write, atomic_write_json, atomic_writer


def _no_nan(text):
    def refuse(constant):
        raise ValueError(f"non-strict JSON constant {constant}")
    return json.loads(text, parse_constant=refuse)


def test_write_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    atomic_write(path, "first")
    atomic_write(path, b"second \xe2\x9c\x93")
    assert path.read_bytes() == b"second \xe2\x9c\x93"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_failing_writer_keeps_the_old_file(tmp_path):
    path = tmp_path / "a.bin"
    atomic_write(path, b"old")
    with pytest.raises(RuntimeError):
        with atomic_writer(path) as f:
            f.write(b"half of the new")
            raise RuntimeError("killed mid-write")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_strict_json_has_no_nan_or_infinity(tmp_path):
    path = atomic_write_json(tmp_path / "r.json", {"loss": 2.5, "train_loss": float("nan"),
                                                  "curve": [1.0, float("inf"), -float("inf")], "n": 3})
    assert _no_nan(path.read_text()) == {"loss": 2.5, "train_loss": None, "curve": [1.0, None, None], "n": 3}


@pytest.mark.parametrize("where", ["parent-is-a-file", "missing-folder", "target-is-a-folder"])
def test_file_system_errors_are_one_input_error_naming_the_path(tmp_path, where):
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder").mkdir()
    path = {"parent-is-a-file": tmp_path / "file" / "out.json", "missing-folder": tmp_path / "no" / "out.json",
            "target-is-a-folder": tmp_path / "folder"}[where]
    with pytest.raises(InputError) as info:
        atomic_write_json(path, {"a": 1})
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_read_only_folder_is_an_input_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(InputError, match="ro/fit.json"):
            save_fit(folder / "fit.json", {"law": "chinchilla", "params": {}})
    finally:
        folder.chmod(0o700)


def _hammer(path, byte, n):
    for _ in range(n):
        atomic_write(path, bytes([byte]) * 65536)


def test_concurrent_writers_never_leave_a_mixed_file(tmp_path):
    """Two processes rewrite the same file 150 times each with 64 KiB of their own byte while this one
    reads it: every read sees one writer's whole file."""
    path = tmp_path / "shared.bin"
    atomic_write(path, b"a" * 65536)
    ctx = mp.get_context("fork")
    writers = [ctx.Process(target=_hammer, args=(path, byte, 150)) for byte in (ord("b"), ord("c"))]
    for w in writers:
        w.start()
    seen = set()
    while any(w.is_alive() for w in writers):
        data = path.read_bytes()
        assert len(data) == 65536 and len(set(data)) == 1
        seen.add(data[:1])
    for w in writers:
        w.join()
        assert w.exitcode == 0
    assert path.read_bytes() in (b"b" * 65536, b"c" * 65536)
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_save_fit_writes_strict_json(tmp_path):
    report = {"law": "chinchilla", "params": {"E": 1.8, "A": 400.0, "B": 410.0, "alpha": 0.34, "beta": 0.28},
              "objective": float("nan")}
    path = save_fit(tmp_path / "fit.json", report)
    assert _no_nan(path.read_text())["objective"] is None


def test_file_names_that_are_not_utf8_reach_reports_and_json(tmp_path):
    """A runs file named b'bad\\xff\\xfe.csv' made `isoflop report` fail ("surrogates not allowed") and put lone
    surrogates in `fit --json`, which strict readers reject. Each undecodable byte now reads U+FFFD."""
    import os
    import shutil

    from typer.testing import CliRunner

    from isoflop.cli import app
    from isoflop.io_utils import readable, strict_json

    assert readable("bad\udcff.csv") == "bad\ufffd.csv" and readable("plain ü") == "plain ü"
    assert strict_json({"bad\udcff": ["x\udcfe"]}) == {"bad\ufffd": ["x\ufffd"]}
    name = os.fsdecode(b"bad\xff\xfe.csv")
    try:
        shutil.copy(Path(__file__).resolve().parents[1] / "examples" / "runs.csv", tmp_path / name)
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses non-UTF-8 names")
    runner = CliRunner()
    report = runner.invoke(app, ["report", str(tmp_path / name), "--out", str(tmp_path / "r.html"),
                                 "--bootstrap", "0"])
    assert report.exit_code == 0, report.output
    assert "bad\ufffd\ufffd.csv" in (tmp_path / "r.html").read_text(encoding="utf-8")
    fit = runner.invoke(app, ["fit", str(tmp_path / name), "--json"])
    assert fit.exit_code == 0 and "\\udcff" not in fit.stdout
    json.loads(fit.stdout)
