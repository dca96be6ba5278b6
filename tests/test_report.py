"""The HTML report: what it says (against the law the data were drawn from), that it is self-contained, and
that a real browser (headless Chromium) loads every figure and paints a non-blank page."""

import html
import json
import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("matplotlib")

from isoflop.cli import app  # noqa: E402
from isoflop.analysis import FitOptions, analyse  # noqa: E402
from isoflop.reporting import build_report as render_report  # noqa: E402
from tests.test_envelope import LAW  # noqa: E402
from tests.test_plots import BUDGETS, isoflop_sweep  # noqa: E402

runner = CliRunner()


def build_report(table, *, budgets, config=None, unique_tokens=None, n_bootstrap=200, source="", figures=True):
    """What `isoflop report` does: one analysis (the orchestrator shared with fit and demo), then render."""
    analysis = analyse(table, FitOptions(n_bootstrap=n_bootstrap), budgets=budgets, config=config,
                       auto_backtest=True, isoflop=True)
    return render_report(analysis, unique_tokens=unique_tokens, source=source, figures=figures)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FIGURES = {"isoflop_profiles", "frontier", "loss_landscape", "residuals", "training_curves"}


@pytest.fixture(scope="module")
def sweep():
    return isoflop_sweep()


@pytest.fixture(scope="module")
def report(sweep):
    return build_report(sweep, budgets=(1e21, 1e22, 1e23), config=(7e9, 140e9), unique_tokens=1e11, n_bootstrap=40,
                        source="sweep.parquet")


@pytest.fixture(scope="module")
def page(report):
    return report.html()


def test_summary_recovers_the_law(report, sweep):
    s = report.summary
    assert s["data"]["n_runs"] == 5 * 7 and s["data"]["n_points"] == len(sweep) and s["data"]["curves"]
    a = LAW.n_params_exponent  # 0.4516: the data were drawn from LAW with 0.2% noise
    exps = s["exponents"]
    assert exps["approach 3 (parametric fit)"]["a"] == pytest.approx(a, abs=0.03)
    assert exps["approach 2 (IsoFLOP profiles)"]["a"] == pytest.approx(a, abs=0.05)
    assert exps["approach 1 (training-curve envelope)"]["a"] == pytest.approx(a, abs=0.1)
    lo, hi = exps["approach 3 (parametric fit)"]["interval"]
    assert lo < exps["approach 3 (parametric fit)"]["a"] < hi
    # Plans: the closed form of the fitted constants (Hoffmann et al. 2022, eq. 4), with intervals around it.
    p = s["fit"]["params"]
    g = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / (p["alpha"] + p["beta"]))
    for row, c in zip(s["plans"], (1e21, 1e22, 1e23)):
        assert row["n_params"] == pytest.approx(g * (c / 6) ** (p["beta"] / (p["alpha"] + p["beta"])), rel=1e-9)
        assert row["n_params_interval"][0] <= row["n_params"] <= row["n_params_interval"][1]
        assert row["n_params"] == pytest.approx(LAW.compute_optimal(c)[0], rel=0.35)
    # Diagnosis of 7e9 × 140e9 (20 tokens/param) against the law's own optimum at that compute.
    d = s["diagnosis"]
    n_opt, d_opt = LAW.compute_optimal(6 * 7e9 * 140e9)
    assert d["tokens_per_param_ratio"] == pytest.approx(20 / (d_opt / n_opt), rel=0.35)
    assert d["regime"] == "undertrained"  # LAW (eq. 10 as printed) wants ~50 tokens/param here
    assert s["backtest"][0]["n_test"] >= 3 and s["backtest"][0]["mean_abs_rel_error"] < 0.01
    assert s["envelope"]["flagged"] == {}  # every run went the length of its schedule
    assert set(report.figures) == FIGURES
    json.dumps(report.to_dict())


