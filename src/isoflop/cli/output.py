"""How the CLI speaks: two consoles, one-line errors, strict JSON and numbers a person can read.

The consoles are ``stdout`` and ``stderr`` (no command parameter is called that, so none can shadow them).
Numbers are printed by ``isoflop.units`` with 3–4 significant figures and the unit their name implies
(``n_params`` → "72.2B", ``flops`` → "5.76e23 FLOPs", ``*_bytes`` → "80 GB", ``usd`` → "$1.23M", fractions as
%), intervals like their values. ``--json`` prints one strict JSON object: NaN and infinities become null.
"""

from __future__ import annotations

import json
import re
import sys
from contextlib import contextmanager

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import InputError
from ..io_utils import strict_json as jsonable
from ..units import format_field, format_interval, format_number, unit_of

class Command(typer.core.TyperCommand):
    """A command that refuses an option given twice: click keeps the last, so `plan --flops 1e21 --flops 1e22`
    planned 1e22 in silence. Repeatable options (``multiple``) are left alone."""

    def parse_args(self, ctx, args):
        once = {name: p for p in self.params if p.param_type_name == "option" and not p.multiple
                for name in (*p.opts, *p.secondary_opts)}
        seen = {}
        for arg in args:
            if arg == "--":
                break
            name = arg.split("=", 1)[0]
            if name in once:
                key = once[name].name
                if key in seen:
                    raise typer.BadParameter("given twice; give it once" if seen[key] == name else
                                             f"{seen[key]} sets it too; give one", ctx=ctx, param_hint=name)
                seen[key] = name
        return super().parse_args(ctx, args)


def typed(ctx, names) -> list[str]:
    """The options among ``names`` (parameter names) given on the command line, as their flags: a value equal
    to the default, typed, counts (a hand list of defaults to compare against had to follow every change)."""
    flags = {p.name: p.opts[0] for p in ctx.command.params}
    return [flags[name] for name in names if ctx.get_parameter_source(name).name == "COMMANDLINE"]


stdout = Console(highlight=False)
stderr = Console(stderr=True, soft_wrap=True, highlight=False)

JSON_HELP = "Print one JSON object instead of a table."


@contextmanager
def user_errors():
    """Bad input (ValueError, InputError included) and file-system errors → one red line on stderr, exit 2."""
    try:
        yield
    except ValueError as exc:
        print_error(str(exc))
        raise typer.Exit(2) from None
    except OSError as exc:  # a file-system refusal the code below did not foresee: still one line, naming the path
        where = f"{exc.filename}: " if exc.filename else ""
        print_error(where + (exc.strerror or str(exc)))
        raise typer.Exit(2) from None


def print_error(message: str) -> None:
    """One red line on stderr: bad input, a usage error, an interrupt."""
    stderr.print(f"[red]error:[/red] {escape(message)}")


def naming_flags(exc: Exception, flags: dict[str, str], prefix: str = "") -> InputError:
    """``exc`` reworded for the command line: the API's names (n_layer, data.source) become the flags the user
    typed (--layers, --data), and ``prefix`` ('architecture: ', 'flags: ') is dropped."""
    text = str(exc).removeprefix(prefix)
    for name, flag in flags.items():
        text = re.sub(rf"(?<![\w.-]){re.escape(name)}\b", flag, text)
    return InputError(text)


# ------------------------------------------------------------------------------------------------ JSON

def print_json(obj) -> None:
    """One strict JSON object on stdout (``JSON.parse`` accepts it: no NaN, no Infinity)."""
    sys.stdout.write(json.dumps(jsonable(obj), allow_nan=False) + "\n")


# --------------------------------------------------------------------------------------------- numbers

def sig(x, digits: int = 4) -> str:
    """A plain number (a loss, an exponent) with ``digits`` significant figures."""
    return format_number(x, digits)


def value(key: str, x) -> str:
    """``x`` formatted with the unit its ``key`` names (``isoflop.units.unit_of``): 3–4 significant figures."""
    if isinstance(x, (list, tuple, np.ndarray)):
        return ", ".join(value(key, v) for v in x)
    if (key.rsplit(".", 1)[-1] in _WHOLE_NUMBERS and isinstance(x, (int, float)) and not isinstance(x, bool)
            and abs(x) < 1e15):  # exact counts (vocab 50,257); past 1e15 digits stop being readable
        return f"{x:,.0f}"
    return format_field(key, x)


_WHOLE_NUMBERS = {"n_gpus", "min_gpus", "n_points", "n_runs", "step", "n_steps", "n_members", "n_resamples",
                  "n_converged"}


def interval(key: str, pair) -> str:
    """``[low, high]``, or for a plan over several budgets ``[[lows…], [highs…]]``: one interval per budget."""
    if pair is None:
        return ""
    if isinstance(pair[0], (list, tuple, np.ndarray)):
        return ", ".join(format_interval(low, high, unit_of(key)) for low, high in zip(pair[0], pair[1]))
    return format_interval(pair[0], pair[1], unit_of(key))


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
    """Whether any level holds a non-empty ``intervals`` (an empty one would add an empty column)."""
    return isinstance(obj, dict) and (bool(obj.get("intervals")) or any(_has_intervals(v) for v in obj.values()))


def fitted_constants(report: dict) -> list[tuple[str, float | None]]:
    """A fit report's constants to show, (name, value), with a = β/(α + β), the exponent of N* ∝ C^a (Hoffmann
    et al. 2022, eq. 4), after them when the bootstrap gave it an interval (it was shown with an empty value)."""
    params = report["params"]
    rows = list(params.items())
    if "a" in report.get("intervals", {}):
        alpha, beta = params.get("alpha"), params.get("beta", params.get("alpha"))  # chinchilla-tied: β = α
        rows.append(("a", beta / (alpha + beta) if alpha is not None and alpha + beta > 0 else None))
    return rows


def show_progress(as_json: bool) -> bool:
    """Whether to draw progress on stderr: always for a table; under --json only when stderr is a terminal,
    where a person is waiting (a 1,000-resample bootstrap of 1e5 runs took 11 minutes in silence), and never
    into a pipe or log that a program reads. stdout holds the JSON alone either way."""
    return not as_json or stderr.is_terminal


def print_warnings(warnings, label: str = "warning") -> None:
    """One yellow line on stderr each."""
    for w in warnings:
        stderr.print(f"[yellow]{label}:[/yellow] {escape(str(w))}")
