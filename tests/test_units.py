"""The number parser and formatters: exact values, rejections with messages, and hypothesis properties
(no exception but InputError, ever; format → parse round-trips within the printed precision)."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isoflop.errors import InputError
from isoflop.units import (format_bytes, format_days, format_field, format_flops, format_interval, format_loss,
                           format_number, format_percent, format_quantity, format_usd, format_value, parse_nonnegative,
                           parse_positive, parse_quantity, unit_of)


@pytest.mark.parametrize("text,value", [
    ("70B", 70e9), ("1.4T", 1.4e12), ("300M", 300e6), ("5.76e23", 5.76e23), ("2.5k", 2500.0), ("1_000", 1000.0),
    ("7G", 7e9), ("2.21e19", 2.21e19), (" 3 K ", 3000.0), ("1P", 1e15), ("0.1B", 1e8), (7, 7.0), (np.int64(5), 5.0),
    (np.float32(0.5), 0.5)])
def test_parse_exact(text, value):
    # Exactly the float nearest the decimal value: '1.4T' is float('1.4e12'), not 1.4 × 1e12 (which is off by an ulp
    # for some inputs, e.g. 4.35T).
    assert parse_positive(text) == value


def test_decimal_conversion_is_exact_where_a_product_is_not():
    assert 4.35 * 1e12 != 4.35e12  # the noise a naive product would print: 4349999999999.9995
    assert parse_positive("4.35T") == 4.35e12
    assert Fraction(parse_positive("1.4T")) == Fraction(float("1.4e12"))


@pytest.mark.parametrize("bad,fragment", [
    ("1,5B", "comma"), ("1,000", "comma"), ("", "empty"), ("   ", "empty"), ("B", "cannot read"),
    ("1.2.3", "cannot read"), ("nan", "not a finite"), ("inf", "not a finite"), ("-inf", "not a finite"),
    ("1e400", "not a finite"), ("1e999999999999", "not a finite"), ("sNaN", "not a finite"), ("True", "cannot read"),
    (True, "boolean"), (False, "boolean"), (np.bool_(True), "boolean"), (None, "expected a number"),
    ([1], "expected a number"), (float("nan"), "not a finite"), (10**400, "not a finite"), ("0x10", "cannot read"),
    ("1BB", "cannot read")])
def test_parse_rejects_with_named_message(bad, fragment):
    with pytest.raises(InputError, match=fragment) as info:
        parse_nonnegative(bad, "--params")
    assert str(info.value).startswith("--params: ") and "\n" not in str(info.value)


def test_zero_means_zero_for_counts_and_is_rejected_for_sizes():
    assert parse_nonnegative("0", "--inference-tokens") == 0.0
    assert math.copysign(1, parse_nonnegative("-0")) == 1.0  # no negative zero
    with pytest.raises(InputError, match="zero or positive"):
        parse_nonnegative("-1")
    with pytest.raises(InputError, match="must be positive"):
        parse_positive("0", "--flops")
    assert parse_quantity("0", positive=False) == 0.0 and parse_quantity("-2K", positive=False) == -2000.0


@pytest.mark.parametrize("fn,x,text", [
    (format_quantity, 7.2189e9, "7.22B"), (format_quantity, 1.33e12, "1.33T"), (format_quantity, 300e6, "300M"),
    (format_quantity, 512, "512"), (format_quantity, 999_950, "1.00M"), (format_quantity, 2.21e19, "2.21e19"),
    (format_quantity, -4.5e9, "-4.5B"), (format_quantity, 0.000123, "0.000123"),
    (format_flops, 5.76e23, "5.76e23 FLOPs"), (format_flops, 2.209999999999995e19, "2.21e19 FLOPs"),
    (format_flops, 9.996e23, "1.00e24 FLOPs"), (format_flops, 0, "0 FLOPs"),
    (format_bytes, 80e9, "80 GB"), (format_bytes, 1.5e12, "1.5 TB"), (format_bytes, 640, "640 B"),
    (format_usd, 1.234e6, "$1.23M"), (format_usd, 512.3, "$512"), (format_usd, -2e3, "-$2K"),
    (format_days, 12.34, "12.3 days"), (format_days, 1, "1 day"), (format_days, 0.25, "6 hours"),
    (format_days, 999.6, "2.74 years"), (format_days, 365.25e6, "1M years"),
    (format_percent, 0.4123, "41.2%"), (format_number, 1.81724, "1.817"), (format_number, 0.3478, "0.3478"),
    (format_number, 1e-7, "1e-7"), (format_quantity, None, "n/a"), (format_number, float("nan"), "n/a"),
    (format_flops, float("inf"), "n/a"),
    # trailing zeros dropped only where nothing was rounded: '60B' would claim one figure for 5.9985e10
    (format_quantity, 5.9985e10, "60.0B"), (format_quantity, 70e9, "70B"), (format_quantity, 6.1043e9, "6.10B"),
    (format_flops, 5.9985e10, "6.00e10 FLOPs"), (format_days, 0.05, "1.2 hours"), (format_number, 19.60004, "19.60"),
    # a loss far outside a law's data read '1907. nats' and '1.235e+04 nats'
    (format_loss, 1907.3, "1907 nats"), (format_loss, 12345.6, "1.235e4 nats"), (format_loss, 1.99961, "2.000 nats")])
def test_format_examples(fn, x, text):
    assert fn(x) == text


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1, max_value=1e15, exclude_max=True), st.integers(1, 4))
def test_quantities_at_any_figures_parse_back_without_a_stray_exponent(x, digits):
    """format_quantity(160e6, 2) printed '1.6e2M' ('%.2g' of 160), which reads back as 160 × 10^2 × 10^6."""
    text, rounded = format_quantity(x, digits), float(f"{x:.{digits}g}")
    assert parse_positive(text) == pytest.approx(rounded, rel=1e-9), text
    assert ("e" in text) == (rounded >= 1e15) and "." not in text[-1:] + text.split("e")[0][-1:], text


def test_units_of_keys_and_intervals():
    assert [unit_of(k) for k in ("n_params", "plan.n_tokens_high", "flops", "inference_flops", "cost_usd",
                                  "train_days", "mfu", "bytes_per_gpu", "tokens_per_param", "loss", "alpha")] == [
        "params", "tokens", "flops", "flops", "usd", "days", "fraction", "bytes", "number", "loss", "number"]
    assert format_field("optimal.loss", 1.97436) == "1.974 nats" and format_field("loss", None) == "n/a"
    assert format_field("memory.bytes_per_gpu", 80e9) == "80 GB"
    assert format_field("status", "converged") == "converged" and format_field("fits", True) == "True"
    assert format_interval(6.9e9, 9.123e9, "params") == "[6.9B, 9.12B]"
    with pytest.raises(ValueError):
        format_value(1.0, "furlongs")


# ------------------------------------------------------------------------------------------ properties

anything = st.one_of(st.text(), st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.booleans(),
                     st.none(), st.binary().map(lambda b: b.decode("latin-1")),
                     st.from_regex(r"\s*[-+]?[0-9_.,eE]{0,12}[kKmMbBgGtTpP]?\s*", fullmatch=True))


@settings(max_examples=600, deadline=None)
@given(anything)
def test_parser_raises_only_input_error(value):
    for parse in (parse_positive, parse_nonnegative):
        try:
            out = parse(value, "--x")
        except InputError as exc:
            assert str(exc).startswith("--x: ") and "\n" not in str(exc)
        else:
            assert isinstance(out, float) and math.isfinite(out) and out >= 0
            assert not isinstance(value, bool)


positive = st.floats(min_value=1e-6, max_value=1e30, allow_nan=False, allow_infinity=False)


@settings(max_examples=400, deadline=None)
@given(positive)
def test_quantity_round_trip(x):
    text = format_quantity(x)
    back = parse_positive(text)
    assert back == pytest.approx(x, rel=5e-3)  # 3 significant figures
    # what was printed reads back to itself (its text may drop trailing zeros: 5.10e16 → '5.1e16', now exact)
    assert parse_positive(format_quantity(back)) == back


@settings(max_examples=300, deadline=None)
@given(positive)
def test_flops_round_trip_and_no_noise(x):
    text = format_flops(x)
    number = text.removesuffix(" FLOPs")
    assert parse_positive(number) == pytest.approx(x, rel=5e-3)
    mantissa = number.split("e")[0]
    assert len(mantissa.replace("-", "").replace(".", "").lstrip("0")) <= 3  # at most 3 significant figures


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=-1e30, max_value=1e30, allow_nan=False))
def test_formatters_never_print_more_than_4_significant_figures(x):
    for fn in (format_quantity, format_usd, format_number, format_percent, format_bytes, format_days):
        text = fn(x)
        digits = [c for c in text.split("e")[0] if c.isdigit()]
        assert len("".join(digits).lstrip("0")) <= 4, (fn.__name__, x, text)


def test_whole_numbers_nested_units_and_loss_figures():
    """A vocabulary prints exactly (50,257, not 5.026e4); a field nested under a unit-bearing key takes its unit
    (flops_per_token.6N is FLOPs); a loss keeps 4 significant figures, trailing zeros included."""
    assert format_field("vocab_size", 50257) == "50,257" and format_field("seq_len", 32768) == "32,768"
    assert format_field("flops_per_token.6N", 7.466e8) == format_flops(7.466e8)
    assert format_field("training_flops.palm", 8.086e22) == format_flops(8.086e22)
    assert format_field("loss", 1.99961) == "2.000 nats" and format_field("optimal.loss", 1.97436) == "1.974 nats"
    assert format_field("alpha", 0.3478) == "0.3478"  # a fractional plain number is unchanged