def test_the_verdict_comes_first(report, page):
    # The banner opens the page, before the first section, and says what the summary says.
    s = report.summary
    banner = page[page.index('<div class="verdict'):page.index("<section>")]
    level = s["fit"]["identifiability"]["level"]
    assert f'class="verdict {level.split()[0]}"' in banner and s["verdict"] in banner
    b = s["backtest"][0]
    assert f"mean |error| {b['mean_abs_rel_error']:.2%}" in banner
    row = s["plans"][0]
    spread = row["n_params_interval"][1] / row["n_params_interval"][0]
    assert "Plan</b> at 1e21 FLOPs" in banner and f"(a factor {spread:#.3g})".replace(".)", ")") in banner


def test_an_unidentified_fit_says_so_at_the_top_and_plans_nothing():
    # all runs share one model size: α cannot be estimated, and the report refuses to plan
    rng = np.random.default_rng(0)
    n = np.full(8, 1e8)
    d = np.geomspace(1e9, 1e11, 8)
    import pandas as pd

    from isoflop.runs import RunTable
    table = RunTable.from_frame(pd.DataFrame({"n_params": n, "n_tokens": d,
                                              "loss": LAW.loss(n, d) * np.exp(rng.normal(0, 0.002, 8))}))
    page = build_report(table, budgets=(1e21,), n_bootstrap=20, figures=False).html()
    banner = page[page.index('<div class="verdict'):page.index("<section>")]
    assert 'class="verdict unidentified"' in banner and "share one model size" in banner
    assert "No plans:" in banner and "To pin it down:" in banner and "Plan</b>" not in banner
    # nor do its figures draw the refused law's optimum (N* of 1e-7 params with a "95 % band"), or leak warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figures = build_report(table, budgets=(1e21,), n_bootstrap=20).figures
    assert "frontier" not in figures and "loss_landscape" not in figures and "residuals" in figures


def test_html_is_self_contained(page):
    assert page.startswith("<!doctype html>")
    images = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(images) == len(FIGURES) and all(src.startswith("data:image/png;base64,") for src in images)
    assert "<script" not in page and "<link" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page) and "url(" not in page
    for heading in ("Data", "Fitted law", "Extrapolation backtest", "Plans", "Diagnosis of the configuration",
                    "Approach 1: training-curve envelope", "Figures"):
        assert f"<h2>{heading}</h2>" in page


def browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium/Chrome binary (Debian: apt-get install chromium)")


def headless(binary, profile, *args, timeout=90):
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
               f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def test_report_renders_in_chromium(page, tmp_path):
    check_in_chromium(page, tmp_path, len(FIGURES))


def check_in_chromium(page: str, tmp_path: Path, n_figures: int) -> Path:
    """Every figure of ``page`` decodes in headless Chromium, and a screenshot of it is not blank."""
    binary = browser()
    html_file = tmp_path / "report.html"
    html_file.write_text(page, encoding="utf-8")
    # A copy with a probe that records, once the page has loaded, each image's decoded width.
    probe = ("<script>window.addEventListener('load', function () { document.body.setAttribute('data-widths', "
             "Array.from(document.images).map(function (i) { return i.naturalWidth; }).join(',')); });</script>")
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", probe + "</body>"), encoding="utf-8")
    dom = headless(binary, tmp_path / "profile", "--dump-dom", probed.as_uri()).stdout
    widths = re.search(r'data-widths="([^"]*)"', dom)
    assert widths, dom[-2000:]
    widths = [int(w) for w in widths.group(1).split(",")]
    assert len(widths) == n_figures and min(widths) > 300  # every figure decoded, none broken
    # A screenshot of the report itself: not blank (pixel variance), with dark text and coloured figures.
    shot = Path(os.environ.get("ISOFLOP_SCREENSHOT", tmp_path / "screenshot.png"))  # set it to keep a copy
    headless(binary, tmp_path / "profile", "--window-size=1200,7000", f"--screenshot={shot}", html_file.as_uri())
    assert shot.exists(), "chromium wrote no screenshot"
    from matplotlib.image import imread

    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (7000, 1200)
    assert pixels.std() > 0.05
    gray = pixels.mean(axis=2)
    assert (gray < 0.3).mean() > 0.002  # text
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    assert (saturation > 0.3).mean() > 0.01  # figures (viridis contours, coloured lines)
    return shot


