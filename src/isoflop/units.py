"""Numbers in and out: strict parsing of '70B', '1.4T', '5.76e23', and formatting with 3–4 significant figures.

Parsing rules (one place, so every option and table cell reads numbers alike):
- A number, optionally with one suffix (case-insensitive): K = 1e3, M = 1e6, B or G = 1e9, T = 1e12,
  P = 1e15. Underscores between digits group them as in Python (``1_000``). Whitespace around is ignored.
- Commas are rejected: ``1,5B`` is 1.5B in some locales and 15B in others, and ``1,000`` reads as a thousand
  or as one; the message suggests ``1.5B`` / ``1000``.
- Booleans are not numbers (``True`` is not 1), nor are empty strings, ``nan`` or ``inf``.
- ``parse_positive`` (> 0: sizes, budgets) and ``parse_nonnegative`` (≥ 0: counts that may be zero, e.g.
  inference tokens; 0 means 0, never "not given").
- Decimal text is converted exactly, then rounded once: '1.4T' is the float nearest 1.4e12 and '2.21e19'
  stays 2.21e19 (no 1.4 × 1e12 product noise).

Formatting (for people; JSON keeps full floats): parameters and tokens ``7.22B``, ``1.33T``; FLOPs
``5.76e23 FLOPs``; bytes in decimal units as GPU vendors state them (``80 GB``); dollars ``$1.23M``; durations
``12.3 days`` (hours below a day); fractions ``41.2%``; plain numbers (losses, exponents) with 4 significant
figures. ``None`` and non-finite values print as ``n/a``. `format_value` dispatches on a unit name and
`unit_of` maps the CLI's output keys to units.
"""

from __future__ import annotations

import decimal
import math
import numbers

import numpy as np

from .errors import InputError

_SUFFIXES = {"K": 3, "M": 6, "B": 9, "G": 9, "T": 12, "P": 15}
_EXAMPLES = "use e.g. 5.76e23, 70B, 1.4T, 300M"
MISSING = "n/a"


def parse_quantity(text, name: str = "value", positive: bool = True) -> float:
    """Parse '70B' → 7e10, '1.4T' → 1.4e12, '300M', '2.5k', '5.76e23' or a number (see the module docstring).

    ``positive``: True requires > 0; False accepts any finite number (use `parse_nonnegative` for counts).
    Raises InputError, naming ``name``, for anything else.
    """
    value = _parse(text, name)
    if positive and value <= 0:
        raise InputError(f"{name}: must be positive, got {_show(text)}")
    return value + 0.0  # -0.0 → 0.0


def parse_positive(text, name: str = "value") -> float:
    """A quantity > 0 (a size, a budget, a token count that must be non-zero)."""
    return parse_quantity(text, name, positive=True)


def parse_nonnegative(text, name: str = "value") -> float:
    """A quantity ≥ 0 (a count that may be zero, e.g. inference tokens: 0 means none, not "not given")."""
    value = parse_quantity(text, name, positive=False)
    if value < 0:
        raise InputError(f"{name}: must be zero or positive, got {_show(text)}")
    return value


def is_number(value) -> bool:
    """A real number — Python's or NumPy's, inf and nan included — and not a boolean (True is an int)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def as_positive(name: str, value, *, allow_zero: bool = False) -> np.ndarray:
    """``value`` as a float array of positive, finite numbers (``allow_zero``: ≥ 0): a number, a string with a
    unit suffix ("70B", as on the command line) or an array-like of numbers. Anything else raises InputError
    naming ``name`` and the first bad value (with how many more), never the array's repr."""
    if isinstance(value, (str, bool, np.bool_)):  # text as the command line reads it; a boolean refused there
        value = parse_quantity(value, name)
    try:
        arr = np.array(value, dtype=float)  # a copy: a result must not change when the caller edits its array
    except OverflowError:  # a Python int past a float's range, 10**400
        raise InputError(f"{name}: a whole number beyond a float's range (above 1.8e308); give sizes a run could "
                         f"have") from None
    except (TypeError, ValueError):
        raise InputError(f"{name}: expected a positive number or an array of them, got {type(value).__name__} "
                         f"{value!r:.80}") from None
    if arr.size == 0:
        raise InputError(f"{name}: empty; give a number or an array of at least one")
    bad = np.ravel(~(np.isfinite(arr) & ((arr >= 0) if allow_zero else (arr > 0))))
    if bad.any():
        more = f" (and {bad.sum() - 1} more)" if bad.sum() > 1 else ""
        what = "finite and ≥ 0" if allow_zero else "positive and finite"
        raise InputError(f"{name} must be {what}, got {np.ravel(arr)[bad][0]:.4g}{more}")
    return arr


