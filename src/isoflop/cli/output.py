"""How the CLI speaks: two consoles, one-line errors, strict JSON and numbers a person can read.

The consoles are ``stdout`` and ``stderr`` (no command parameter is called that, so none can shadow them).
Numbers are printed with 3–4 significant figures and the unit their name implies (``n_params`` → "72.2B",
``flops`` → "5.76e23 FLOPs", ``*_bytes`` → "80 GB", ``usd`` → "$1.23M", fractions as %), intervals like
their values. ``--json`` prints one strict JSON object: NaN and infinities become null.
"""

from __future__ import annotations

import json
import math
import sys
from contextlib import contextmanager

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..io_utils import strict_json as jsonable

stdout = Console(highlight=False)
stderr = Console(stderr=True, soft_wrap=True, highlight=False)

JSON_HELP = "Print one JSON object instead of a table."


@contextmanager
def user_errors():
    """Bad input (ValueError, InputError included) → one red line on stderr and exit code 2."""
    try:
        yield
    except ValueError as exc:
        stderr.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


# ------------------------------------------------------------------------------------------------ JSON

def print_json(obj) -> None:
    """One strict JSON object on stdout (``JSON.parse`` accepts it: no NaN, no Infinity)."""
    sys.stdout.write(json.dumps(jsonable(obj), allow_nan=False) + "\n")


# --------------------------------------------------------------------------------------------- numbers

_SUFFIXES = (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3))


def sig(x: float, digits: int = 4) -> str:
    """``x`` to ``digits`` significant figures, without trailing zeros or floating-point noise."""
    if x == 0 or not math.isfinite(x):
        return {0: "0"}.get(x, str(x))
    text = f"{x:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}e{int(exponent)}"
    return text


def count(x: float) -> str:
    """A count with a K/M/B/T suffix: 7.225e10 → '72.25B'; below 1,000 → '950'."""
    for suffix, scale in _SUFFIXES:
        if abs(x) >= scale:
            return f"{sig(x / scale)}{suffix}" if abs(x) < 1e3 * scale or suffix == "T" else sig(x)
    return sig(x)


def nbytes(x: float) -> str:
    for suffix, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(x) >= scale:
            return f"{sig(x / scale, 3)} {suffix}"
    return f"{sig(x, 3)} B"


def usd(x: float) -> str:
    for suffix, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= scale:
            return f"${sig(x / scale, 3)}{suffix}"
    return f"${x:,.2f}"


def value(key: str, x) -> str:
    """``x`` formatted for the quantity its ``key`` names."""
    if x is None:
        return "—"
    if isinstance(x, (bool, np.bool_, str)):
        return str(x)
    if isinstance(x, (list, tuple, np.ndarray)):
        return ", ".join(value(key, v) for v in x)
    x = float(x)
    if not math.isfinite(x):
        return "—"
    leaf = key.rsplit(".", 1)[-1]
    if "flops" in leaf and "per" not in leaf:
        return f"{sig(x, 3)} FLOPs"
    if "bytes" in leaf:
        return nbytes(x)
    if "usd" in leaf:
        return usd(x)
    if "fraction" in leaf or leaf == "mfu":
        return f"{sig(100 * x, 3)} %"
    if leaf == "days":
        return f"{sig(x, 3)} days"
    if leaf == "gpu_hours":
        return f"{count(x)} GPU-hours"
    if leaf in ("n_gpus", "min_gpus", "gpus", "n_points", "n_runs", "step", "n_steps"):
        return f"{x:,.0f}"
    if any(word in leaf for word in ("params", "tokens")) and "per" not in leaf:
        return count(x)
    return sig(x)


def interval(key: str, pair) -> str:
    return "" if pair is None else f"[{value(key, pair[0])}, {value(key, pair[1])}]"


# ---------------------------------------------------------------------------------------------- tables

def emit(result: dict, as_json: bool, title: str) -> None:
    """One JSON object, or a table of ``key  value  [interval]`` with nested objects flattened as
    'key.sub' and each ``intervals`` entry printed beside the value it bounds."""
    if as_json:
        print_json(result)
        return
    result = jsonable(result)
    has_intervals = _has_intervals(result)
    table = Table(title=escape(title), show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    if has_intervals:
        table.add_column(justify="right", style="dim")

    def add(prefix, obj):
        bounds = obj.get("intervals") or {}
        for key, item in obj.items():
            if key in ("intervals", "warnings"):
                continue
            name = f"{prefix}{key}"
            if isinstance(item, dict):
                add(f"{name}.", item)
                continue
            row = [escape(name), escape(value(name, item))]
            if has_intervals:
                row.append(escape(interval(name, bounds.get(key))))
            table.add_row(*row)

    add("", result)
    stdout.print(table)
    print_warnings(result.get("warnings", []))


def _has_intervals(obj) -> bool:
    return isinstance(obj, dict) and ("intervals" in obj or any(_has_intervals(v) for v in obj.values()))


def print_warnings(warnings, label: str = "warning") -> None:
    for w in warnings:
        stderr.print(f"[yellow]{label}:[/yellow] {escape(str(w))}")
