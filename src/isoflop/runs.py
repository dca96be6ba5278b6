"""RunTable: the one schema for observations of training runs.

Columns: ``n_params`` (counted as ``param_convention`` says), ``n_tokens`` (training tokens seen), ``loss``
(nats/token), ``flops`` (C = 6·N·D when not given), and optionally ``unique_tokens``, ``run_id`` (default ``row<k>``,
the k-th data row of the source), ``step``, ``planned_tokens`` (schedule length; may be missing) and
``loss_key``.
When only flops is given, n_tokens = flops / (6·n_params). Validation happens here, once, with messages that
name the row and column; the fitters downstream trust the table. Duplicates and outliers are reported as
warnings, never dropped silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .laws import FLOPS_PER_PARAM_TOKEN

NUMERIC = ("n_params", "n_tokens", "flops", "loss", "unique_tokens", "step")
# Optional columns carried along: the learning-rate schedule's planned length in tokens (NaN where unknown;
# approach 1 flags runs that stopped short of it) and the logged key each loss came from.
PLANNED = "planned_tokens"
LABELS = ("loss_key",)
CONVENTIONS = ("total", "non_embedding", "attention", "unknown")


def parse_column_map(text: str | None) -> dict[str, str]:
    """'n_params="Model Size",flops="Training FLOP"' → {'n_params': 'Model Size', 'flops': 'Training FLOP'}."""
    if not text:
        return {}
    mapping = {}
    for part in text.split(","):
        if "=" not in part:
            raise InputError(f"--columns: expected name=column pairs separated by commas, got {part!r}")
        key, value = (s.strip().strip("'\"") for s in part.split("=", 1))
        if key not in NUMERIC + ("run_id",):
            raise InputError(f"--columns: unknown field {key!r}; fields are {', '.join(NUMERIC + ('run_id',))}")
        mapping[key] = value
    return mapping


def read_frame(path: str | Path) -> pd.DataFrame:
    """Read CSV, JSONL/NDJSON, JSON (records) or Parquet by extension."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        if suffix in (".jsonl", ".ndjson"):
            return pd.read_json(path, lines=True)
        if suffix == ".json":
            return pd.DataFrame(json.loads(path.read_text()))
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (ValueError, OSError, ImportError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    raise InputError(f"{path}: unknown file type {suffix!r}; use .csv, .jsonl, .json or .parquet")


@dataclass(frozen=True)
class RunTable:
    """Validated observations; build with ``RunTable.from_frame`` or ``RunTable.load``."""

    frame: pd.DataFrame
    param_convention: str = "total"
    warnings: tuple[str, ...] = field(default=())

    @classmethod
    def from_frame(cls, df: pd.DataFrame, columns: dict[str, str] | None = None,
                   param_convention: str = "total", source: str = "table") -> "RunTable":
        if param_convention not in CONVENTIONS:
            raise InputError(f"param_convention must be one of {', '.join(CONVENTIONS)}, got {param_convention!r}")
        columns = dict(columns or {})
        for key, col in columns.items():
            if col not in df.columns:
                raise InputError(f"{source}: column {col!r} (mapped to {key}) not found; columns are "
                                 f"{', '.join(map(str, df.columns))}")
        rename = {col: key for key, col in columns.items()}
        df = df.rename(columns=rename)
        missing = [c for c in ("n_params", "loss") if c not in df.columns]
        if "n_tokens" not in df.columns and "flops" not in df.columns:
            missing.append("n_tokens (or flops)")
        if missing:
            raise InputError(f"{source}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}"
                             f" — map foreign names with --columns n_params=\"Model Size\",flops=\"Training FLOP\"")
        out = pd.DataFrame(index=df.index)
        for col in NUMERIC:
            if col not in df.columns:
                continue
            values = pd.to_numeric(df[col], errors="coerce")
            bad = values.isna() & df[col].notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputError(f"{source}: row {row + 1}, column {col!r}: {df[col].iloc[row]!r} is not a number")
            arr = values.to_numpy(dtype=float)
            nonfinite = ~np.isfinite(arr)
            if nonfinite.any():
                row = int(np.flatnonzero(nonfinite)[0])
                raise InputError(f"{source}: row {row + 1}, column {col!r}: {arr[row]} is missing or not finite")
            lowest = 0 if col == "step" else None
            nonpos = arr < 0 if lowest == 0 else arr <= 0
            if nonpos.any():
                row = int(np.flatnonzero(nonpos)[0])
                raise InputError(f"{source}: row {row + 1}, column {col!r}: {arr[row]:g} must be positive")
            out[col] = arr
        if PLANNED in df.columns:
            planned = pd.to_numeric(df[PLANNED], errors="coerce").to_numpy(dtype=float)
            bad = (df[PLANNED].notna().to_numpy() & np.isnan(planned)) | (planned <= 0)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise InputError(f"{source}: row {row + 1}, column {PLANNED!r}: {df[PLANNED].iloc[row]!r} must be "
                                 f"a positive number or empty")
            out[PLANNED] = planned
        for col in LABELS:
            if col in df.columns:
                out[col] = df[col].astype(str).to_numpy()
        if "n_tokens" not in out:
            out["n_tokens"] = out["flops"] / (FLOPS_PER_PARAM_TOKEN * out["n_params"])
        if "flops" not in out:
            out["flops"] = FLOPS_PER_PARAM_TOKEN * out["n_params"] * out["n_tokens"]
        out["run_id"] = (df["run_id"].astype(str) if "run_id" in df.columns
                         else pd.Series([f"row{i + 1}" for i in range(len(df))], index=df.index))
        out = out.reset_index(drop=True)
        if len(out) == 0:
            raise InputError(f"{source}: no rows")
        warnings = []
        key = ["n_params", "n_tokens", "loss"] + (["step"] if "step" in out else [])
        dup = out.duplicated(subset=key, keep=False)
        if dup.any():
            rows = ", ".join(str(i + 1) for i in np.flatnonzero(dup)[:10])
            warnings.append(f"{int(dup.sum())} duplicate rows (rows {rows}{'…' if dup.sum() > 10 else ''}); kept")
        return cls(out, param_convention, tuple(warnings))

    @classmethod
    def load(cls, path: str | Path, columns: dict[str, str] | None = None, param_convention: str = "total"):
        return cls.from_frame(read_frame(path), columns, param_convention, source=str(path))

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
        """One row per run: its last step (tables without a step column are returned as they are)."""
        if "step" not in self.frame:
            return self
        last = self.frame.sort_values(["run_id", "step"]).groupby("run_id", sort=False).tail(1)
        return RunTable(last.reset_index(drop=True), self.param_convention, self.warnings)

    def drop_highest_loss(self, k: int) -> "RunTable":
        """Without the k highest-loss rows (Besiroglu et al. 2024 drop 5 of Chinchilla's Figure 4 points)."""
        if k <= 0:
            return self
        keep = np.ones(len(self), bool)
        keep[np.argsort(self.loss)[len(self) - k:]] = False
        note = f"dropped the {k} highest-loss rows as asked"
        return RunTable(self.frame[keep].reset_index(drop=True), self.param_convention, self.warnings + (note,))
