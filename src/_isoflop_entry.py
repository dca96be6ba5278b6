"""Entry point of the ``isoflop`` console script, outside the package so that it runs before ``import isoflop``.

Importing the package (NumPy, pandas, SciPy, typer) takes most of a second; a Ctrl-C or SIGTERM in that time
printed a KeyboardInterrupt traceback (or ended silently with 143). Here both end as they do later: one line,
exit 130."""

import signal
import sys


def _terminated(signum, frame):
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _terminated)
    try:
        from isoflop.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    cli_main()
