"""`isoflop plan | loss | frontier | diagnose | flops | laws`: parse, call the API, render."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..planning import budgets as make_budgets
from ..planning import LABELS as FRONTIER_LABELS
from ..planning import DEFAULT_REL_IMPROVEMENT, diagnose, frontier, plan
from ..answers import diagnosis_with_evidence, evidence_of, frontier_with_evidence, plan_with_evidence
from ..errors import InputError
from ..flops import CONVENTIONS, Architecture
from ..hardware import CATALOG, DEFAULT_MFU, Cluster, get_accelerator
from ..io_utils import atomic_write, check_writable
from ..laws import require_nd_law
from ..models import MODELS, get_model
from ..presets import PRESETS, get_law
from . import parse
from .output import (JSON_HELP, emit, interval, naming_flags, print_json, print_warnings, stdout, user_errors,
                     value)

DEFAULT_LAW = "besiroglu2024"
TABLE_ROWS = 60  # budgets a frontier table draws (the first and last half); --csv and --json give them all
LAW_OPTION = typer.Option(None, "--law", metavar="NAME",
                          help=f"Published law: {', '.join(PRESETS)} (default {DEFAULT_LAW}).")
FIT_OPTION = typer.Option(None, "--fit", parser=parse.path, metavar="FIT.json",
                          help="Use a fit saved by `isoflop fit --save` (with its bootstrap intervals).")
JSON_OPTION = typer.Option(False, "--json", help=JSON_HELP)


def resolve(law: Optional[str], fit: Optional[Path], allow_unidentified: bool = False):
    """(the law, the SavedFit or None, warnings to mark every output with)."""
    if law is not None and fit is not None:
        raise InputError("give --law (a published law) or --fit (a saved fit), not both")
    if fit is None:
        if law is not None and law not in PRESETS and (law.lower().endswith(".json") or Path(law).is_file()):
            raise InputError(f"--law {law}: --law names a published law ({', '.join(PRESETS)}); for a fit saved by "
                             f"`isoflop fit --save` give --fit {law}")
        if allow_unidentified:  # it would do nothing: a published law is not a fit to be refused
            raise InputError("--allow-unidentified applies to a saved fit (--fit FIT.json), not to a published law")
        return get_law(DEFAULT_LAW if law is None else law), None, ()
    from ..fitting.identify import require_identified
    from ..fitting.io import load_saved_fit

    saved = load_saved_fit(fit)
    verdict = require_identified(saved, allow_unidentified=allow_unidentified)
    marks = ()
    if verdict is not None and verdict.level != "identified":
        marks = (f"{fit}: the fit is {verdict.summary()}" + (" (planned anyway: --allow-unidentified)"
                                                               if verdict.level == "unidentified" else ""),)
    return saved.planning_law, saved, marks


ALLOW_OPTION = typer.Option(False, "--allow-unidentified", help="With --fit: answer even from a fit its data "
                            "cannot pin down (every output is then marked).")


def _cluster(gpu, gpus, mfu, usd_per_gpu_hour, precision) -> Cluster | None:
    if gpu is None:
        given = [name for name, v in (("--gpus", gpus), ("--mfu", mfu), ("--usd-per-gpu-hour", usd_per_gpu_hour),
                                      ("--precision", precision)) if v is not None]
        if given:
            verb = "describes" if len(given) == 1 else "describe"
            raise InputError(f"{', '.join(given)} {verb} a cluster and does nothing without --gpu: give --gpu too "
                             f"(e.g. --gpu h100-sxm)")
        return None
    return Cluster(get_accelerator(gpu), n_gpus=gpus, mfu=DEFAULT_MFU if mfu is None else mfu,
                   usd_per_gpu_hour=usd_per_gpu_hour, precision="bf16" if precision is None else precision)


def plan_cmd(
    flops: Optional[str] = typer.Option(None, metavar="FLOPS", help="Training budget in FLOPs (C = 6·N·D), e.g. 5.76e23."),
    params: Optional[str] = typer.Option(None, metavar="N", help="Model size: the budget for which it is optimal "
                                         "(with --target-loss: the tokens it needs)."),
    tokens: Optional[str] = typer.Option(None, metavar="D", help="Token count: the budget for which it is optimal."),
    target_loss: Optional[str] = typer.Option(None, metavar="LOSS", help="Cheapest run that reaches this loss (nats/token)."),
    unique_tokens: Optional[str] = typer.Option(None, metavar="U", help="Unique tokens available (data repeats "
                                                "beyond them); alone: the data-optimal plan."),
    inference_tokens: Optional[str] = typer.Option(None, metavar="T", help="Lifetime inference tokens to serve "
                                                   "(with the quality to match: --match-flops, --params or "
                                                   "--target-loss)."),
    match_flops: Optional[str] = typer.Option(None, metavar="FLOPS", help="Inference-aware plan: match the loss of "
                                              "the compute-optimal run at this training budget (not a budget)."),
    gpu: Optional[str] = typer.Option(None, metavar="NAME", help=f"Accelerator: {', '.join(CATALOG)}."),
    gpus: Optional[str] = typer.Option(None, metavar="COUNT", help="Number of accelerators."),
    days: Optional[float] = typer.Option(None, metavar="DAYS", help="Wall-clock days on --gpus (a budget instead "
                                         "of --flops)."),
    mfu: Optional[float] = typer.Option(None, metavar="FRACTION", help=f"Model FLOPs utilisation in (0, 1] "
                                        f"(default {DEFAULT_MFU}); needs --gpu."),
    usd_per_gpu_hour: Optional[float] = typer.Option(None, metavar="USD", help="Price per accelerator-hour."),
    precision: Optional[str] = typer.Option(None, metavar="bf16|fp8", help="Peak to use (default bf16); needs --gpu."),
    inference_mfu: Optional[float] = typer.Option(None, metavar="FRACTION", help="MFU when serving (a cost-weighted "
                                                  "inference plan)."),
    inference_usd_per_gpu_hour: Optional[float] = typer.Option(None, metavar="USD", help="Serving price per "
                                                               "accelerator-hour."),
    rel_improvement: Optional[float] = typer.Option(None, metavar="FRACTION", help="Data-optimal plan: stop where "
                                                    "doubling compute gains less than this fraction of the loss "
                                                    f"(default {DEFAULT_REL_IMPROVEMENT:g})."),
    law: Optional[str] = LAW_OPTION,
    fit: Optional[Path] = FIT_OPTION,
    allow_unidentified: bool = ALLOW_OPTION,
    as_json: bool = JSON_OPTION,
):
    """Model size, tokens and loss for a budget, a size, a dataset or a target loss; data-constrained,
    data-optimal and inference-aware plans; GPU-hours, days and dollars."""
    with user_errors():
        cluster = _cluster(gpu, None if gpus is None else parse.whole(gpus, "--gpus", positive=True), mfu,
                           usd_per_gpu_hour, precision)
        the_law, saved, marks = resolve(law, fit, allow_unidentified)
        result = plan(the_law, flops=parse.number(flops, "--flops"),
                               n_params=parse.number(params, "--params"), n_tokens=parse.number(tokens, "--tokens"),
                               target_loss=parse.number(target_loss, "--target-loss"),
                               unique_tokens=parse.number(unique_tokens, "--unique-tokens"),
                               inference_tokens=parse.count_or_zero(inference_tokens, "--inference-tokens"),
                               match_flops=parse.number(match_flops, "--match-flops"), cluster=cluster, days=days, inference_mfu=inference_mfu,
                               inference_usd_per_gpu_hour=inference_usd_per_gpu_hour, rel_improvement=rel_improvement)
        report = plan_with_evidence(result, evidence_of(saved)).to_dict()
        report["warnings"] = [*marks, *report["warnings"]]
        emit(report, as_json, f"Plan: {report['kind']} ({report['law']})")


def loss_cmd(
    params: str = typer.Option(..., metavar="N", help="Model parameters, e.g. 6.34e9."),
    tokens: str = typer.Option(..., metavar="D", help="Training tokens seen (repeats included), e.g. 242e9."),
    unique_tokens: Optional[str] = typer.Option(None, metavar="U", help="Unique tokens (data repeats beyond them)."),
    law: Optional[str] = LAW_OPTION,
    fit: Optional[Path] = FIT_OPTION,
    allow_unidentified: bool = ALLOW_OPTION,
    as_json: bool = JSON_OPTION,
):
    """The loss a law predicts for N parameters trained on D tokens (of which U unique); with --fit, its 95%
    interval (noise, parameter spread and the form's extrapolation error) and how far it extrapolates."""
    from ..fitting.predict import check_asked, predict_loss

    with user_errors():
        n_params, n_tokens = parse.number(params, "--params"), parse.number(tokens, "--tokens")
        check_asked(n_params, n_tokens)
        unique = parse.number(unique_tokens, "--unique-tokens")
        the_law, saved, marks = resolve(law, fit, allow_unidentified)
        require_nd_law(the_law)  # (with U, the prediction borrows Muennighoff et al.'s repetition constants)
        # A saved fit predicts with its runs' noise, bootstrap and calibration, repeated data included.
        prediction = predict_loss(saved if saved is not None else the_law, n_params, n_tokens, unique)
        result = prediction.to_dict()
        if unique is not None:
            result.update(unique_tokens=unique, epochs=n_tokens / unique)
        result["warnings"] = [*marks, *result["warnings"]]
        if not as_json:  # the table leaves out what does not apply (JSON keeps every key, null where absent)
            result = {key: item for key, item in result.items()
                      if item is not None and (result["intervals"] or key not in ("level", "calibrated"))}
        emit(result, as_json, f"Loss ({the_law.name})")


def frontier_cmd(
    flops_from: str = typer.Option(..., "--from", metavar="FLOPS", help="Smallest budget in FLOPs, e.g. 1e18."),
    flops_to: str = typer.Option(..., "--to", metavar="FLOPS", help="Largest budget in FLOPs, e.g. 1e26."),
    per_decade: str = typer.Option("2", metavar="COUNT", help="Budgets per factor of 10."),
    unique_tokens: Optional[str] = typer.Option(None, metavar="U", help="Add data-constrained columns for this "
                                                "many unique tokens."),
    inference_tokens: Optional[str] = typer.Option(None, metavar="T", help="Add inference-aware columns for this "
                                                   "many inference tokens."),
    law: Optional[str] = LAW_OPTION,
    fit: Optional[Path] = FIT_OPTION,
    allow_unidentified: bool = ALLOW_OPTION,
    csv_path: Optional[Path] = typer.Option(None, "--csv", parser=parse.path,
                                            metavar="FILE.csv", help="Also write the table to this "
                                            "CSV file."),
    as_json: bool = JSON_OPTION,
):
    """Compute-optimal (and data-constrained, inference-aware) allocations over a range of budgets."""
    with user_errors():
        unique = parse.number(unique_tokens, "--unique-tokens")
        served = parse.count_or_zero(inference_tokens, "--inference-tokens")
        budgets = make_budgets(parse.number(flops_from, "--from"), parse.number(flops_to, "--to"),
                               parse.whole(per_decade, "--per-decade"))
        if csv_path is not None:
            check_writable(csv_path, "--csv")
        the_law, saved, marks = resolve(law, fit, allow_unidentified)
        result = frontier_with_evidence(frontier(the_law, budgets, unique_tokens=unique, inference_tokens=served),
                                        evidence_of(saved))
        result = replace(result, warnings=(*marks, *result.warnings))
        rows = result.rows()
        if csv_path is not None:  # whole or not at all: a kill mid-write left a shorter table that read as complete
            text = io.StringIO(newline="")
            writer = csv.DictWriter(text, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
            try:
                atomic_write(csv_path, text.getvalue())
            except InputError as exc:
                raise InputError(f"--csv {exc}") from None
        if as_json:
            print_json(result.to_dict())
            return
        titles = {"optimal": f"Compute-optimal ({result.law})"}
        if unique is not None:
            titles["constrained"] = f"Data-constrained, {value('tokens', unique)} unique tokens"
        if served is not None:
            titles["inference"] = (f"Inference-aware, serving {value('tokens', served)} tokens at the "
                                   f"compute-optimal model's loss")
        # A table of 100,000 budgets took 4 minutes to draw and no one reads it: the ends, and --csv/--json for all.
        shown = rows if len(rows) <= TABLE_ROWS else [*rows[:TABLE_ROWS // 2], None, *rows[-TABLE_ROWS // 2:]]
        for prefix, title in titles.items():  # one narrow table per kind of allocation
            columns = [c for c in rows[0] if c.startswith(prefix + "_") and not c.endswith(("_low", "_high"))]
            table = Table(title=escape(title))
            table.add_column("matches loss at FLOPs" if prefix == "inference" else FRONTIER_LABELS["flops"],
                             justify="right")
            for column in columns:
                table.add_column(FRONTIER_LABELS.get(column, column), justify="right")
            for row in shown:  # a value with its interval beside it where the fit gives one (the loss's)
                if row is None:
                    table.add_row(*["…"] * (len(columns) + 1))
                    continue
                table.add_row(*(value(c, row[c]) + (f" {interval(c, (row[c + '_low'], row[c + '_high']))}"
                                                   if row.get(c + "_low") is not None else "")
                                for c in ["flops", *columns]))
            stdout.print(table)
        notes = [f"{len(rows):,} budgets: the table shows the first and last {TABLE_ROWS // 2}; --csv FILE or "
                 f"--json gives every row"] if len(rows) > TABLE_ROWS else []
        print_warnings(notes, "note")
        print_warnings(result.warnings)


def diagnose_cmd(
    params: Optional[str] = typer.Option(None, metavar="N", help="Model parameters, e.g. 280B (or --model)."),
    tokens: Optional[str] = typer.Option(None, metavar="D", help="Training tokens, e.g. 300B (default with --model: "
                                         "its published training tokens)."),
    model: Optional[str] = typer.Option(None, metavar="NAME", help=f"A published model ({', '.join(MODELS)}): its "
                                        "parameters counted as the law counts them."),
    law: Optional[str] = LAW_OPTION,
    fit: Optional[Path] = FIT_OPTION,
    allow_unidentified: bool = ALLOW_OPTION,
    tolerance: float = typer.Option(1.5, metavar="FACTOR", help="Factor on tokens/param still counted as "
                                    "compute-optimal."),
    as_json: bool = JSON_OPTION,
):
    """Is a planned run undertrained, overtrained or compute-optimal, and how much compute does it waste?"""
    with user_errors():
        the_law, saved, notes = resolve(law, fit, allow_unidentified)
        n_params, n_tokens = parse.number(params, "--params"), parse.number(tokens, "--tokens")
        if model is not None:
            if n_params is not None:
                raise InputError("give --params or --model, not both")
            n_params, n_tokens, marks = get_model(model).configuration(require_nd_law(the_law).param_convention,
                                                                       n_tokens)
            notes = (*notes, *marks)
        if n_params is None or n_tokens is None:
            raise InputError("give --params (or --model) and --tokens")
        result = diagnosis_with_evidence(diagnose(the_law, n_params, n_tokens, tolerance=tolerance),
                                         evidence_of(saved))
        result = replace(result, model=model, warnings=(*notes, *result.warnings))
        emit(result.to_dict(), as_json, f"Diagnosis ({the_law.name})")


ARCH_FLAGS = {"n_layer": "--layers", "d_model": "--d-model", "n_head": "--heads", "vocab_size": "--vocab",
              "seq_len": "--seq-len", "d_ff": "--d-ff", "n_kv_head": "--kv-heads", "n_experts": "--experts",
              "experts_per_token": "--experts-per-token", "mlp": "--mlp", "norm": "--norm",
              "position": "--position"}


def flops_cmd(
    model: Optional[str] = typer.Option(None, metavar="NAME", help=f"A published model: {', '.join(MODELS)}."),
    layers: Optional[int] = typer.Option(None, metavar="COUNT", help="Number of transformer blocks."),
    d_model: Optional[int] = typer.Option(None, metavar="WIDTH", help="Residual stream width."),
    heads: Optional[int] = typer.Option(None, metavar="COUNT", help="Attention (query) heads."),
    vocab: Optional[int] = typer.Option(None, metavar="SIZE", help="Vocabulary size."),
    seq_len: Optional[int] = typer.Option(None, metavar="TOKENS", help="Context length in tokens."),
    d_ff: Optional[int] = typer.Option(None, metavar="WIDTH", help="MLP width (default 4·d_model; gated MLPs "
                                       "8/3·d_model)."),
    kv_heads: Optional[int] = typer.Option(None, metavar="COUNT", help="Key/value heads (grouped-query attention; "
                                           "default: --heads)."),
    mlp: str = typer.Option("gelu", metavar="gelu|swiglu|geglu", help="MLP kind (gated kinds have three matrices)."),
    norm: str = typer.Option("layernorm", metavar="layernorm|rmsnorm", help="Normalisation (RMSNorm has no bias)."),
    position: str = typer.Option("learned", metavar="learned|rotary|relative|none", help="Position encoding."),
    experts: int = typer.Option(1, metavar="COUNT", help="Mixture of experts: experts per layer."),
    experts_per_token: int = typer.Option(1, metavar="COUNT", help="Mixture of experts: experts each token uses."),
    untied: bool = typer.Option(False, "--untied", help="Separate output head (not tied to the token embedding)."),
    no_bias: bool = typer.Option(False, "--no-bias", help="No biases in linear layers and norms."),
    tokens: Optional[str] = typer.Option(None, metavar="D", help="Also give total training FLOPs for this many "
                                         "tokens."),
    as_json: bool = JSON_OPTION,
):
    """Exact parameter counts (total, non-embedding, active) and training FLOPs per token under each
    convention, for a shape or a published model."""
    with user_errors():
        shape = dict(n_layer=layers, d_model=d_model, n_head=heads, vocab_size=vocab, seq_len=seq_len)
        if model is not None:
            shape = dict(layers=layers, d_model=d_model, heads=heads, vocab=vocab, seq_len=seq_len, d_ff=d_ff,
                         kv_heads=kv_heads)
            given = [f"--{k.replace('_', '-')}" for k, v in shape.items() if v is not None]
            given += [name for name, v, default in (("--mlp", mlp, "gelu"), ("--norm", norm, "layernorm"),
                                                    ("--position", position, "learned"), ("--experts", experts, 1),
                                                    ("--experts-per-token", experts_per_token, 1),
                                                    ("--untied", untied, False), ("--no-bias", no_bias, False))
                      if v != default]
            if given:
                raise InputError(f"--model gives the whole shape: drop {', '.join(given)}")
            named = get_model(model)
            arch, result = named.arch, {"model": named.name, "published_n_params": named.published_n_params,
                                        "published_n_params_active": named.published_n_params_active,
                                        "source": named.source,
                                        "warnings": [w for w in (named.note,) if w]}
        else:
            missing = [f"--{k.replace('_', '-')}" for k, v in dict(layers=layers, d_model=d_model, heads=heads,
                                                                  vocab=vocab, seq_len=seq_len).items() if v is None]
            if missing:
                raise InputError(f"give --model NAME, or the shape: missing {', '.join(missing)}")
            try:
                arch = Architecture(**shape, d_ff=d_ff, n_kv_head=kv_heads, mlp=mlp, norm=norm, position=position,
                                    n_experts=experts, experts_per_token=experts_per_token,
                                    tied_embeddings=not untied, bias=not no_bias)
            except InputError as exc:  # name the flags typed, not the fields (n_layer was --layers)
                raise naming_flags(exc, ARCH_FLAGS, "architecture: ") from None
            result = {}
        result.update(arch.to_dict())
        if tokens is not None:
            n_tokens = parse.number(tokens, "--tokens")
            result["n_tokens"] = n_tokens
            result["training_flops"] = {c: arch.flops_per_token(c) * n_tokens for c in CONVENTIONS}
        emit(result, as_json, f"Architecture{' of ' + model if model else ''}")


def laws_cmd(as_json: bool = JSON_OPTION):
    """List the published laws with their constants and sources."""
    if as_json:
        print_json({name: p.to_dict() for name, p in PRESETS.items()})
        return
    table = Table(title="Published scaling laws")
    for col in ("name", "constants", "N* ∝ C^a", "source"):
        table.add_column(col, overflow="fold")
    for name, preset in PRESETS.items():
        constants = {k: v for k, v in preset.law.to_dict().items() if k not in ("kind", "name", "param_convention",
                                                                                 "base_kind")}
        text = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in constants.items())
        table.add_row(name, escape(text), f"{preset.law.n_params_exponent:.3f}", escape(preset.citation))
    stdout.print(table)


COMMANDS = {"plan": plan_cmd, "loss": loss_cmd, "frontier": frontier_cmd, "diagnose": diagnose_cmd,
            "flops": flops_cmd, "laws": laws_cmd}
