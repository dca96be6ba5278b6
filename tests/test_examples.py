"""examples/: the committed sample inputs are exactly what make_examples.py writes, they ingest as the layouts
they imitate, sweep.toml designs its sweep, and docs/sweep-toml.md documents every config key."""

import dataclasses
import filecmp
import re
import runpy
import tomllib
from pathlib import Path

import numpy as np
import pytest

from isoflop.ingest import detect_format, ingest
from isoflop.runs import RunTable
from isoflop.sweep.design import SweepConfig, design_sweep
from isoflop.train.spec import DataSpec

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
GENERATED = ["tb_logs", "gpt-small", "wandb_export.csv", "runs.csv"]


def law(n, d):  # Besiroglu et al. 2024, written out independently of the script
    return 1.8172 + 482.01 / n**0.3478 + 2085.43 / d**0.3658


def test_script_regenerates_the_committed_files(tmp_path):
    pytest.importorskip("tensorboard")
    runpy.run_path(str(EXAMPLES / "make_examples.py"), run_name="examples")["main"]([str(tmp_path)])
    for name in GENERATED:
        fresh, committed = tmp_path / name, EXAMPLES / name
        if committed.is_dir():
            files = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
            assert files == sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
            for f in files:
                assert (committed / f).read_bytes() == (fresh / f).read_bytes(), f
        else:
            assert filecmp.cmp(fresh, committed, shallow=False), name


def test_hugging_face_tensorboard_layout_ingests_as_one_run():
    pytest.importorskip("tensorboard")
    tb = EXAMPLES / "tb_logs"
    assert detect_format(tb) == "tensorboard"
    assert len(list(tb.rglob("*tfevents*"))) == 2  # the run's file and the hparams-only subfolder's
    table = ingest(tb, n_params=124e6, tokens_per_step=524_288)
    assert set(table.run_ids) == {"runs/Nov25_12-00-00_example-host"}
    np.testing.assert_array_equal(table.frame["step"], np.arange(50, 401, 50))  # eval/loss
    final = law(124e6, 400 * 524_288) + 0.8 * np.exp(-10)
    assert table.frame["loss"].iloc[-1] == pytest.approx(final, abs=6e-5)  # rounded to 4 decimals, float32


def test_trainer_state_and_wandb_export():
    state = ingest(EXAMPLES / "gpt-small" / "trainer_state.json", n_params=124e6)
    assert set(state.run_ids) == {"gpt-small"}
    np.testing.assert_array_equal(state.frame["n_tokens"], np.arange(50, 401, 50) * 524_288.0)  # tokens seen
    assert (state.frame["planned_tokens"] == 400 * 524_288.0).all()
    chart = ingest(EXAMPLES / "wandb_export.csv", n_params={"run_a": 60e6, "run_b": 124e6}, tokens_per_step=65_536)
    steps = {run: chart.frame.loc[chart.frame["run_id"] == run, "step"].max() for run in ("run_a", "run_b")}
    assert steps == {"run_a": 1000, "run_b": 800} and not chart.warnings


def test_runs_csv_fits_back_near_its_law():
    from isoflop.fitting import fit

    table = RunTable.load(EXAMPLES / "runs.csv")
    assert len(table) == 20 and not table.warnings
    np.testing.assert_allclose(table.loss, law(table.n_params, table.n_tokens), atol=0.0041)
    result = fit(table)
    assert result.status == "converged" and abs(result.params["E"] - 1.8172) < 0.1


def test_sweep_toml_designs_a_tiny_sweep():
    config = SweepConfig.from_toml(EXAMPLES / "sweep.toml")
    assert config.budgets == (3e10, 6e10, 1.2e11) and config.data.source == "stdlib"
    design = design_sweep(config)
    # 3 budgets × 3 sizes, about a minute on 2 CPU cores at ~2e10 FLOP/s (the README runs it)
    assert len(design.runs) == 9 and design.total_flops == pytest.approx(3 * (3e10 + 6e10 + 1.2e11), rel=0.02)


def documented_keys(text):
    return set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M))


def test_every_config_key_is_documented_and_in_the_example():
    doc = (ROOT / "docs" / "sweep-toml.md").read_text()
    top, data_section = doc.split("## `[data]` keys")
    config_keys = {f.name for f in dataclasses.fields(SweepConfig)}
    data_keys = {f.name for f in dataclasses.fields(DataSpec)}
    assert documented_keys(top) == config_keys
    assert documented_keys(data_section) == data_keys
    example = (EXAMPLES / "sweep.toml").read_text()
    head, data_table = example.split("[data]")
    mentioned = lambda text: set(re.findall(r"^#? ?([a-z_]+) = ", text, flags=re.M))  # noqa: E731
    assert mentioned(head) == config_keys - {"data"}
    assert mentioned(data_table) == data_keys
    assert set(tomllib.loads(example)) <= config_keys


def test_the_example_sets_defaults_unless_marked_changed_and_the_docs_list_real_choices():
    """sweep.toml says its values are the defaults unless marked "(changed)": it set tied_embeddings and bias,
    so switching to block = "llama" gave a Llama with tied embeddings and biases. Both docs listed a FLOP
    convention, "chinchilla", that the code refuses."""
    from isoflop.flops import CONVENTIONS

    lines = (EXAMPLES / "sweep.toml").read_text().split("[data]")[0].splitlines()
    defaults = {f.name: f.default for f in dataclasses.fields(SweepConfig)}
    for i, line in enumerate(lines):
        match = re.match(r"^([a-z_]+) = (.*)$", line)
        if not match:
            continue
        comment = []
        for above in reversed(lines[:i]):  # the comment block just above the key
            if not above.startswith("#"):
                break
            comment.append(above)
        if "(changed" in " ".join(comment + [line]):  # "(changed)" or "(changed from 4)", above or inline
            continue
        value = tomllib.loads(line)[match.group(1)]
        assert value == defaults[match.group(1)], f"{match.group(1)} = {value!r} is not its default"
    for text in ((ROOT / "docs" / "sweep-toml.md").read_text(), (EXAMPLES / "sweep.toml").read_text()):
        listed = re.search(r"FLOPs are counted: (.*?)\(", text, flags=re.S).group(1)
        assert re.findall(r"[`\"]([\w-]+)[`\"]", listed) == list(CONVENTIONS)
