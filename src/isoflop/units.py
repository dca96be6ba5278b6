"""Human-friendly numbers: '70B', '1.4T', '300M', '5.76e23'."""

from __future__ import annotations

import math

from .errors import InputError

_SUFFIXES = {"K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12, "P": 1e15}


def parse_quantity(text: str | float | int, name: str = "value", positive: bool = True) -> float:
    """Parse '70B' → 7e10, '1.4T' → 1.4e12, '300M', '2.5k', '5.76e23' or a number.

    Suffixes (case-insensitive): K = 1e3, M = 1e6, B or G = 1e9, T = 1e12, P = 1e15. Raises InputError
    for text that is not a finite number, and (when ``positive``) for zero or negative values.
    """
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        s = str(text).strip().replace("_", "").replace(",", "")
        scale = 1.0
        if s and s[-1].upper() in _SUFFIXES:
            scale, s = _SUFFIXES[s[-1].upper()], s[:-1]
        try:
            value = float(s) * scale
        except ValueError:
            raise InputError(f"{name}: cannot read {text!r} as a number (use e.g. 5.76e23, 70B, 1.4T, 300M)") from None
    if not math.isfinite(value):
        raise InputError(f"{name}: {text!r} is not a finite number")
    if positive and value <= 0:
        raise InputError(f"{name}: must be positive, got {text!r}")
    return value


def format_quantity(x: float) -> str:
    """3.219e10 → '32.2B'; keeps 3 significant digits."""
    for suffix, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= scale and abs(x) < 1e3 * scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"
