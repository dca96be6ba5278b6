"""What every command of the CLI shares: the consoles, number parsing, one-line errors and result printing."""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .units import format_quantity, parse_quantity

out = Console()
err = Console(stderr=True, soft_wrap=True)

JSON_HELP = "Print one JSON object instead of a table."


@contextmanager
def user_errors():
    """Turn bad input (ValueError, InputError included) into one red line and exit code 2."""
    try:
        yield
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


def number(text: Optional[str], name: str) -> Optional[float]:
    """A CLI quantity ('70B', '5.76e23') or None when the option was not given."""
    return None if text is None else parse_quantity(text, name)


def fmt(value) -> str:
    if isinstance(value, float):
        if abs(value) >= 1e3:
            return format_quantity(value)
        return f"{value:.4f}" if abs(value) >= 1e-3 else f"{value:.4g}"
    return str(value)


def emit(result: dict, as_json: bool, title: str) -> None:
    """One JSON object, or a two-column table with nested objects flattened as 'key.sub'."""
    if as_json:
        print(json.dumps(result))
        return
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")

    def add(prefix, obj):
        for key, value in obj.items():
            if isinstance(value, dict):
                add(f"{prefix}{key}.", value)
            else:
                table.add_row(f"{prefix}{key}", fmt(value))

    add("", result)
    out.print(table)
