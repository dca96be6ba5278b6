"""The exception for bad user input, and the warnings isoflop issues."""


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