def as_count(name: str, value) -> np.ndarray:
    """``as_positive``, and at least 1: a count of tokens (0.5 unique tokens planned 2,457 nats per token)."""
    arr = as_positive(name, value)
    if np.any(arr < 1):
        raise InputError(f"{name} must be at least 1 (a count of tokens), got {np.min(arr):.4g}")
    return arr


def check_broadcast(**arrays) -> None:
    """InputError naming the arrays given (None: not given) when their shapes do not broadcast, e.g. two
    budgets beside three unique-token counts (NumPy's "shape mismatch" named no argument)."""
    given = {name: np.shape(value) for name, value in arrays.items() if value is not None}
    try:
        np.broadcast_shapes(*given.values())
    except ValueError:
        shapes = ", ".join(f"{name} {shape}" for name, shape in given.items())
        raise InputError(f"{', '.join(given)} must have one shape or broadcast (one number beside an array), got "
                         f"{shapes}") from None


def _show(text) -> str:
    """How an error shows a given value: text quoted, a number as written in science (-1e12, not
    -1000000000000.0)."""
    if isinstance(text, str):
        return repr(text)
    if isinstance(text, numbers.Real) and not isinstance(text, (bool, np.bool_)):
        try:
            return f"{float(text):.6g}"
        except OverflowError:  # an int beyond any float (10**400)
            return f"an integer of {len(str(abs(int(text))))} digits"
    return str(text)


def _parse(text, name: str) -> float:
    """Any finite number, or InputError."""
    if isinstance(text, (bool, np.bool_)):  # numpy.bool_ is not a bool subclass
        raise InputError(f"{name}: {text!r} is a boolean, not a number ({_EXAMPLES})")
    if isinstance(text, numbers.Real):
        try:
            value = float(text)
        except OverflowError:
            value = math.inf
    elif isinstance(text, str):
        value = _parse_text(text, name)
    else:
        raise InputError(f"{name}: expected a number, got {type(text).__name__} {text!r} ({_EXAMPLES})")
    if not math.isfinite(value):
        raise InputError(f"{name}: {_show(text)} is not a finite number ({_EXAMPLES})")
    return value


def _parse_text(text: str, name: str) -> float:
    s = text.strip()
    if not s:
        raise InputError(f"{name}: empty; give a number ({_EXAMPLES})")
    if "," in s:
        raise InputError(f"{name}: {text!r} has a comma, which reads differently by locale; write decimals with a "
                         f"point and no thousands separators (1.5B, 1000)")
    exponent = 0
    if s[-1].upper() in _SUFFIXES:
        exponent, s = _SUFFIXES[s[-1].upper()], s[:-1].rstrip()
    try:
        number = decimal.Decimal(s)  # accepts Python's digit grouping '1_000' and exponents '5.76e23'
        if not number.is_finite():
            return math.inf
        return float(number.scaleb(exponent))  # exact scaling by 10^k, then one rounding to float
    except decimal.Overflow:
        return math.inf
    except (ArithmeticError, ValueError):  # decimal.InvalidOperation: not a number
        raise InputError(f"{name}: cannot read {text!r} as a number ({_EXAMPLES})") from None


# ----------------------------------------------------------------------------------------------- formatting

def _finite(x) -> bool:
    return x is not None and not isinstance(x, bool) and isinstance(x, numbers.Real) and math.isfinite(x)


def _sig(x: float, digits: int, exact: bool | None = None) -> str:
    """x with ``digits`` significant figures and no exponent noise: 2.21e+19 → '2.21e19'. Trailing zeros are
    dropped only when the number is ``exact`` at that many figures (70e9 → '70', 1e21 → '1e21'; by default
    judged on x itself); a rounded one keeps them, so 5.9985e10 reads '6.00e10', not '6e10', which would
    claim one figure."""
    exact = _exact(x, digits) if exact is None else exact
    text = f"{x:.{digits}g}" if exact else f"{x:#.{digits}g}".rstrip(".")
    if "e" in text:
        mantissa, exp = text.split("e")
        text = f"{mantissa.rstrip('.')}e{int(exp)}"  # one figure in '#' form keeps its point: '1.e+15'
    return text


