"""The exception for bad user input, and the warnings isoflop issues."""

import os
import sys
import warnings


class InputError(ValueError):
    """Bad input from a user: a message that names the offending value and how to fix it.

    The CLI prints it as one red line and exits with code 2; library callers can catch ValueError.
    """


class CorruptFileWarning(UserWarning):
    """A file that should hold data could not be used (unreadable, truncated, implausible values); the
    message names its path and what was done instead (left out, retrained). Never raised for user input."""


class CorruptLogWarning(CorruptFileWarning):
    """Training logs were damaged (corrupt or cut records, cut rows): what was whole was read, the rest is
    described in the RunTable's warnings, and runs that lost their end are marked ``truncated``.

    Raised as an error instead with ``on_corrupt="error"``; silence it with Python's ``warnings`` filters.
    """


class ConvergenceWarning(UserWarning):
    """A fit stopped before its optimiser converged (as sklearn.exceptions.ConvergenceWarning): its constants
    are the last iterate, not an optimum. Filter it with ``warnings.simplefilter("error", ConvergenceWarning)``
    to make such fits fail."""


class UnidentifiedWarning(UserWarning):
    """An answer (a plan, diagnosis or frontier) computed from a fit the data cannot pin down, because the
    caller overrode the refusal (``allow_unidentified=True``); the message says why the fit is unidentified."""


def warn_at_caller(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` pointing at the first frame outside isoflop: the user's line, however deep inside the
    package the problem was found (a fit's ConvergenceWarning pointed at ``isoflop/fitting/__init__.py``)."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 2  # level 2: this function's caller
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