# --------------------------------------------------------------------------------------------------- CLI

def test_cli_report_from_runs_file(sweep, tmp_path):
    runs = tmp_path / "runs.csv"
    sweep.frame.to_csv(runs, index=False)
    out, figures = tmp_path / "report.html", tmp_path / "figs"
    result = runner.invoke(app, ["report", str(runs), "--out", str(out), "--budgets", "1e21,1e22", "--config",
                                 "7Bx140B", "--bootstrap", "20", "--figures", str(figures), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["out"] == str(out) and set(summary["figures"]) == FIGURES
    assert [r["flops"] for r in summary["plans"]] == [1e21, 1e22]
    assert summary["diagnosis"]["n_params"] == 7e9 and summary["diagnosis"]["n_tokens"] == 140e9
    assert summary["envelope"]["flagged"] == {} and "planned_tokens" not in " ".join(summary["notes"])
    assert sorted(p.name for p in figures.iterdir()) == sorted(f"{n}.{x}" for n in FIGURES for x in ("png", "svg"))
    page = out.read_text()
    assert page.count("data:image/png;base64,") == len(FIGURES)


def test_cli_report_from_saved_fit(sweep, tmp_path):
    runs = tmp_path / "runs.csv"
    sweep.finals().frame.to_csv(runs, index=False)
    saved = tmp_path / "fit.json"
    result = runner.invoke(app, ["fit", str(runs), "--bootstrap", "20", "--save", str(saved), "--json"])
    assert result.exit_code == 0, result.output
    fitted = json.loads(result.stdout)
    out = tmp_path / "fit.html"
    result = runner.invoke(app, ["report", str(saved), "--out", str(out), "--budgets", "1e22", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["fit"]["params"] == fitted["params"]
    p = fitted["params"]
    g = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / (p["alpha"] + p["beta"]))
    assert summary["plans"][0]["n_params"] == pytest.approx(g * (1e22 / 6) ** (p["beta"] / (p["alpha"] + p["beta"])))
    assert "n_params_interval" in summary["plans"][0]  # the saved ensemble gives intervals
    assert set(summary["figures"]) == {"frontier", "loss_landscape"}
    assert any("saved fit carries no runs" in n for n in summary["notes"])
    assert out.read_text().count("<img") == 2


@pytest.mark.parametrize("args,message", [
    (["--config", "7e9"], "PARAMSxTOKENS"),
    (["--budgets", "1e21,lots"], "--budgets"),
    (["--form", "bogus"], "unknown law form"),
])
def test_cli_report_errors(sweep, tmp_path, args, message):
    runs = tmp_path / "runs.csv"
    sweep.finals().frame.to_csv(runs, index=False)
    result = runner.invoke(app, ["report", str(runs), "--out", str(tmp_path / "r.html"), "--bootstrap", "0", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_cli_report_missing_file(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "no such file" in result.stderr


def test_budgets_in_plan_table_match_arguments(sweep):
    rep = build_report(sweep.finals(), budgets=BUDGETS, n_bootstrap=0, figures=False)
    assert [r["flops"] for r in rep.summary["plans"]] == list(BUDGETS)
    assert "n_params_interval" not in rep.summary["plans"][0] and rep.figures == {}
    assert any("approach 1" in n for n in rep.summary["notes"])  # final losses only: no curves
    np.testing.assert_allclose([r["n_params"] for r in rep.summary["plans"]],
                               LAW.compute_optimal(np.array(BUDGETS))[0], rtol=0.35)


def fake_sweep(root, law=LAW, n_points=30, noise=0.002, seed=0):
    """A real sweep folder (sweep.json and spec.json from ``design_sweep``; nothing trained) whose metrics.jsonl
    and result.json hold losses drawn from ``law`` at each run's exact (N, D): every run finished except the
    fourth, stopped at half its planned tokens (no result.json). Returns (folder, design, the unfinished id)."""
    from isoflop.sweep import store
    from isoflop.sweep.design import SweepConfig, design_sweep

    design = design_sweep(SweepConfig(budgets=BUDGETS, sizes_per_budget=7, spread=4.0, head_dim=32))
    store.init_sweep(root, design)
    rng = np.random.default_rng(seed)
    unfinished = design.runs[3].run_id
    for spec in design.runs:
        n, planned, per_step = spec.n_params, spec.n_tokens, spec.train.tokens_per_step
        steps = np.unique(np.round(np.geomspace(spec.train.n_steps / 100, spec.train.n_steps, n_points)).astype(int))
        if spec.run_id == unfinished:
            steps = steps[steps * per_step <= planned / 2]
        tokens = steps * per_step  # the store reads tokens as step × tokens per step, as the trainer logs them
        loss = law.loss(n, tokens) * np.exp(rng.normal(0, noise, tokens.size))
        metrics = [{"step": 0, "n_tokens": 0, "flops": 0.0, "loss": 11.0, "train_loss": 11.0, "lr": 0.0}]
        metrics += [{"step": int(k), "n_tokens": float(d), "flops": 6.0 * n * float(d), "loss": float(v),
                     "train_loss": float(v), "lr": 1e-3} for k, d, v in zip(steps, tokens, loss)]
        folder = store.run_dir(root, spec.run_id)
        (folder / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
        if spec.run_id != unfinished:
            store.write_result(folder, {"run_id": spec.run_id, "n_params": n, "n_tokens": float(tokens[-1]),
                                        "flops": 6.0 * n * float(tokens[-1]), "loss": float(loss[-1]),
                                        "param_convention": "total", "flops_budget": spec.flops_budget})
    return root, design, unfinished


def test_cli_report_from_sweep_folder(sweep, tmp_path):
    pytest.importorskip("isoflop.sweep.store")
    folder, design, unfinished = fake_sweep(tmp_path / "sweep")
    out = tmp_path / "sweep.html"
    result = runner.invoke(app, ["report", str(folder), "--out", str(out), "--bootstrap", "10", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["data"]["n_runs"] == len(design.runs) - 1 and summary["data"]["curves"]  # finals: result.json
    assert list(summary["envelope"]["flagged"]) == [unfinished]  # curves from metrics.jsonl, checked against spec
    assert re.match(r"stopped at (4\d|50)% of its schedule", summary["envelope"]["flagged"][unfinished])
    assert "training_curves" in summary["figures"]


def test_fit_and_report_give_the_same_law_and_plan(tmp_path):
    """One orchestrator behind both commands: the same runs and options give the same law and the same plan."""
    runs = str(Path(__file__).resolve().parents[1] / "examples" / "runs.csv")
    options = ["--drop-highest", "2", "--delta", "0.01", "--bootstrap", "0"]
    fitted = json.loads(runner.invoke(app, ["fit", runs, *options, "--plan", "1e21", "--json"]).stdout)
    reported = runner.invoke(app, ["report", runs, *options, "--budgets", "1e21", "--out", str(tmp_path / "r.html"),
                                   "--json"])
    assert reported.exit_code == 0, reported.output
    summary = json.loads(reported.stdout)
    assert summary["fit"]["params"] == fitted["params"] and summary["fit"]["n_points"] == fitted["n_points"] == 18
    assert summary["plans"][0]["n_params"] == fitted["plan"]["n_params"]


def test_auto_report_shows_the_comparison_of_candidates(sweep):
    """`isoflop report --form auto` shows the same comparison table as `fit --form auto`: every candidate,
    its CV error (the selection's own numbers) and its verdict, with the chosen one marked."""
    analysis = analyse(sweep, FitOptions(form="auto"))
    page = render_report(analysis, figures=False).html()
    section = page[page.index("<h2>Choice of form</h2>"):]
    section = section[:section.index("</section>")]
    for c in analysis.selection.candidates:
        assert html.escape(c.choice.label) in section
        if c.cv_error is not None:
            assert f"{c.cv_error:.3%}" in section
    assert section.count("◀ chosen") == 1 and analysis.selection.reason in section


def test_python_report_without_budgets_and_out_must_be_html(sweep, tmp_path):
    """`isoflop.report(isoflop.analyse(runs), path)` as the README shows it (no budgets) writes a page with the
    frontier over the runs' compute; the CLI refuses an --out that is not .html before fitting anything."""
    import isoflop

    analysis = isoflop.analyse(sweep, isoflop.FitOptions(n_bootstrap=20))
    built = isoflop.report(analysis, tmp_path / "r.html")
    assert "frontier" in built.figures and (tmp_path / "r.html").read_text().startswith("<!doctype html>")
    for out, message in (("r.xlsx", "ending in .html"), ("", "empty name")):
        result = runner.invoke(app, ["report", "missing.csv", "--out", out])
        assert result.exit_code == 2 and "--out" in result.output and message in result.output
        assert "Traceback" not in result.output


def test_few_bootstrap_resamples_are_flagged(sweep, tmp_path):
    """A 95% percentile interval from 20 resamples has its ends at single members: the analysis says so."""
    few = analyse(sweep, FitOptions(n_bootstrap=20))
    assert any("bootstrap of 20 resamples" in w and "too few" in w for w in few.warnings)
    assert not any("too few" in w for w in analyse(sweep, FitOptions(n_bootstrap=100)).warnings)


def test_what_reading_the_curves_skipped_reaches_the_report(tmp_path):
    """A sweep's curves are read apart from its final losses; what their reading reported (a cut or malformed
    line of a run's metrics) reached neither the screen nor the page."""
    import isoflop
    from isoflop.runs import RunTable

    curves_file = tmp_path / "curves.csv"
    curves_file.write_text("run_id,step,n_params,n_tokens,loss\na,1,1e8,1e9,3.5\na,2,1e8,2e9,3.2\nb,1,2e8,1e9,3.4\n"
                           "b,2,2e8,2e9,3.")  # the last row cut mid-value
    curves = RunTable.load(curves_file)
    assert curves.warnings
    runs = RunTable.load(Path(__file__).resolve().parents[1] / "examples" / "runs.csv")
    analysis = isoflop.analyse(runs, isoflop.FitOptions(), curves=curves)
    assert curves.warnings[0] in analysis.warnings
    assert html.escape(curves.warnings[0]) in isoflop.report(analysis).html()


def test_report_numbers_keep_one_style_and_small_shares():
    """The data table read "parameters N 4320 … 32.6K" (two styles in one range) and a diagnosis "compute
    wasted 0.11% [0.00%, …]" (a small share rounded to nothing)."""
    from isoflop.reporting.html import _fmt, _percent

    assert (_fmt(4320), _fmt(32600), _fmt(999.5)) == ("4.32K", "32.6K", "999.5")
    assert (_percent(0.0011), _percent(1.2e-5), _percent(0.5)) == ("0.11%", "0.0012%", "50%")


def test_flop_counts_keep_one_style_at_every_size(page):
    """FLOPs read "2.99B" below 1e15 and "1e+18" above in one report (two styles for one unit)."""
    from isoflop.reporting.html import _flops

    assert (_flops(2.99e9), _flops(1e18), _flops(5.76e23), _flops(None)) == ("2.99e9", "1e18", "5.76e23", "—")
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    low, high = re.search(r"compute C \(FLOPs\)\s+(\S+) … (\S+)", text).groups()
    assert re.fullmatch(r"\d(\.\d+)?e\d+", low) and re.fullmatch(r"\d(\.\d+)?e\d+", high), (low, high)
    plan = re.search(r"Plan\s+at (\S+) FLOPs", text).group(1)
    assert plan == "1e21" and "e+" not in text


def test_runs_at_scattered_compute_are_backtested_on_their_most_expensive_tenth():
    """A million random runs over 7 decades chain into one budget group, and the report said "too few compute
    budgets to hold the largest out". The oracle: the 40th-largest of 400 runs' compute."""
    import pandas as pd

    from isoflop.analysis import default_backtest_threshold
    from isoflop.runs import RunTable

    rng = np.random.default_rng(0)
    flops = rng.permutation(np.geomspace(1e15, 1e22, 400))  # 4 % apart: within a budget group's 5 %, chained
    table = RunTable.from_frame(pd.DataFrame({"n_params": np.sqrt(flops / 120), "flops": flops,
                                              "loss": 2 + rng.random(400)}), flops_tolerance=None)
    assert default_backtest_threshold(table) == np.sort(flops)[-40]


def test_fitted_constants_show_four_figures_not_count_suffixes(page, report):
    """B read "2.09K [2.08K, 2.09K]" and E "1.82 [1.82, 1.821]": a constant and its interval in count style
    could not be told apart. Oracle: each constant to 4 significant figures, as the fit's own value."""
    from isoflop.units import format_number

    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    for name, value in report.summary["fit"]["params"].items():
        lo, hi = report.summary["fit"]["intervals"][name]
        shown = f"{name} {format_number(value)} [{format_number(lo)}, {format_number(hi)}]"
        assert re.sub(r"\s+", " ", shown) in re.sub(r"\s+", " ", text), shown
    assert not re.search(r"\b(A|B) \d+(\.\d+)?K\b", text)


def test_numbers_keep_four_figures_where_they_were_rounded():
    """examples/runs.csv's highest loss, 3.6999, read "final loss 2.726 … 3.7" (two figures) and an exponent
    interval "0.615 [0.5331, 0.77]": '.4g' dropped the zeros that rounding produced. Oracle: 4 significant
    figures, zeros kept unless the number is exact at 4 figures (isoflop.units.format_number's rule)."""
    from isoflop.reporting.html import _fmt
    from isoflop.runs import RunTable

    assert (_fmt(3.6999), _fmt(0.76996), _fmt(2.1300004), _fmt(20), _fmt(0.5), _fmt(24.634)) == (
        "3.700", "0.7700", "2.130", "20", "0.5", "24.63")
    runs = RunTable.load(Path(__file__).resolve().parents[1] / "examples" / "runs.csv")
    page = render_report(analyse(runs, FitOptions(n_bootstrap=0)), figures=False).html()
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    assert "final loss (nats/token) 2.726 … 3.700" in text


def test_interval_factor_has_no_bare_decimal_point():
    """The demo's banner read "N* = 14.0B [2.70B, 285B] (a factor 106.)": '#.3g' keeps the point of a
    3-digit number, and a factor of 1,000 or more would read '1.23e+03'. Oracle: 285/2.70 = 105.6 → '106'."""
    from isoflop.reporting import html as report_html

    plan = {"flops": 1e21, "n_params": 14.0e9, "n_tokens": 11.9e9, "loss": 0.9262}
    for (low, high), factor in (((2.70e9, 285e9), "106"), ((1e9, 1e9), "1.00"), ((1e9, 1.0936e9), "1.09"),
                                ((1e9, 1234e9), "1.23e3")):
        banner = report_html._verdict_banner({"plans": [dict(plan, n_params_interval=[low, high])]})
        assert f"(a factor {factor})" in banner, banner


def test_rms_log_residual_keeps_three_figures():
    """isoflop report examples/runs.csv read "RMS log residual 0.0006" (one figure, '.4f'); a tighter fit would
    read '0.0000'. Oracle: the fit's own residuals, RMS computed here, to 3 significant figures."""
    from isoflop.runs import RunTable
    from isoflop.units import format_number

    runs = RunTable.load(Path(__file__).resolve().parents[1] / "examples" / "runs.csv")
    analysis = analyse(runs, FitOptions(n_bootstrap=0))
    rms = float(np.sqrt(np.mean(np.square(analysis.fit.residuals))))
    assert 1e-4 < rms < 1e-3
    page = render_report(analysis, figures=False).html()
    shown = re.search(r"RMS log residual ([^;<]*)", page).group(1)
    assert shown == format_number(rms, 3) and float(shown) == pytest.approx(rms, rel=1e-2), shown


def test_percentages_keep_three_figures_where_they_were_rounded():
    """isoflop report examples/runs.csv --config 7e9x140e9 read "compute wasted 0.35% [0.0448%, 0.751%]" for a
    wasted fraction of 0.0035000054: '.3g' dropped the rounded zero (two figures beside three). Oracle: 3
    significant figures, zeros dropped only where the share is exact (format_percent's rule)."""
    from isoflop.reporting.html import _percent

    assert (_percent(0.0035000054), _percent(0.07), _percent(0.0011), _percent(0.5)) == (
        "0.350%", "7%", "0.11%", "50%")


def test_every_loss_says_its_unit():
    """The data table said "final loss (nats/token)", but the banner ("loss 2.298 [2.278, 2.319]"), the plans
    table (header "loss") and the diagnosis ("predicted loss 2.163") gave the same quantity as a bare number.
    Oracle: each names nats per token, as the CLI's '1.958 nats' does."""
    from isoflop.runs import RunTable

    runs = RunTable.load(Path(__file__).resolve().parents[1] / "examples" / "runs.csv")
    analysis = analyse(runs, FitOptions(n_bootstrap=20), budgets=(1e21,), config=(7e9, 140e9))
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", render_report(analysis, figures=False).html())))
    assert re.search(r"Plan at 1e21 FLOPs: .*, loss \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\] nats/token", text), text
    assert "tokens/param loss (nats/token) loss interval" in text
    assert re.search(r"predicted loss \(nats/token\) \d\.\d{3} \[", text)


def test_least_squares_fit_is_not_shown_as_delta_inf(tmp_path):
    """isoflop report runs.csv --delta inf (least squares, as the README offers) read "Huber objective
    3.54723e-06 (δ = inf)": 'inf' shown to the reader, and the objective named for a loss it was not. Oracle:
    δ = ∞ is Huber's least-squares limit; a finite δ keeps its line ("Huber objective … (δ = 0.001)")."""
    import isoflop
    from isoflop.fitting.io import load_saved_fit
    from isoflop.runs import RunTable

    runs = RunTable.load(Path(__file__).resolve().parents[1] / "examples" / "runs.csv")
    for delta, said in ((np.inf, "least-squares objective"), (1e-3, "Huber objective")):
        page = render_report(analyse(runs, FitOptions(n_bootstrap=0, delta=delta)), figures=False).html()
        text = html.unescape(re.sub(r"<[^>]+>", " ", page))
        assert said in text and not re.search(r"\b(inf|nan|None)\b", text), re.findall(r"[^;]*objective[^;]*", text)
    assert "(δ = 0.001)" in text
    # a saved fit writes δ = ∞ as null (strict JSON): read back, it is least squares still, not 'δ = None'
    least_squares = analyse(runs, FitOptions(n_bootstrap=0, delta=np.inf))
    saved = tmp_path / "fit.json"
    isoflop.save_fit(least_squares, saved)
    page = render_report(analyse(saved_fit=load_saved_fit(saved), options=FitOptions()), figures=False).html()
    assert "least-squares objective" in page and "None" not in html.unescape(re.sub(r"<[^>]+>", " ", page))
