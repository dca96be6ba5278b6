"""The `isoflop` command line. Each command parses its options, calls the public API and renders the result:
a table for people, or one strict JSON object with ``--json``. Bad input is one red line and exit code 2.

Modules: ``output`` (consoles, numbers with units, JSON), ``parse`` (every string the CLI reads),
``planning`` (plan, loss, frontier, diagnose, flops, laws), ``fitting`` (fit, ingest, report), ``sweeps``
(sweep design/run/status, demo).
"""

from __future__ import annotations

import os
import signal
import sys
import warnings
from typing import Optional

import typer

from .._version import __version__
from ..errors import ConvergenceWarning, CorruptFileWarning
from . import fitting, planning, sweeps
from .output import Command, print_error, print_warnings

CONTEXT = {"help_option_names": ["-h", "--help"]}


class _Group(typer.core.TyperGroup):
    """The command group, with click's usage errors (an unknown option, ``--seed x``, a missing ``--from``)
    as one red line and exit 2, like every other bad input, instead of a usage block and 'Error: …'."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except typer.Abort:  # Ctrl-D at a prompt
            print_error("aborted")
            sys.exit(1)
        except typer.exceptions.TyperException as exc:
            message = exc.format_message()
            if "\n" in message:  # a help page (`isoflop` alone): shown as it is
                print(message, file=sys.stderr)
            else:
                print_error(f"{message} (-h lists the options)")
            sys.exit(exc.exit_code)
        if code == 130:  # Ctrl-C: say so (finished sweep runs and files written whole are kept)
            print_error("interrupted")
        sys.exit(code or 0)


app = typer.Typer(cls=_Group, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
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
        app.command(name, context_settings=CONTEXT, cls=Command)(command)
app.add_typer(sweeps.sweep_app, name="sweep")
app.command("demo", context_settings=CONTEXT, cls=Command)(sweeps.demo_cmd)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """isoflop's own warnings (a corrupt file left out, a fit that did not converge) as one yellow line."""
    if issubclass(category, (CorruptFileWarning, ConvergenceWarning)):
        print_warnings([str(message)])
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def _terminated(signum, frame):
    """SIGTERM (``timeout``, ``kill``, a scheduler) as Ctrl-C: the same clean stop, files written whole, one
    line and exit 130 (it ended silently with 143)."""
    raise KeyboardInterrupt


def main() -> None:
    """Entry point of the `isoflop` script. A closed pipe (``isoflop plan --json | head -c 10``) ends quietly."""
    warnings.showwarning = _show_warning
    signal.signal(signal.SIGTERM, _terminated)
    try:
        app()
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at /dev/null so that flush cannot fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
