"""A self-contained HTML report of runs, their fitted law, plans and figures.

One file, readable offline: figures are embedded as base64 PNG ``data:`` URIs, the style sheet is inline,
and there is no script and no external resource. Sections: the data; the fitted law (approach 3, Huber on
log residuals) with bootstrap intervals; N*(C) ∝ C^a from approaches 1, 2 and 3 side by side; an
extrapolation backtest; compute-optimal plans for chosen budgets; the diagnosis of a configuration; and
the figures of `isoflop.reporting.plots`. A section whose method does not apply to the data (too few budgets
for approach 2, no training curves for approach 1, …) is replaced by a note that says why.

``build_report`` turns an ``isoflop.analysis.Analysis`` (which computed everything) into a `Report` (its
``summary`` is JSON-ready, its figures drawn); ``Report.html()`` renders the page, ``Report.write(path)`` writes it, ``Report.save_figures(folder)``
writes each figure as PNG and SVG.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fitting.identify import unpinned_keys
from ..units import format_number, format_percent, format_quantity, format_scientific


# ------------------------------------------------------------------------------------------- compute

@dataclass(frozen=True)
class Report:
    """What the report says (``summary``, JSON-ready) and its figures (name → (Figure, caption))."""

    title: str
    summary: dict = field(repr=False)  # the whole report's numbers: `to_dict()`
    figures: dict = field(default_factory=dict, repr=False)  # Matplotlib figures: `save_figures`
    law: object = None  # the fitted law (a LawEnsemble with a bootstrap) or the saved one

    def to_dict(self) -> dict:
        return dict(self.summary, title=self.title, figures=list(self.figures))

    def html(self) -> str:
        return render(self)

    def write(self, path: str | Path) -> Path:
        from ..io_utils import atomic_write

        return atomic_write(path, self.html())  # a browser never sees half a page

    def save_figures(self, folder: str | Path) -> list[Path]:
        from .plots import save

        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return [p for name, (fig, _) in self.figures.items() for p in save(fig, folder / name)]
        except OSError as exc:
            raise InputError(f"--figures {folder}: cannot write there ({exc.strerror or exc})") from None


def build_report(analysis, *, unique_tokens=None, source: str = "", title: str | None = None,
                 figures: bool = True, provenance: dict | None = None, branches=None) -> Report:
    """The report of an ``isoflop.analysis.Analysis``: its summary and figures; computes nothing itself.

    ``unique_tokens``: also draw the data-constrained path on the loss landscape. ``branches``: a WSD sweep's
    cooldowns (``sweep.store.export_branches``), drawn off their trunks' curves.
    """
    summary = dict(analysis.to_dict(), source=source)
    if provenance is not None:
        summary["provenance"] = provenance
    with np.errstate(all="ignore"):  # a far-off law's curves hold inf/nan, which matplotlib leaves out
        shown = _figures(analysis, unique_tokens, branches) if figures else {}
    name = Path(source).name if source else "runs"
    return Report(title or f"isoflop report: {name}", summary, shown, analysis.law)


def _figures(analysis, unique_tokens, branches=None) -> dict:
    try:
        from . import plots
    except ImportError:
        raise InputError("figures need matplotlib: pip install 'isoflop[plot]'") from None

    law, finals, iso, env, curves = analysis.law, analysis.runs, analysis.isoflop, analysis.envelope, analysis.curves
    budgets, plannable, fit_result = analysis.budgets, analysis.plannable, analysis.fit
    config = None if analysis.diagnosis is None else (analysis.diagnosis.n_params, analysis.diagnosis.n_tokens)
    out = {}
    if iso is not None:
        out["isoflop_profiles"] = (plots.isoflop_curves(finals, iso),
                                   "Loss against model size per compute budget (approach 2); stars: each "
                                   "budget's fitted minimum.")
    # An unidentified fit plans nothing, so no figure draws its optimum either (they showed N* of 1e-7
    # parameters with a narrow "95 % band"); with the override they are drawn, as its plans are made.
    refused = (analysis.identifiability is not None and analysis.identifiability.level == "unidentified"
               and not analysis.options.allow_unidentified)
    if plannable and not refused:
        spans = list(budgets) + ([finals.flops.min(), finals.flops.max()] if finals is not None else [])
        if not spans:  # a saved fit without runs or budgets: the frontier around its largest run
            spans = [analysis.calibration.max_flops] if analysis.calibration is not None else [1e18, 1e24]
        lo, hi = min(spans), max(spans)
        flops = np.geomspace(lo / 3, hi * 3, 81)
        out["frontier"] = (plots.frontier(law, flops, isoflop=iso, envelope=env),
                           "Compute-optimal N*(C) and D*(C) of the fitted law (band: 95% bootstrap interval) "
                           "against published laws, with the optima measured by approaches 1 and 2.")
        out["loss_landscape"] = (plots.loss_landscape(law, budgets=budgets, unique_tokens=unique_tokens,
                                                      config=config, table=finals),
                                 "Predicted loss over (N, D): dotted iso-FLOP lines for the planned budgets, the "
                                 "compute-optimal path" + (", the data-constrained path" if unique_tokens else "")
                                 + ", the runs" + (" and the diagnosed configuration." if config else "."))
    if fit_result is not None:
        out["residuals"] = (plots.residuals(fit_result, finals),
                            "Residuals log L̂ − log L of the fit; band: ± RMS.")
    if curves is not None and branches is not None and len(branches):
        fitted = None if finals is None else set(finals.run_ids)
        out["wsd_branches"] = (plots.wsd_branches(curves, branches, fitted),
                               "Warmup-stable-decay: each model size's trunk at constant learning rate (solid) and "
                               "the cooldowns branched off it (dashed), each one point (N, D, loss); filled: "
                               "points the fit used, hollow: points it did not.")
    if curves is not None:
        out["training_curves"] = (plots.training_curves(curves, env),
                                  "Training curves against compute" + (" with the approach-1 envelope: the lowest "
                                                                       "loss of any run at each FLOP count."
                                                                       if env is not None else "."))
    return out


# -------------------------------------------------------------------------------------------- render

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; border-bottom: 2px solid #333; padding-bottom: .2em; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .6em 0; font-size: .92em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #555; }
.note { color: #8a5a00; font-size: .92em; } .muted { color: #777; font-size: .9em; }
code { background: #f5f5f5; padding: 0 .2em; }
.verdict { border-left: 6px solid; padding: .4em 1em; margin: 1em 0; background: #fafafa; }
.verdict p, .verdict ul { margin: .3em 0; }
.identified { border-color: #2e7d32; } .weakly { border-color: #c77c00; } .unidentified { border-color: #c62828; }
"""


