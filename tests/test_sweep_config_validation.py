"""Sweep config files with wrongly typed values: one InputError naming the file, the key and the type wanted."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from isoflop.errors import InputError
from isoflop.sweep.design import SweepConfig, check_types, design_sweep

GOOD = """\
budgets = [2e9, 6e9]
sizes_per_budget = 3
spread = 2.0
head_dim = 8
seq_len = 32

[data]
source = "markov"
n_states = 16
concentration = 0.3
"""

BAD = {  # (replace this, with that) in GOOD, and the words the error must hold after the file name
    "concentration-text": ("concentration = 0.3", 'concentration = "high"',
                           "data.concentration must be a finite number, got 'high' (str)"),
    "hyper_rule-list": ("seq_len = 32", 'seq_len = 32\nhyper_rule = ["x"]', "hyper_rule must be a string, got ['x']"),
    "center-inf": ("spread = 2.0", "spread = 2.0\ncenter = inf", "center must be a finite number, got inf"),
    "spread-nan": ("spread = 2.0", "spread = nan", "spread must be a finite number, got nan"),
    "seq_len-float": ("seq_len = 32", "seq_len = 32.0", "seq_len must be a whole number, got 32.0"),
    "seq_len-text": ("seq_len = 32", 'seq_len = "32"', "seq_len must be a whole number, got '32'"),
    "seed-bool": ("seq_len = 32", "seq_len = 32\nseed = true", "seed must be a whole number, got True"),
    "bias-int": ("seq_len = 32", "seq_len = 32\nbias = 1", "bias must be true or false (or left out), got 1"),
    "law-int": ("seq_len = 32", "seq_len = 32\nlaw = 3", "law must be a string, got 3"),
    "vocab-text": ("seq_len = 32", 'seq_len = 32\nvocab_size = "big"',
                   "vocab_size must be a whole number (or left out), got 'big'"),
    "budgets-bool": ("budgets = [2e9, 6e9]", "budgets = [true, 6e9]", "budgets must be a number such as 1e11"),
    "budgets-empty-table": ("budgets = [2e9, 6e9]", "budgets = {}", "budgets must be a number such as 1e11"),
    "batch_tokens-bool": ("seq_len = 32", "seq_len = 32\nbatch_tokens = true", "batch_tokens must be a number"),
    "data-int": ('[data]\nsource = "markov"\nn_states = 16\nconcentration = 0.3', "data = 5",
                 "data must be a [data] table or a source name, got 5"),
    "paths-string": ('source = "markov"', 'source = "text"\npaths = "corpus.txt"',
                     "data.paths must be a list of strings, got 'corpus.txt'"),
    "n_states-float": ("n_states = 16", "n_states = 3.5", "data.n_states must be a whole number, got 3.5"),
    "data-seed-text": ("n_states = 16", 'n_states = 16\nseed = "x"', "data.seed must be a whole number, got 'x'"),
    "val_fraction-text": ("n_states = 16", 'n_states = 16\nval_fraction = "0.1"',
                          "data.val_fraction must be a finite number, got '0.1'"),
    "val_fraction-stdlib": ('[data]\nsource = "markov"\nn_states = 16\nconcentration = 0.3',
                            '[data]\nsource = "stdlib"\nval_fraction = 0.6', "at most 0.5; got 0.6"),
    "vocab-stdlib": ('[data]\nsource = "markov"\nn_states = 16\nconcentration = 0.3',
                     '[data]\nsource = "stdlib"\nvocab_size = 1000', "data.vocab_size: applies to token files"),
    "sizes-and-spread": ("seq_len = 32", "seq_len = 32\nsizes = [4000, 8000]", "so sizes_per_budget, spread"),
    "data-seed-negative": ("n_states = 16", "n_states = 16\nseed = -3", "data.seed: a whole number from 0"),
    "budgets-twice": ("budgets = [2e9, 6e9]", "budgets = [2e9, 6e9, 2e9]",
                      "budgets: 2e+09 is given twice; give each budget once"),
    "budgets-same-id": ("budgets = [2e9, 6e9]", "budgets = [2e9, 2.0001e9]", "and 2e+09 both round to 2e9"),
    # a WSD sweep named both cooldowns alike: one folder, one run trained, the other reported "done" with its loss
    "budgets-same-id-wsd": ("budgets = [2e9, 6e9]\nsizes_per_budget = 3\nspread = 2.0",
                            'budgets = [2e9, 2.0049e9]\nschedule = "wsd"\nsizes = [4000]',
                            "and 2e+09 both round to 2e9"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_wrongly_typed_value_names_file_key_and_type(tmp_path, case):
    old, new, words = BAD[case]
    assert old in GOOD
    path = tmp_path / "cfg.toml"
    path.write_text(GOOD.replace(old, new))
    with pytest.raises(InputError) as info:
        design_sweep(SweepConfig.from_toml(path))
    message = str(info.value)
    assert words in message and "\n" not in message
    if not case.startswith("budgets-twice") and not case.startswith("budgets-same"):
        assert message.startswith(f"{path}: ")


def test_the_good_config_still_designs(tmp_path):
    path = tmp_path / "cfg.toml"
    path.write_text(GOOD + 'paths = []\n')
    design = design_sweep(SweepConfig.from_toml(path))
    assert len(design.runs) == 6 and len({r.run_id for r in design.runs}) == 6
    text = SweepConfig.from_dict({"budgets": ["2B", 6e9], "batch_tokens": "1K", "data": "stdlib"})
    assert text.budgets == (2e9, 6e9) and text.batch_tokens == 1000.0


@dataclass(frozen=True)
class Future:
    """Stands for fields another branch may add (e.g. a schedule): the check follows the annotations."""

    decay_fraction: float = 0.2
    schedule: str = "cosine"
    cooldown_steps: int | None = None
    milestones: tuple[float, ...] = ()


@pytest.mark.parametrize("key,value,expected", [
    ("decay_fraction", "0.2", "a finite number"), ("decay_fraction", float("-inf"), "a finite number"),
    ("schedule", 1, "a string"), ("cooldown_steps", 2.5, "a whole number (or left out)"),
    ("milestones", [0.5, "x"], "a list of finite numbers"), ("milestones", 0.5, "a list of finite numbers")])
def test_check_types_follows_the_annotations(key, value, expected):
    with pytest.raises(InputError, match="^" + re.escape(f"src.toml: {key} must be {expected}, got {value!r}")):
        check_types(Future, {key: value}, "src.toml")
    check_types(Future, {"decay_fraction": 1, "cooldown_steps": None, "milestones": [1, 2.5], "other": "x"}, "s")


def test_design_refusals_say_where_the_value_came_from(tmp_path):
    """A design check names only the field: 'error: budgets: 2e+09 is given twice', whether the budgets came from
    the config file or from --budgets. The file's name now comes first, or the field becomes the flag typed."""
    from typer.testing import CliRunner

    from isoflop.cli import app

    config = tmp_path / "sweep.toml"
    config.write_text('budgets = [2e9, 2e9]\nhead_dim = 8\nseq_len = 32\n[data]\nsource = "markov"\nn_states = 16\n')
    runner = CliRunner()
    for args in (["sweep", "design", str(config)], ["sweep", "run", str(config), "--device", "cpu"]):
        out = runner.invoke(app, args)
        assert out.exit_code == 2 and out.stderr.strip() == (f"error: {config}: budgets: 2e+09 is given twice; give "
                                                             f"each budget once, differing in its first 3 "
                                                             f"significant digits"), out.output
    out = runner.invoke(app, ["sweep", "design", "--budgets", "2e9,2e9", "--head-dim", "8", "--seq-len", "32"])
    assert out.exit_code == 2 and out.stderr.startswith("error: --budgets: 2e+09 is given twice"), out.output
    assert not (tmp_path / "sweep").exists()  # sweep run refused before making its folder
