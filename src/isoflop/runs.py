"""RunTable: the one schema for observations of training runs.

Columns: ``n_params`` (counted as ``param_convention`` says), ``n_tokens`` (training tokens seen), ``loss``
(nats/token), ``flops`` (C = 6·N·D when not given), and optionally ``unique_tokens``, ``run_id`` (default ``row<k>``,
the k-th data row of the source), ``step``, ``planned_tokens`` (schedule length; may be missing),
``loss_key`` and ``truncated`` (True for every row of a run whose log lost its end: `finals` leaves it out).
When only flops is given, n_tokens = flops / (6·n_params). Validation happens here, once, with messages that
name the row and column; the fitters downstream trust the table. Duplicates and outliers are reported as
warnings, never dropped silently.

Rules: booleans are not numbers (a ``True`` loss is an error, not 1.0); counts (n_params, n_tokens,
unique_tokens) are at least 1 and flops positive, all finite (so is 6·N·D); losses positive and finite;
steps ≥ 0. When both n_tokens and flops are given they are kept as given, and rows where flops differs from
C = 6·N·D (Kaplan et al. 2020, eq. 2.1; Hoffmann et al. 2022) by more than ``FLOPS_TOLERANCE`` (10%) are
reported in a warning: the (N, D) forms (Chinchilla, Kaplan) fit n_tokens, while the loss-vs-compute form
and IsoFLOP binning (approach 2) use the flops column. A 10% band admits the usual refinements of 6·N·D
(attention FLOPs, embedding conventions) and flags unit mix-ups and wrong columns.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .io_utils import brief_repr
from .laws import FLOPS_PER_PARAM_TOKEN

NUMERIC = ("n_params", "n_tokens", "flops", "loss", "unique_tokens", "step")
MAPPABLE = NUMERIC + ("run_id",)  # the fields a column map (--columns, columns=) may name
# Optional columns carried along: the learning-rate schedule's planned length in tokens (NaN where unknown;
# approach 1 flags runs that stopped short of it) and the logged key each loss came from.
PLANNED = "planned_tokens"
LABELS = ("loss_key",)
TRUNCATED = "truncated"  # a run whose log lost its end (see isoflop.ingest): its last loss is not final
CONVENTIONS = ("total", "non_embedding", "attention", "unknown")
COUNTS = ("n_params", "n_tokens", "unique_tokens")  # at least 1
FLOPS_TOLERANCE = 0.10  # relative disagreement of a given flops column with 6·N·D that is reported


def _booleans(series: pd.Series) -> np.ndarray:
    """Mask of the cells that hold booleans (a bool column, or True/False in an object column)."""
    if pd.api.types.is_bool_dtype(series):
        return np.ones(len(series), bool)
    if series.dtype == object:
        return series.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
    return np.zeros(len(series), bool)


def to_numbers(series: pd.Series) -> pd.Series:
    """``pd.to_numeric(errors="coerce")``, but an integer past a float's range (a 1 and 400 zeros in a CSV or JSON
    cell, which pandas raised OverflowError on: a traceback) becomes ±inf, reported with the other bad values."""
    try:
        return pd.to_numeric(series, errors="coerce")
    except OverflowError:
        def one(v):
            try:
                return float(v)
            except OverflowError:
                return np.inf if v > 0 else -np.inf
            except (TypeError, ValueError):
                return v  # coerced to NaN below: "is not a number"
        return pd.to_numeric(series.map(one), errors="coerce")


def _suffixed(value) -> str:
    """A hint for a cell written as on the command line ('70B', '1.4T'): a table holds plain numbers."""
    from .units import parse_quantity

    try:
        number = parse_quantity(value, "cell") if isinstance(value, str) else None
    except InputError:
        number = None
    return "" if number is None else f" (write it as {number:.4g}: tables hold plain numbers, not 70B or 1.4T)"


def text_values(series: pd.Series) -> np.ndarray:
    """A column as stripped text, "" where a cell is empty. (pandas 3 keeps NaN through ``astype(str)``, so an
    empty run_id was NaN, and grouping by run dropped its rows without a word.)"""
    return series.astype(object).where(series.notna(), "").astype(str).str.strip().to_numpy(dtype=object)


def flags(series: pd.Series, source: str, rows=None) -> np.ndarray:
    """The ``truncated`` column: True/False, or their text as CSV round-trips may leave it (any case); anything else
    is an InputError naming the row (``rows``: each value's row in the file; default its position + 1)."""
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=bool)
    text = series.astype(str).str.strip().str.lower()
    bad = ~text.isin(["true", "false"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        row = i + 1 if rows is None else rows[i]
        raise InputError(f"{source}: row {row}, column {TRUNCATED!r}: {series.iloc[i]!r} is not True or False")
    return (text == "true").to_numpy()


def _unterminated_last_line(path: Path) -> str | None:
    """The last line of a CSV/TSV/JSON-lines file that does not end with a newline, else None."""
    if path.suffix.lower() not in (".csv", ".tsv", ".txt", ".jsonl", ".ndjson"):
        return None
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.seek(max(0, handle.tell() - 4096))
            tail = handle.read()
    except OSError:
        return None
    tail = tail.rstrip(b" \t")
    if not tail or tail.endswith((b"\n", b"\r")) or size == 0 and b"\n" not in tail:
        return None  # a one-line file is a header alone: nothing to cut
    last = tail.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")
    return last if len(last) <= 60 else last[:60] + "…"


def _rows(mask: np.ndarray, limit: int = 10) -> str:
    """'3, 7, 12' (1-based data rows) of a mask, with '…' past ``limit``."""
    rows = np.flatnonzero(mask)
    return ", ".join(str(i + 1) for i in rows[:limit]) + ("…" if rows.size > limit else "")


def parse_column_map(text: str | None) -> dict[str, str]:
    """'n_params="Model Size",flops="Training FLOP"' → {'n_params': 'Model Size', 'flops': 'Training FLOP'}."""
    if not text:
        return {}
    mapping = {}
    for part in text.split(","):
        if "=" not in part:
            raise InputError(f"--columns: expected name=column pairs separated by commas, got {part!r}")
        key, value = (s.strip().strip("'\"") for s in part.split("=", 1))
        if key not in MAPPABLE:
            raise InputError(f"--columns: unknown field {key!r}; fields are {', '.join(MAPPABLE)}")
        if key in mapping:
            raise InputError(f"--columns: {key} is mapped twice ({mapping[key]!r} and {value!r}); give it once")
        mapping[key] = value
    return mapping


def read_frame(path: str | Path) -> pd.DataFrame:
    """Read CSV, JSONL/NDJSON, JSON (records) or Parquet by extension."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        first = _first_line(path)
        sep = "\t" if suffix == ".tsv" else separator(first)
        unique_header(next(csv.reader([first], delimiter=sep), []), path)
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            # A European spreadsheet's export (';') writes decimal commas; a tab-separated file named .csv was
            # "missing column(s) n_params, …; map … with --columns"
            return pd.read_csv(path, sep=sep, decimal="," if sep == ";" else ".")
        if suffix in (".jsonl", ".ndjson"):
            try:
                return pd.read_json(path, lines=True)
            except (ValueError, TypeError):  # pandas names a byte offset: find the line a person can open
                problem = _bad_json_line(path)
                if problem == _LAST_LINE_CUT:  # only the last line, without its newline, fails: a cut file
                    return _read_jsonl_without_last_line(path)
                raise InputError(f"{path}: {problem}") from None
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8-sig"))
            wrong = other_orient(data, MAPPABLE)
            if wrong is not None:
                raise InputError(f"{path}: {wrong}; save it with to_json(path, orient='records') (a list of rows)")
            return pd.DataFrame(data)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except InputError:
        raise
    except (ValueError, OSError, ImportError) as exc:  # one line: pandas' parser messages end in a newline
        raise InputError(f"{path}: cannot read ({' '.join(str(exc).split())})") from None
    raise InputError(f"{path}: unknown file type {suffix!r}; use .csv, .jsonl, .json or .parquet")


def separator(header: str) -> str:
    """The column separator of a CSV, from its header line: ',' — or ';' or a tab where the header holds no comma
    but one of them (Excel in a European locale saves 'CSV' with ';', and tab-separated files get named .csv).
    Read with ',', such a file was one column named 'step;loss'. (pandas' sep=None sniffing is not used: it needs
    the slow Python parser, and guesses from a few lines.) Where ';' separates, ',' is the decimal point."""
    if "," not in header:
        for sep in (";", "\t"):
            if sep in header:
                return sep
    return ","


def other_orient(data, known=()) -> str | None:
    """What JSON that pandas' to_json wrote with an orient other than 'records' or 'columns' (which read as tables)
    holds, else None: 'index' (row label → {column: value}; read as a table, its row labels became its columns),
    'split' and 'values'. The fix is one line: save with orient='records'. 'index' is told from 'columns'
    ({column: {row label: value}}) by its outer keys being row numbers and its inner ones not, or by ``known``
    column names inside the rows and none outside."""
    if isinstance(data, dict) and {"columns", "data"} <= set(data):
        return "an object of 'columns' and 'data', as to_json(orient='split') writes"
    if isinstance(data, list) and data and all(isinstance(row, list) for row in data):
        return "rows without column names, as to_json(orient='values') writes"
    if isinstance(data, dict) and data and all(isinstance(row, dict) for row in data.values()):
        inner = {key for row in data.values() for key in row}
        numbered = all(str(k).isdigit() for k in data) and not all(str(k).isdigit() for k in inner)
        if numbered or (any(k in inner for k in known) and not any(k in data for k in known)):
            first = next(iter(data))
            return (f"an object of row label → {{column: value}}, as to_json(orient='index') writes "
                    f"({first!r}: {{…}})")
    return None


# Names other tools and papers give the fields (compared lower-case, without spaces, '_' or '-'): Chinchilla's
# N, D, C; Epoch's "Model Size", "Training FLOP"; Porian et al.'s n, t.
_ALIASES = {"n_params": ("n", "params", "parameters", "numparams", "nparams", "modelsize", "size", "nparameters"),
            "n_tokens": ("d", "t", "tokens", "numtokens", "ntokens", "traintokens", "trainingtokens", "data",
                         "datasetsize"),
            "flops": ("c", "compute", "flop", "trainingflop", "trainingflops", "trainflops"),
            "loss": ("l", "finalloss", "valloss", "evalloss", "validationloss", "trainloss", "testloss")}


def _guess_columns(columns, missing) -> dict[str, str]:
    """{field: column} for the missing fields whose usual other names (``_ALIASES``) name one column of the file."""
    squashed = {"".join(ch for ch in str(c).lower() if ch not in " _-"): str(c) for c in columns}
    guess = {}
    for name in [m.split(" ")[0] for m in missing] + (["flops"] if "n_tokens (or flops)" in missing else []):
        found = [squashed[a] for a in _ALIASES[name] if a in squashed]
        if found and (name != "flops" or "n_tokens" not in guess):
            guess[name] = found[0]
    return guess


def _quoted(name: str) -> str:
    return f'"{name}"' if not name.replace("_", "").isalnum() else name


def _first_line(path: Path) -> str:
    """A text file's first line ('' where it cannot be read: the reader then says why)."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
            return handle.readline()
    except OSError:
        return ""


def unique_header(header: list[str], path, hint: str = "") -> list[str]:
    """``header``, or an InputError naming a column it holds twice: pandas renames a repeated 'loss' to 'loss.1',
    so one of the two would be read and the other dropped without a word. ``hint``: how to rename, added."""
    seen = {}
    for i, name in enumerate(header):
        if name in seen:
            raise InputError(f"{path}: two columns named {name!r} (columns {seen[name] + 1} and {i + 1}); which one "
                             f"holds the data is unclear — rename one{hint}")
        seen[name] = i
    return header


_LAST_LINE_CUT = "its last line is cut"


def _read_jsonl_without_last_line(path: Path) -> pd.DataFrame:
    """A JSON-lines file whose writer was killed mid-line: every whole line (the cut one is reported by `load`,
    as a CSV cut mid-row is)."""
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    return pd.read_json(io.StringIO(text.rsplit("\n", 1)[0] + "\n"), lines=True)


def _bad_json_line(path: Path) -> str:
    """Which line of a JSON-lines file is not a JSON object, for the error message (`_LAST_LINE_CUT` when only
    the last line, without its newline, fails: a file cut mid-line)."""
    with open(path, encoding="utf-8-sig", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                if not line.endswith("\n") and number > 1:
                    return _LAST_LINE_CUT
                return f"line {number} is not JSON ({exc.msg}); fix or delete that line"
            if not isinstance(record, dict):
                return f"line {number} is not a JSON object ({type(record).__name__}); give one object per line"
    return "not JSON lines (one object per line)"


def _check_one_size_per_run(frame, source: str) -> None:
    """Rows sharing a run_id are one run's evaluations (its curve), so they share one model size. Runs named
    alike by mistake (a sweep's name in every row) would be resampled as one run by the bootstrap, giving
    intervals of zero width: refused, naming the run and rows."""
    sizes = frame.groupby("run_id", sort=False)["n_params"].nunique()
    mixed = sizes[sizes > 1]
    if mixed.empty:
        return
    name = mixed.index[0]
    rows = np.flatnonzero((frame["run_id"] == name).to_numpy())
    shown = ", ".join(str(r + 1) for r in rows[:4]) + ("…" if rows.size > 4 else "")
    raise InputError(f"{source}: run_id {name!r} has {int(mixed.iloc[0])} different n_params (rows {shown})"
                     + (f", and {mixed.size - 1} more run_id(s) too" if mixed.size > 1 else "")
                     + ": one run trains one model; give each run its own run_id, or leave the column out")


@dataclass(frozen=True)
class RunTable:
    """Validated observations; build with ``RunTable.from_frame`` or ``RunTable.load``."""

    frame: pd.DataFrame
    param_convention: str = "total"
    warnings: tuple[str, ...] = field(default=())

    __repr__ = brief_repr  # a warning per damaged run of an ingest: three shown, and how many more

    def __post_init__(self):
        if not isinstance(self.frame, pd.DataFrame):
            raise InputError(f"RunTable: frame must be a pandas DataFrame (build one with RunTable.from_frame or "
                             f"RunTable.load), got {type(self.frame).__name__}")

    @classmethod
    def from_frame(cls, df: pd.DataFrame, columns: dict[str, str] | None = None,
                   param_convention: str = "total", source: str = "table",
                   flops_tolerance: float | None = FLOPS_TOLERANCE) -> "RunTable":
        """Validate a frame (see the module docstring). ``flops_tolerance``: relative disagreement of a given
        flops column with 6·N·D that is reported; None for tables whose flops follow another stated convention
        (a sweep's Chinchilla or PaLM FLOP counts)."""
        if not isinstance(df, pd.DataFrame):
            raise InputError(f"RunTable.from_frame takes a pandas DataFrame (one row per run or point), got "
                             f"{type(df).__name__}")
        if param_convention not in CONVENTIONS:
            raise InputError(f"param_convention (--param-convention) must be one of {', '.join(CONVENTIONS)}, got {param_convention!r}")
        columns = dict(columns or {})
        for key, col in columns.items():
            if key not in MAPPABLE:  # mapped, it was renamed and then reported as a missing n_params
                raise InputError(f"{source}: columns: unknown field {key!r} (mapped from {col!r}); fields are "
                                 f"{', '.join(MAPPABLE)}")
            if col not in df.columns:
                raise InputError(f"{source}: column {col!r} (mapped to {key}) not found; columns are "
                                 f"{', '.join(map(str, df.columns))}")
        rename = {col: key for key, col in columns.items()}
        df = df.rename(columns=rename)
        twice = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        if twice:
            raise InputError(f"{source}: column {twice[0]!r} appears twice (a column of that name and one mapped to "
                             f"it with --columns); rename or drop one")
        missing = [c for c in ("n_params", "loss") if c not in df.columns]
        if "n_tokens" not in df.columns and "flops" not in df.columns:
            missing.append("n_tokens (or flops)")
        if missing:
            guess = _guess_columns(df.columns, missing)
            example = (",".join(f"{key}={_quoted(col)}" for key, col in guess.items()) if guess
                       else 'n_params="Model Size",flops="Training FLOP"')
            raise InputError(f"{source}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}"
                             f" — map foreign names with --columns {example}"
                             + (" (a guess from the names: check it)" if guess else ""))
        out = pd.DataFrame(index=df.index)
        # Every bad value is counted; the first four by row are named. Only a column's first four of each kind
        # are worded (they contain the first four overall), so a million bad rows cost no million messages.
        problems, n_problems = [], 0
        for col in NUMERIC:
            if col not in df.columns:
                continue
            if pd.api.types.is_datetime64_any_dtype(df[col]) or pd.api.types.is_timedelta64_dtype(df[col]):
                # to_numeric reads them as counts of their unit: 2024-01-01 was 1.7e18 parameters (ns)
                raise InputError(f"{source}: column {col!r} holds dates or durations ({df[col].iloc[0]}), not "
                                 f"numbers; map the right column with --columns")
            values = to_numbers(df[col])
            arr = values.to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):  # each kind of problem claims its rows before the next is asked
                kinds = ((_booleans(df[col]), lambda r: f"{df[col].iloc[r]!r} is a boolean, not a number"),
                         ((values.isna() & df[col].notna()).to_numpy(),
                          lambda r: f"{df[col].iloc[r]!r} is not a number" + _suffixed(df[col].iloc[r])),
                         (~np.isfinite(arr), lambda r: f"{arr[r]} is missing or not finite"),
                         ((arr < 0) if col == "step" else (arr <= 0), lambda r: f"{arr[r]:g} must be positive"),
                         ((arr < 1) if col in COUNTS else np.zeros(len(arr), bool),
                          lambda r: f"{arr[r]:g} is below 1; counts are in units (parameters, tokens), not millions "
                                    f"or billions"))
            claimed = np.zeros(len(arr), bool)
            for mask, say in kinds:
                rows = np.flatnonzero(mask & ~claimed)
                claimed |= mask
                n_problems += rows.size
                problems += [(int(r), f"row {r + 1}, column {col!r}: {say(r)}") for r in rows[:4]]
            out[col] = arr
        if problems:
            problems.sort(key=lambda p: p[0])
            more = (f" (and {n_problems - 1} more: " + "; ".join(m for _, m in problems[1:4])
                    + ("; …" if n_problems > 4 else "") + ")") if n_problems > 1 else ""
            raise InputError(f"{source}: {problems[0][1]}{more}")
        if PLANNED in df.columns:
            planned = to_numbers(df[PLANNED]).to_numpy(dtype=float)
            bad = (df[PLANNED].notna().to_numpy() & np.isnan(planned)) | (planned <= 0) | _booleans(df[PLANNED])
            bad |= np.isinf(planned)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise InputError(f"{source}: row {row + 1}, column {PLANNED!r}: {df[PLANNED].iloc[row]!r} must be "
                                 f"a positive number or empty")
            out[PLANNED] = planned
        for col in LABELS:
            if col in df.columns:
                out[col] = text_values(df[col])
        if TRUNCATED in df.columns:
            out[TRUNCATED] = flags(df[TRUNCATED], source)
        warnings = []
        with np.errstate(all="ignore"):
            six_nd = FLOPS_PER_PARAM_TOKEN * out["n_params"].to_numpy() * out["n_tokens"].to_numpy() \
                if "n_tokens" in out else None
            if "n_tokens" not in out:
                out["n_tokens"] = out["flops"] / (FLOPS_PER_PARAM_TOKEN * out["n_params"])
            elif "flops" not in out:
                out["flops"] = six_nd
            elif flops_tolerance is not None:
                ratio = out["flops"].to_numpy() / six_nd
                off = ~(np.abs(ratio - 1) <= flops_tolerance)
                if off.any():
                    worst = int(np.argmax(np.abs(np.log(ratio))))
                    warnings.append(
                        f"{source}: column 'flops' differs from 6·N·D by more than {flops_tolerance:.0%} in "
                        f"{int(off.sum())} of {len(out)} rows (rows {_rows(off)}; worst row {worst + 1}: "
                        f"{ratio[worst]:.3g}× 6·N·D); kept as given: the Chinchilla and Kaplan forms fit n_tokens, "
                        f"loss-vs-compute and IsoFLOP profiles use flops — check the columns' units")
        for col in ("n_tokens", "flops"):
            derived = out[col].to_numpy()
            bad = ~np.isfinite(derived) | (derived <= 0)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise InputError(f"{source}: row {row + 1}: {col} = {derived[row]:g} is out of range (6·N·D "
                                 f"overflows or underflows); check the units of n_params, n_tokens and flops")
        if "run_id" in df.columns:
            ids = text_values(df["run_id"])
            empty = np.flatnonzero(ids == "")
            if empty.size:
                raise InputError(f"{source}: row {empty[0] + 1}, column 'run_id' is empty"
                                 + (f" (and {empty.size - 1} more rows)" if empty.size > 1 else "")
                                 + "; name every run, or leave the column out (each row is then a run)")
            out["run_id"] = pd.Series(ids, index=df.index)
        else:
            out["run_id"] = pd.Series([f"row{i + 1}" for i in range(len(df))], index=df.index)
        out = out.reset_index(drop=True)
        if len(out) == 0:
            raise InputError(f"{source}: no rows")
        if "run_id" in df.columns:
            _check_one_size_per_run(out, source)
        key = ["n_params", "n_tokens", "loss"] + (["step"] if "step" in out else [])
        dup = out.duplicated(subset=key, keep=False)
        if dup.any():
            rows = ", ".join(str(i + 1) for i in np.flatnonzero(dup)[:10])
            warnings.append(f"{int(dup.sum())} duplicate rows (rows {rows}{'…' if dup.sum() > 10 else ''}); kept")
        return cls(out, param_convention, tuple(warnings))

    @classmethod
    def load(cls, path: str | Path, columns: dict[str, str] | None = None, param_convention: str = "total",
             flops_tolerance: float | None = FLOPS_TOLERANCE):
        """`from_frame` of a file (see `read_frame`); a text table whose last line has no newline may have been
        cut mid-value, which is reported in the warnings (the row is kept: hand-written files often end so)."""
        table = cls.from_frame(read_frame(path), columns, param_convention, source=str(path),
                               flops_tolerance=flops_tolerance)
        cut = _unterminated_last_line(Path(path))
        if cut is None:
            return table
        if Path(path).suffix.lower() in (".jsonl", ".ndjson") and _bad_json_line(Path(path)) == _LAST_LINE_CUT:
            note = f"{path}: its last line ({cut!r}) is cut mid-record (no newline, not JSON): left out"
        else:
            note = (f"{path}: ends without a newline; if the file was cut, its last row ({cut!r}) may hold a cut "
                    f"value — check it (files written by programs end with a newline)")
        return RunTable(table.frame, table.param_convention, table.warnings + (note,))

    def __len__(self) -> int:
        return len(self.frame)

    def column(self, name: str) -> np.ndarray:
        return self.frame[name].to_numpy(dtype=float)

    @property
    def n_params(self) -> np.ndarray:
        return self.column("n_params")

    @property
    def n_tokens(self) -> np.ndarray:
        return self.column("n_tokens")

    @property
    def flops(self) -> np.ndarray:
        return self.column("flops")

    @property
    def loss(self) -> np.ndarray:
        return self.column("loss")

    @property
    def run_ids(self) -> np.ndarray:
        return self.frame["run_id"].to_numpy()

    def subset(self, mask) -> "RunTable":
        return RunTable(self.frame[np.asarray(mask)].reset_index(drop=True), self.param_convention, self.warnings)

    def finals(self) -> "RunTable":
        """One row per run: its last step (tables without a step column are returned as they are).

        Runs marked ``truncated`` are left out, with a warning: their last logged loss is not a final loss.
        """
        table = self
        if TRUNCATED in self.frame and self.frame[TRUNCATED].any():
            cut = self.frame["run_id"][self.frame[TRUNCATED]].unique()
            kept = self.frame[~self.frame["run_id"].isin(cut)]
            names = ", ".join(map(str, cut[:10])) + ("…" if len(cut) > 10 else "")
            if kept.empty:
                raise InputError(f"every run's log lost its end ({names}): no final losses to fit; re-export the "
                                 f"logs, or fit the curves' envelope (approach 1) instead")
            note = (f"left out of final-loss fits: {len(cut)} run(s) whose logs lost their end ({names}); their "
                    f"last logged loss is not their final loss")
            table = RunTable(kept.reset_index(drop=True), self.param_convention, self.warnings + (note,))
        if "step" not in table.frame:
            return table
        last = table.frame.sort_values(["run_id", "step"]).groupby("run_id", sort=False).tail(1)
        return RunTable(last.reset_index(drop=True), table.param_convention, table.warnings)

    def drop_highest_loss(self, k: int) -> "RunTable":
        """Without the k highest-loss rows (Besiroglu et al. 2024 drop 5 of Chinchilla's Figure 4 points).

        ``k`` is an integer with 0 ≤ k < rows (0: nothing dropped); anything else is an InputError.
        """
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
            raise InputError(f"drop_highest (--drop-highest): expected a whole number of rows, got {k!r}")
        if k < 0:
            raise InputError(f"drop_highest (--drop-highest): {k} is negative; give 0 (drop nothing) up to {len(self) - 1}")
        if k >= len(self):
            raise InputError(f"drop_highest (--drop-highest): cannot drop {k} of {len(self)} rows; give at most {len(self) - 1}")
        if k == 0:
            return self
        keep = np.ones(len(self), bool)
        keep[np.argsort(self.loss, kind="stable")[len(self) - k:]] = False
        dropped = ", ".join(map(str, self.run_ids[~keep][:10])) + ("…" if k > 10 else "")
        note = f"dropped the {k} highest-loss rows as asked ({dropped})"
        return RunTable(self.frame[keep].reset_index(drop=True), self.param_convention, self.warnings + (note,))