def _percent(fraction) -> str:
    """3 significant figures, so a small share is not shown as 0.00 %; zeros kept where they were rounded to
    (0.0035000054 is '0.350%', not '0.35%')."""
    return format_percent(fraction, 3)


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or isinstance(value, str):
        return html.escape(str(value))
    value = float(value)
    if not np.isfinite(value):
        return str(value)
    if abs(value) >= 1e3:  # one style on both ends of a range ("4320 … 32.6K" mixed two)
        return format_quantity(value)
    # 4 figures, zeros kept where they were rounded to (a loss of 3.6999 is '3.700', not '3.7'; 20 stays '20')
    return format_number(value, 4)


def _factor(ratio) -> str:
    """A ratio to 3 figures, zeros kept ('1.00', not '1'), no bare point ('106', not '106.') and no 'e+'
    ('1.23e3')."""
    text = f"{float(ratio):#.3g}"
    if "e" in text:
        mantissa, exp = text.split("e")
        text = f"{mantissa.rstrip('.')}e{int(exp)}"
    return text.rstrip(".")


def _flops(value) -> str:
    """FLOP counts in one style, scientific at every size (5.76e23; '2.99B' beside '1e+18' read as two units)."""
    return "—" if value is None else html.escape(format_scientific(value))


def _constant(value) -> str:
    return "—" if value is None else html.escape(format_number(value, 4))


def _interval(pair, show=_fmt) -> str:
    return "—" if not pair else f"[{show(pair[0])}, {show(pair[1])}]"


