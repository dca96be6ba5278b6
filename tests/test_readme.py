"""The README is a contract: every `isoflop …` command in its code blocks runs as written, top to bottom.

The commands run verbatim, in order, in a scratch copy of `examples/` (the README says to run them there),
with `../../shared` pointing at the published data sets as in a checkout beside ../shared. Each must exit 0
with no traceback, in table mode and, where it offers one, in `--json` mode, whose output must pass a strict
JSON parser and keep the keys pinned in tests/golden/ (the public contract; ISOFLOP_UPDATE_GOLDEN=1 rewrites
them after a deliberate change). The demo (`isoflop demo`) runs in test_demo.py, exactly as written too.
The README's Python blocks run as well.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA, SHARED_SKIP
from tests.readme import commands, python_blocks

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
CLI = [c for c in commands() if c.startswith("isoflop ") and not c.startswith("isoflop demo")]


def _reject_constant(name):
    raise ValueError(f"not strict JSON: {name}")


def strict_json(text: str):
    """JSON.parse's rules: NaN, Infinity and -Infinity are errors."""
    return json.loads(text, parse_constant=_reject_constant)


def key_paths(obj, prefix="") -> list[str]:
    """The nested keys of a JSON object ('a', 'a.b', …); lists contribute their first element's keys."""
    out = []
    if isinstance(obj, dict):
        for key, val in obj.items():
            if key == "intervals" or re.fullmatch(r"[0-9.e+-]+", str(key)):
                continue  # intervals follow the fields they bound; numeric keys are data
            out.append(prefix + key)
            out += key_paths(val, prefix + key + ".")
    elif isinstance(obj, list) and obj and isinstance(obj[0], dict):
        out += key_paths(obj[0], prefix + "[]." if not prefix else prefix)
    return sorted(set(out))


def slug(command: str) -> str:
    """A file name for a command: readable, and unique (two commands may share their first 60 characters)."""
    digest = hashlib.sha256(command.encode()).hexdigest()[:8]
    return re.sub(r"[^a-z0-9]+", "-", command.lower()).strip("-")[:60] + "-" + digest


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A scratch checkout: project/examples (a copy) with ../../shared beside it, as in a real checkout."""
    root = tmp_path_factory.mktemp("readme")
    examples = root / "project" / "examples"
    shutil.copytree(ROOT / "examples", examples)
    if SHARED_DATA.exists():
        (root / "shared").symlink_to(SHARED_DATA.parent, target_is_directory=True)
    return examples


def run(command: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run one README line as a user's shell would; on a timeout the whole process group goes (no orphan
    training keeps the CPUs busy after the test)."""
    env = dict(os.environ, COLUMNS="120")
    proc = subprocess.Popen(["bash", "-c", command], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return subprocess.CompletedProcess(command, -9, out, err + f"\ntimed out after {timeout:.0f} s")
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def needs_shared(command: str) -> bool:
    return "shared/data" in command


def test_readme_has_commands():
    assert len(CLI) >= 25  # plan, fit, ingest, report, sweep … (a guard against a parser that finds nothing)
    assert any("--fit fit.json" in c for c in CLI)
    saves = [i for i, c in enumerate(CLI) if "--save fit.json" in c]
    uses = [i for i, c in enumerate(CLI) if "--fit fit.json" in c]
    assert saves and min(uses) > min(saves)  # every file is made before it is used


def test_every_readme_command_runs_as_written(workdir):
    failures, skipped = [], 0
    for command in CLI:
        if needs_shared(command) and not SHARED_DATA.exists():
            skipped += 1
            continue
        proc = run(command, workdir)
        if proc.returncode != 0 or "Traceback" in proc.stderr + proc.stdout:
            failures.append(f"{command}\n  exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-500:]}")
    assert not failures, "README commands that fail as written:\n" + "\n".join(failures)
    if skipped:
        pytest.skip(f"{SHARED_SKIP}: {skipped} README commands read it")


def test_every_readme_command_has_a_strict_json_twin(workdir):
    """`--json` on every command: one strict JSON object whose keys match the golden file."""
    update = os.environ.get("ISOFLOP_UPDATE_GOLDEN") == "1"
    GOLDEN.mkdir(exist_ok=True)
    failures = []
    for command in CLI:
        if needs_shared(command) and not SHARED_DATA.exists():
            continue
        twin = command if "--json" in command else f"{command} --json"
        proc = run(twin, workdir)
        if proc.returncode != 0:
            failures.append(f"{twin}: exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
            continue
        try:
            data = strict_json(proc.stdout)
        except ValueError as exc:
            failures.append(f"{twin}: not one strict JSON object ({exc}): {proc.stdout[:200]!r}")
            continue
        keys = key_paths(data)
        golden = GOLDEN / f"{slug(command)}.json"
        if update or not golden.exists():
            golden.write_text(json.dumps({"command": command, "keys": keys}, indent=1) + "\n")
        elif json.loads(golden.read_text())["keys"] != keys:
            want = set(json.loads(golden.read_text())["keys"])
            failures.append(f"{twin}: keys changed: added {sorted(set(keys) - want)}, removed {sorted(want - set(keys))}")
    assert not failures, "\n".join(failures)


def test_readme_python_blocks_run(workdir):
    blocks = python_blocks()
    assert blocks, "the README shows the Python API"
    if not SHARED_DATA.exists() and any("shared/data" in b for b in blocks):
        pytest.skip(f"{SHARED_SKIP}: the README's notebook example reads it")
    for block in blocks:
        proc = subprocess.run([sys.executable, "-c", block], cwd=workdir, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{block}\n{proc.stderr[-2000:]}"
        assert "Warning" not in proc.stderr, proc.stderr[-2000:]
