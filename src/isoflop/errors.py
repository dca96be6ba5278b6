"""The one exception type for bad user input, and the warning for damaged logs."""


class InputError(ValueError):
    """Bad input from a user: a message that names the offending value and how to fix it.

    The CLI prints it as one red line and exits with code 2; library callers can catch ValueError.
    """


class CorruptLogWarning(UserWarning):
    """Training logs were damaged (corrupt or cut records, cut rows): what was whole was read, the rest is
    described in the RunTable's warnings, and runs that lost their end are marked ``truncated``.

    Raised as an error instead with ``on_corrupt="error"``; silence it with Python's ``warnings`` filters.
    """