def _table(headers, rows) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kv(pairs) -> str:
    body = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in pairs)
    return f"<table><tbody>{body}</tbody></table>"


def _warnings(lines) -> str:
    return "".join(f'<p class="note">warning: {html.escape(w)}</p>' for w in lines)


def _data_section(data) -> str:
    rows = [("runs", _fmt(data["n_runs"])), ("rows (points of curves included)", _fmt(data["n_points"])),
            ("parameter convention", _fmt(data["param_convention"]))]
    for key, label in (("n_params", "parameters N"), ("n_tokens", "tokens D"), ("flops", "compute C (FLOPs)"),
                       ("loss", "final loss (nats/token)")):
        show = _flops if key == "flops" else _fmt
        rows.append((label, f"{show(data[key][0])} … {show(data[key][1])}"))
    rows.append(("training curves", "yes" if data["curves"] else "no"))
    out = _kv(rows)
    out += _warnings(data["warnings"])
    return out


def _verdict_banner(s: dict) -> str:
    """The answer first: whether the data pin the law down (why not, which runs would), the self-backtest and
    the first plan with its interval, or why there is no plan."""
    fit = s.get("fit") or {}
    verdict = fit.get("identifiability") or {}
    level = verdict.get("level", "")
    css = {"identified": "identified", "weakly identified": "weakly", "unidentified": "unidentified"}.get(level, "")
    out = [f'<p><b>Verdict:</b> {html.escape(s.get("verdict", ""))}</p>']
    reasons = verdict.get("reasons", [])
    if len(reasons) > 1:
        out.append("<ul>" + "".join(f"<li>{html.escape(r)}</li>" for r in reasons) + "</ul>")
    if verdict.get("suggestions"):
        out.append("<p>To pin it down: " + html.escape("; ".join(verdict["suggestions"])) + ".</p>")
    for b in s.get("backtest") or []:
        out.append(f"<p><b>Backtest:</b> fit on the {b['n_train']:,} runs below {_flops(b['threshold_flops'])} FLOPs, "
                   f"predict the {b['n_test']:,} above: mean |error| {b['mean_abs_rel_error']:.2%}, max "
                   f"{b['max_abs_rel_error']:.2%}.</p>")
    plans = s.get("plans") or []
    if plans:
        r = plans[0]

        def interval(key):  # nothing where the plan has no interval (no bootstrap)
            pair = r.get(f"{key}_interval")
            return f" {_interval(pair)}" if pair else ""
        spread = r.get("n_params_interval")
        factor = f" (a factor {_factor(spread[1] / spread[0])})" if spread and spread[0] > 0 else ""
        more = f"; {len(plans) - 1} more budget(s) under Plans" if len(plans) > 1 else ""
        out.append(f"<p><b>Plan</b> at {_flops(r['flops'])} FLOPs: N* = {_fmt(r['n_params'])}{interval('n_params')}"
                   f"{factor}, D* = {_fmt(r['n_tokens'])}{interval('n_tokens')}, loss {_fmt(r['loss'])}"
                   f"{interval('loss')} nats/token{more}.</p>")
    if s.get("refusal"):
        out.append(f'<p class="note"><b>No plans:</b> {html.escape(s["refusal"])}</p>')
    return f'<div class="verdict {css}">{"".join(out)}</div>'


