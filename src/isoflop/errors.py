"""The one exception type for bad user input."""


class InputError(ValueError):
    """Bad input from a user: a message that names the offending value and how to fix it.

    The CLI prints it as one red line and exits with code 2; library callers can catch ValueError.
    """


class CorruptFileWarning(UserWarning):
    """A file that should hold data could not be used (unreadable, truncated, implausible values); the
    message names its path and what was done instead (left out, retrained). Never raised for user input."""
