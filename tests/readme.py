"""The README's commands, read from the README itself, so the tests run exactly what a user copies."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def code_blocks(lang: str = "bash") -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def commands() -> list[str]:
    """Every shell command of the README's bash blocks, in order: continuation lines joined, comments cut."""
    out = []
    for block in code_blocks():
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            line = re.sub(r"\s+#(?![^\"']*[\"'][^\"']*$).*$", "", line).strip()  # a trailing comment, not a quoted #
            if line and not line.startswith("#"):
                out.append(line)
    return out


def setup_commands() -> tuple[str, str]:
    """The two set-up commands: (main job, test suite)."""
    setup = [c for c in commands() if c.startswith("pip install")]
    return setup[0], setup[1]


def demo_command() -> str:
    """The `isoflop demo …` part of the main-job set-up command, verbatim."""
    return setup_commands()[0].split("&&")[-1].strip()


def python_blocks() -> list[str]:
    return code_blocks("python")