def _fit_section(fit) -> str:
    intervals = fit.get("intervals", {})
    # constants as numbers with 4 figures (B 2085 [2080, 2091], not 2.09K [2.08K, 2.09K]: one value, three names)
    unpinned = unpinned_keys(fit)  # their resamples never moved them: an interval of zero width says nothing
    rows = [(html.escape(k), _constant(v), "not identified" if k in unpinned else _interval(intervals.get(k), _constant))
            for k, v in fit["params"].items()]
    out = ""
    if fit.get("law", "").startswith("chinchilla"):
        out += "<p>L(N, D) = E + A / N<sup>α</sup> + B / D<sup>β</sup> (Hoffmann et al. 2022, eq. 2)</p>"
    level = fit.get("bootstrap", {}).get("level", 0.95)
    out += _table(("parameter", "value", f"{level:.0%} bootstrap interval"), rows)
    facts = []
    if "status" in fit:
        facts.append(f"status <b>{html.escape(fit['status'])}</b> ({html.escape(fit.get('message', ''))})")
    if "n_points" in fit:
        facts.append(f"{fit['n_points']} runs")
    if "objective" in fit:
        delta = fit.get("delta", "")
        if delta is None or (delta != "" and not np.isfinite(float(delta))):  # --delta inf (a saved fit: null)
            facts.append(f"least-squares objective {fit['objective']:.6g} (δ = ∞)")  # Huber's limit
        else:
            facts.append(f"Huber objective {fit['objective']:.6g}" + (f" (δ = {delta:g})" if delta != "" else ""))
    if "residual_rms" in fit:
        facts.append(f"RMS log residual {format_number(fit['residual_rms'], 3)}")  # 0.000612, not '0.0006'
    if "bootstrap" in fit:
        b = fit["bootstrap"]
        facts.append(f"{b['n_converged']} of {b['n_resamples']} bootstrap resamples converged (seed {b['seed']})")
    out += f'<p class="muted">{"; ".join(facts)}</p>'
    out += _warnings(fit.get("warnings", []))
    return out


def _exponent_section(exponents) -> str:
    rows = [(html.escape(k), _fmt(v["a"]), _interval(v["interval"])) for k, v in exponents.items()]
    return "<p>Compute-optimal model size N*(C) ∝ C<sup>a</sup>, by each approach of Hoffmann et al. 2022.</p>" + \
        _table(("approach", "a", "95% interval"), rows)


def _backtest_section(backtests) -> str:
    rows = [(html.escape(b["form"]), _flops(b["threshold_flops"]), _fmt(b["n_train"]), _fmt(b["n_test"]),
             f"{b['mean_abs_rel_error']:.3%}", f"{b['max_abs_rel_error']:.3%}", html.escape(b["status"]))
            for b in backtests]
    return ("<p>Fit on the runs below the threshold compute, predict the losses of the runs at or above it.</p>"
            + _table(("form", "threshold FLOPs", "fit on", "scored", "mean |rel. error|", "max |rel. error|",
                      "status"), rows))


def _selection_section(selection) -> str:
    rows = [(html.escape(c["label"]) + (" <b>◀ chosen</b>" if c["label"] == selection["chosen"]["label"] else ""),
             _fmt(c["n_folds"]), "—" if c["cv_mean_abs_rel_error"] is None else f"{c['cv_mean_abs_rel_error']:.3%}",
             "yes" if c["can_plan"] else "no", html.escape(c["verdict"])) for c in selection["candidates"]]
    return ("<p>--form auto: every candidate form and fitting choice fitted below compute cut-offs and scored on "
            "the runs above them (compute-ordered cross-validation; CV error: mean |relative error| over the "
            f"folds). {html.escape(selection.get('reason', ''))}.</p>"
            + _table(("candidate", "folds", "CV error", "plans", "verdict"), rows))


def _plan_section(plans, law_name) -> str:
    rows = []
    for r in plans:
        rows.append((_flops(r["flops"]), _fmt(r["n_params"]), _interval(r.get("n_params_interval")),
                     _fmt(r["n_tokens"]), _interval(r.get("n_tokens_interval")), _fmt(r["tokens_per_param"]),
                     _fmt(r["loss"]), _interval(r.get("loss_interval"))))
    return (f"<p>Compute-optimal allocation (C = 6·N·D) under the fitted {html.escape(law_name)} law; intervals "
            f"over the bootstrap ensemble (the loss's, where backtests calibrated the fit, for the loss a run "
            f"would measure: noise, parameters and the form's extrapolation error).</p>"
            + _table(("budget FLOPs", "N*", "N* interval", "D*", "D* interval", "tokens/param",
                      "loss (nats/token)", "loss interval"), rows))