def _exact(x: float, digits: int) -> bool:
    """Whether x has at most ``digits`` significant figures (to float noise: 0.05 days · 24 = 1.2 hours)."""
    return abs(_rounded(x, digits) - x) <= 1e-9 * abs(x)


def _rounded(x: float, digits: int) -> float:
    """x rounded to ``digits`` significant figures, so the unit is chosen after rounding (999,950 → 1M)."""
    return float(f"{x:.{digits}g}")


def format_quantity(x, digits: int = 3) -> str:
    """A count with an SI-style suffix: 7.22e9 → '7.22B', 1.33e12 → '1.33T', 300e6 → '300M', 512 → '512'.

    K, M, B, T as `parse_quantity` reads them (so the output parses back); 1e15 and beyond in scientific
    notation ('1.2e18'), where suffixes stop being readable.
    """
    if not _finite(x):
        return MISSING
    exact = _exact(float(x), digits)
    x = _rounded(float(x), digits)
    size = abs(x)
    for suffix, exponent in (("T", 12), ("B", 9), ("M", 6), ("K", 3)):
        if 10**exponent <= size < 10 ** (exponent + 3):
            return f"{_below_1000(x / 10**exponent, digits, exact)}{suffix}"
    if size < 1000:
        return _below_1000(x, digits, exact)
    return _sig(x, digits, exact)  # 1e15 and beyond: '%g' switches to an exponent there


def _below_1000(x: float, digits: int, exact: bool) -> str:
    """A mantissa under 1,000 with ``digits`` figures: 160 at 2 figures is '160' ('%.2g' gives '1.6e+02')."""
    if abs(x) >= 10**digits:  # x was rounded to ``digits`` figures, so it is a whole number here
        return f"{x:.0f}"
    return _sig(x, digits, exact)


def format_flops(x, digits: int = 3) -> str:
    """FLOPs in scientific notation: 5.76e23 → '5.76e23 FLOPs'."""
    return f"{format_scientific(x, digits)} FLOPs" if _finite(x) else MISSING


def format_flop_rate(x, digits: int = 3) -> str:
    """FLOP/s in scientific notation: 9.89e14 → '9.89e14 FLOP/s'."""
    return f"{format_scientific(x, digits)} FLOP/s" if _finite(x) else MISSING


def format_scientific(x, digits: int = 3) -> str:
    """A FLOP count's number alone, where the unit is said beside it (a table's header, '… FLOPs'):
    5.76e23 → '5.76e23', 2.9e20 at 2 figures → '2.9e20' (not 2.9e+20)."""
    return _sci(float(x), digits) if _finite(x) else MISSING


def _sci(x: float, digits: int) -> str:
    if x == 0:
        return "0"
    mantissa, exp = f"{x:.{digits - 1}e}".split("e")
    if "." in mantissa and _exact(x, digits):  # as _sig: zeros dropped only where nothing was rounded
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exp)}"


def format_bytes(x, digits: int = 3) -> str:
    """Bytes in decimal units, as accelerator memory is sold: 80e9 → '80 GB', 1.5e12 → '1.5 TB'."""
    if not _finite(x):
        return MISSING
    exact = _exact(float(x), digits)
    x = _rounded(float(x), digits)
    for unit, exponent in (("PB", 15), ("TB", 12), ("GB", 9), ("MB", 6), ("KB", 3)):
        if abs(x) >= 10**exponent:
            return f"{_sig(x / 10**exponent, digits, exact)} {unit}"
    return f"{_sig(x, digits, exact)} B"


def format_usd(x, digits: int = 3) -> str:
    """Dollars: 1.234e6 → '$1.23M', 512.3 → '$512', 0.0512 → '$0.0512'."""
    if not _finite(x):
        return MISSING
    sign, text = ("-", format_quantity(-x, digits)) if x < 0 else ("", format_quantity(x, digits))
    return f"{sign}${text}"


