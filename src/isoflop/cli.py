"""The `isoflop` command line: plan, diagnose, flops, laws.

Every command prints a rich table, or one JSON object with ``--json``. Bad input is one red line on stderr
and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from . import plan as planning
from .errors import InputError
from .flops import CONVENTIONS, Architecture
from .presets import PRESETS, get_law
from .units import format_quantity, parse_quantity

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Plan compute-optimal training runs from scaling laws.")
out = Console()
err = Console(stderr=True, soft_wrap=True)

DEFAULT_LAW = "besiroglu2024"
LAW_HELP = f"Published law ({', '.join(PRESETS)})."
JSON_HELP = "Print one JSON object instead of a table."


@contextmanager
def user_errors():
    """Turn bad input (ValueError, InputError included) into one red line and exit code 2."""
    try:
        yield
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


def _number(text: Optional[str], name: str) -> Optional[float]:
    return None if text is None else parse_quantity(text, name)


def _fmt(value) -> str:
    if isinstance(value, float):
        if abs(value) >= 1e3:
            return format_quantity(value)
        return f"{value:.4f}" if abs(value) >= 1e-3 else f"{value:.4g}"
    return str(value)


def _emit(result: dict, as_json: bool, title: str) -> None:
    """One JSON object, or a two-column table with nested objects flattened as 'key.sub'."""
    if as_json:
        print(json.dumps(result))
        return
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")

    def add(prefix, obj):
        for key, value in obj.items():
            if isinstance(value, dict):
                add(f"{prefix}{key}.", value)
            else:
                table.add_row(f"{prefix}{key}", _fmt(value))

    add("", result)
    out.print(table)


@app.command("plan")
def plan_cmd(
    flops: Optional[str] = typer.Option(None, help="Training budget in FLOPs (C = 6·N·D), e.g. 5.76e23."),
    params: Optional[str] = typer.Option(None, help="Fixed model size: the budget for which it is optimal."),
    tokens: Optional[str] = typer.Option(None, help="Fixed token count: the budget for which it is optimal."),
    target_loss: Optional[float] = typer.Option(None, help="Cheapest run that reaches this loss (nats/token)."),
    law: str = typer.Option(DEFAULT_LAW, help=LAW_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Compute-optimal model size, tokens and loss for a budget, a size, a dataset or a target loss."""
    with user_errors():
        chosen = [name for name, v in (("--flops", flops), ("--params", params), ("--tokens", tokens),
                                        ("--target-loss", target_loss)) if v is not None]
        if len(chosen) != 1:
            raise InputError("give exactly one of --flops, --params, --tokens, --target-loss"
                             + (f" (got {', '.join(chosen)})" if chosen else ""))
        the_law = get_law(law)
        if flops is not None:
            result = planning.compute_optimal(the_law, _number(flops, "--flops"))
        elif params is not None:
            result = planning.optimal_for_params(the_law, _number(params, "--params"))
        elif tokens is not None:
            result = planning.optimal_for_tokens(the_law, _number(tokens, "--tokens"))
        else:
            result = planning.min_flops_for_loss(the_law, target_loss)
        _emit(result.to_dict(), as_json, f"Compute-optimal plan ({law})")


@app.command("diagnose")
def diagnose_cmd(
    params: str = typer.Option(..., help="Model parameters, e.g. 280B."),
    tokens: str = typer.Option(..., help="Training tokens, e.g. 300B."),
    law: str = typer.Option(DEFAULT_LAW, help=LAW_HELP),
    tolerance: float = typer.Option(1.5, help="Factor on tokens/param still counted as compute-optimal."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Is a planned run undertrained, overtrained or compute-optimal, and how much compute does it waste?"""
    with user_errors():
        result = planning.diagnose(get_law(law), _number(params, "--params"), _number(tokens, "--tokens"),
                                   tolerance=tolerance)
        _emit(result.to_dict(), as_json, f"Diagnosis ({law})")


@app.command("flops")
def flops_cmd(
    layers: int = typer.Option(..., help="Number of transformer blocks."),
    d_model: int = typer.Option(..., help="Residual stream width."),
    heads: int = typer.Option(..., help="Attention heads."),
    vocab: int = typer.Option(..., help="Vocabulary size."),
    seq_len: int = typer.Option(..., help="Context length in tokens."),
    d_ff: Optional[int] = typer.Option(None, help="MLP width (default 4·d_model)."),
    untied: bool = typer.Option(False, help="Separate output head (not tied to the token embedding)."),
    no_bias: bool = typer.Option(False, help="No biases in linear layers and LayerNorms."),
    no_pos_embedding: bool = typer.Option(False, help="No learned position embeddings (e.g. rotary)."),
    tokens: Optional[str] = typer.Option(None, help="Also give total training FLOPs for this many tokens."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Exact parameter counts and training FLOPs per token under each convention."""
    with user_errors():
        arch = Architecture(n_layer=layers, d_model=d_model, n_head=heads, vocab_size=vocab, seq_len=seq_len,
                            d_ff=d_ff, tied_embeddings=not untied, bias=not no_bias,
                            learned_pos=not no_pos_embedding)
        result = arch.to_dict()
        if tokens is not None:
            n_tokens = _number(tokens, "--tokens")
            result["n_tokens"] = n_tokens
            result["training_flops"] = {c: arch.flops_per_token(c) * n_tokens for c in CONVENTIONS}
        _emit(result, as_json, "Architecture")


@app.command("laws")
def laws_cmd(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """List the published laws with their constants and sources."""
    if as_json:
        print(json.dumps({name: p.to_dict() for name, p in PRESETS.items()}))
        return
    table = Table(title="Published scaling laws")
    for col in ("name", "constants", "N* ∝ C^a", "source"):
        table.add_column(col, overflow="fold")
    for name, preset in PRESETS.items():
        constants = {k: v for k, v in preset.law.to_dict().items() if k not in ("kind", "name", "param_convention")}
        text = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in constants.items())
        table.add_row(name, text, f"{preset.law.n_params_exponent:.3f}", preset.citation)
    out.print(table)


def main() -> None:
    app()
