"""Every string the CLI reads, parsed in one place: quantities, lists, PARAMSxTOKENS, fixed parameters."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import InputError
from ..units import parse_nonnegative, parse_positive, parse_quantity


def number(text: str | None, option: str) -> float | None:
    """A positive quantity ('70B', '5.76e23'), or None when the option was not given."""
    return None if text is None else parse_quantity(text, option)


def count_or_zero(text: str | None, option: str) -> float | None:
    """A quantity that may be 0 (e.g. inference tokens), or None when not given."""
    return None if text is None else parse_nonnegative(text, option)


def whole(text: str, option: str, positive: bool = False) -> int:
    """A count ≥ 0 (``positive``: ≥ 1) written as the other numbers are ('1000', '1e3', '1K'); one red line
    otherwise, not typer's usage error."""
    value = parse_positive(text, option) if positive else parse_nonnegative(text, option)
    if value != int(value):
        raise InputError(f"{option}: must be a whole number, got {text!r}")
    return int(value)


def numbers(text: str, option: str) -> tuple[float, ...]:
    """'1e21,1e22,1e23' → (1e21, 1e22, 1e23); at least one."""
    parts = str(text).split(",")
    if not any(part.strip() for part in parts):
        raise InputError(f"{option}: give one or more numbers separated by commas, e.g. 1e21,1e22")
    if not all(part.strip() for part in parts):  # '1e9,,2e9' lost whatever was meant between the commas
        raise InputError(f"{option}: {text!r} has an empty item; give one number between each pair of commas")
    return tuple(parse_quantity(part, option) for part in parts)


def config(text: str | None) -> tuple[float, float] | None:
    """'7e9x140e9' or '7Bx140B' → (n_params, n_tokens)."""
    if text is None:
        return None
    parts = str(text).lower().replace("×", "x").split("x")
    if len(parts) != 2:
        raise InputError(f"--config: expected PARAMSxTOKENS such as 7e9x140e9 or 7Bx140B, got {text!r}")
    return parse_quantity(parts[0], "--config params"), parse_quantity(parts[1], "--config tokens")


def fixed(text: str | None) -> dict[str, float]:
    """'E=1.69,alpha=0.34' → {'E': 1.69, 'alpha': 0.34}."""
    out = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, val = part.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--fix: expected NAME=VALUE pairs such as E=1.69, got {part.strip()!r}")
        if key.strip() in out:
            raise InputError(f"--fix: {key.strip()} is given twice; give each parameter once")
        out[key.strip()] = parse_quantity(val, f"--fix {key.strip()}")
    return out


def path(text) -> Path:
    """A file or folder name from the command line. An empty one (`--out "$DIR"` with DIR unset) would become
    Path('.'), the current folder, so `sweep run --out ''` trained into it: refused (typer's ``parser=``)."""
    if not str(text).strip():
        raise typer.BadParameter("an empty name (an unset shell variable?); give a file or folder name")
    return Path(text)