def format_days(x, digits: int = 3) -> str:
    """A duration given in days: 12.34 → '12.3 days', 0.25 → '6 hours', 1 → '1 day', 1000 → '2.74 years'
    (years of 365.25 days from 1,000 days on)."""
    if not _finite(x):
        return MISSING
    if abs(x) < 1:
        hours = _sig(_rounded(x * 24, digits), digits, _exact(x * 24, digits))
        return f"{hours} hour{'' if hours == '1' else 's'}"
    if abs(_rounded(x, digits)) >= 1000:
        return f"{format_quantity(x / 365.25, digits)} years"
    days = _sig(_rounded(x, digits), digits, _exact(x, digits))
    return f"{days} day{'' if days == '1' else 's'}"


def format_percent(x, digits: int = 3) -> str:
    """A fraction as a percentage: 0.4123 → '41.2%'."""
    if not _finite(x):
        return MISSING
    percent = 100 * float(x)
    return f"{_sig(_rounded(percent, digits), digits, _exact(percent, digits))}%"


def format_number(x, digits: int = 4) -> str:
    """A plain number (a loss, an exponent, a ratio) with ``digits`` significant figures: 1.81724 → '1.817'."""
    if not _finite(x):
        return MISSING
    return _sig(float(x), digits)


def format_loss(x, digits: int = 4) -> str:
    """A loss in nats per token (cross-entropy, natural log), trailing zeros kept so that 4 figures stay 4:
    1.97436 → '1.974 nats', 1.99961 → '2.000 nats'."""
    if not _finite(x):
        return MISSING
    x = float(x)
    if abs(x) >= 10**digits:  # a loss past 9,999 nats (a law far outside its data): '1.907e4', not '1.907e+04'
        return f"{_sci(x, digits)} nats"
    return f"{x:#.{digits}g}".rstrip(".") + " nats"  # '1907', not '1907.'


FORMATTERS = {"params": format_quantity, "tokens": format_quantity, "count": format_quantity, "flops": format_flops,
              "flop_rate": format_flop_rate,
              "bytes": format_bytes, "usd": format_usd, "days": format_days, "fraction": format_percent,
              "loss": format_loss, "number": format_number}


def format_value(x, unit: str = "number") -> str:
    """``x`` formatted as ``unit`` (a key of ``FORMATTERS``); non-numbers (text, booleans) print as they are, and
    a whole number without a unit exactly (a vocabulary of 50,257, not 5.026e4)."""
    if unit not in FORMATTERS:
        raise ValueError(f"unknown unit {unit!r}; choose one of {', '.join(FORMATTERS)}")
    if isinstance(x, bool) or (x is not None and not isinstance(x, numbers.Real)):
        return str(x)
    if unit == "number" and isinstance(x, numbers.Integral):
        return f"{int(x):,}"
    return FORMATTERS[unit](x)


def format_interval(low, high, unit: str = "number") -> str:
    """An interval formatted like its values: '[6.9B, 9.12B]'."""
    return f"[{format_value(low, unit)}, {format_value(high, unit)}]"


# Output keys → units, by the naming convention of the results (units in names): first match wins.
_KEY_UNITS = (("exponent", "number"), ("per_param", "number"), ("ratio", "number"), ("fraction", "fraction"),
              ("loss", "loss"), ("flops_per_second", "flop_rate"), ("flops", "flops"), ("bytes", "bytes"),
              ("usd", "usd"), ("cost", "usd"),
              ("days", "days"), ("mfu", "fraction"), ("utilization", "fraction"), ("n_params", "params"),
              ("params", "params"), ("tokens", "tokens"), ("gpu_hours", "count"), ("n_gpus", "count"))


def unit_of(key: str) -> str:
    """The unit of an output field from its name: 'n_params' → 'params', 'inference_flops' → 'flops',
    'cost_usd' → 'usd', 'mfu' → 'fraction'; anything else → 'number'. A nested field without a unit of its own
    takes its parent's: 'flops_per_token.6N' → 'flops'."""
    parts = key.lower().split(".")
    for name in reversed(parts):
        unit = next((unit for pattern, unit in _KEY_UNITS if pattern in name), None)
        if unit is not None:
            return unit
    return "number"


def format_field(key: str, value) -> str:
    """A result field for people: `format_value` with the unit `unit_of(key)` gives."""
    return format_value(value, unit_of(key))