def _diagnosis_section(d) -> str:
    intervals = d.get("intervals", {})
    rows = [("parameters N", _fmt(d["n_params"])), ("tokens D", _fmt(d["n_tokens"])),
            ("compute C (FLOPs)", _flops(d["flops"])), ("regime", f"<b>{_fmt(d['regime'])}</b>"),
            ("tokens per parameter", _fmt(d["tokens_per_param"])),
            ("… relative to compute-optimal", f"{_fmt(d['tokens_per_param_ratio'])} "
                                              f"{_interval(intervals.get('tokens_per_param_ratio'))}"),
            ("predicted loss (nats/token)", f"{_fmt(d['loss'])} {_interval(intervals.get('loss'))}"),
            ("compute-optimal N, D at this compute", f"{_fmt(d['optimal']['n_params'])}, "
                                                      f"{_fmt(d['optimal']['n_tokens'])}"),
            ("compute a compute-optimal run needs for this loss",
             f"{_flops(d['compute_equivalent_flops'])} {_interval(intervals.get('compute_equivalent_flops'), _flops)}"),
            ("compute wasted", f"{_percent(d['wasted_fraction'])} " + (
                "" if "wasted_fraction" not in intervals else
                "[{}, {}]".format(*map(_percent, intervals["wasted_fraction"])))),
            ("limiting resource", _fmt(d["limiting"]))]
    return _kv(rows)


def _envelope_section(e) -> str:
    rows = [(_flops(s["flops"]), _fmt(s["n_params_below"]), _fmt(s["n_params_above"]), _fmt(s["n_tokens"]))
            for s in e["steps"]]
    out = ("<p>At each of a log-spaced grid of FLOP counts, the run with the lowest interpolated loss; where the "
           "best model size changes, the optimum lies between the two sizes, and these points give N*(C).</p>"
           f"<details><summary>{len(rows)} changes of the best model size</summary>"
           + _table(("compute FLOPs", "from N", "to N", "D* there"), rows) + "</details>")
    for run, why in e["flagged"].items():
        out += f'<p class="note">run {html.escape(str(run))}: {html.escape(why)} — left out</p>'
    out += "".join(f'<p class="note">{html.escape(w)}</p>' for w in e["warnings"])
    return out


def render(report: Report) -> str:
    """The report as one HTML page (no scripts, no external resources)."""
    from .plots import png_base64

    s = report.summary
    parts = [f"<h1>{html.escape(report.title)}</h1>"]
    if s.get("source"):
        parts.append(f'<p class="muted">source: <code>{html.escape(s["source"])}</code></p>')
    if s.get("fit"):
        parts.append(_verdict_banner(s))
    sections = []
    if s.get("data"):
        sections.append(("Data", _data_section(s["data"])))
    sections.append(("Fitted law", _fit_section(s["fit"])))
    if s["fit"].get("selection"):
        sections.append(("Choice of form", _selection_section(s["fit"]["selection"])))
    if s.get("exponents"):
        sections.append(("Compute-optimal exponent", _exponent_section(s["exponents"])))
    if s.get("backtest"):
        sections.append(("Extrapolation backtest", _backtest_section(s["backtest"])))
    if s.get("plans"):
        law_name = s["fit"].get("law", "")
        sections.append(("Plans", _plan_section(s["plans"], law_name) + _warnings(s.get("plan_warnings", []))))
    if s.get("diagnosis"):
        sections.append(("Diagnosis of the configuration", _diagnosis_section(s["diagnosis"])))
    if s.get("envelope"):
        sections.append(("Approach 1: training-curve envelope", _envelope_section(s["envelope"])))
    for title, body in sections:
        parts.append(f"<section><h2>{html.escape(title)}</h2>{body}</section>")
    if report.figures:
        figs = "".join(f'<figure id="{html.escape(name)}"><img alt="{html.escape(name)}" '
                       f'src="data:image/png;base64,{png_base64(fig)}"><figcaption>{html.escape(caption)}'
                       f"</figcaption></figure>" for name, (fig, caption) in report.figures.items())
        parts.append(f"<section><h2>Figures</h2>{figs}</section>")
    if s.get("notes"):
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in s["notes"])
        parts.append(f"<section><h2>Notes</h2><ul class=\"note\">{notes}</ul></section>")
    body = "\n".join(parts)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(report.title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")
