"""The `isoflop` command line. Each command parses its options, calls the public API and renders the result:
a table for people, or one strict JSON object with ``--json``. Bad input is one red line and exit code 2.

Modules: ``output`` (consoles, numbers with units, JSON), ``parse`` (every string the CLI reads),
``planning`` (plan, loss, frontier, diagnose, flops, laws), ``fitting`` (fit, ingest, report), ``sweeps``
(sweep design/run/status, demo).
"""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from .._version import __version__
from . import fitting, planning, sweeps

CONTEXT = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  context_settings=CONTEXT, help="Plan compute-optimal training runs from scaling laws: fit laws "
                  "to runs, plan budgets, diagnose configurations, design and run IsoFLOP sweeps.")


def _version(show: bool) -> None:
    if show:
        print(f"isoflop {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True,
                                                  help="Print the version and exit.")):
    """Plan compute-optimal training runs from scaling laws."""


for module in (planning, fitting):
    for name, command in module.COMMANDS.items():
        app.command(name, context_settings=CONTEXT)(command)
app.add_typer(sweeps.sweep_app, name="sweep")
app.command("demo", context_settings=CONTEXT)(sweeps.demo_cmd)


def main() -> None:
    """Entry point of the `isoflop` script. A closed pipe (``isoflop plan --json | head -c 10``) ends quietly."""
    try:
        app()
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at /dev/null so that flush cannot fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
