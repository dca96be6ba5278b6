"""Sweep design: grid placement, exact token budgets, hyper-parameter rules, and bad configs."""

import math
import re
from pathlib import Path

import numpy as np
import pytest

from isoflop.errors import InputError
from isoflop.flops import Architecture
from isoflop.presets import get_law
from isoflop.sweep.design import MIN_WARMUP_STEPS, SweepConfig, design_sweep, format_budget
from isoflop.sweep.rules import deepseek2024, kaplan2020

BASE = dict(budgets=[1e11, 3e11], sizes_per_budget=4, spread=2.5, center=0.7, head_dim=8)


def test_grid_is_log_uniform_around_the_prior_optimum():
    cfg = SweepConfig.from_dict(BASE)
    design = design_sweep(cfg)
    law = get_law("besiroglu2024")
    for budget in cfg.budgets:
        runs = [r for r in design.runs if r.flops_budget == budget]
        targets = np.array([r.target_n_params for r in runs])
        # independent closed form: N* = G·(C/6)^(β/(α+β)), G = (αA/(βB))^(1/(α+β))  (Hoffmann et al. eq. 4)
        G = (law.alpha * law.A / (law.beta * law.B)) ** (1 / (law.alpha + law.beta))
        n_star = G * (budget / 6) ** (law.beta / (law.alpha + law.beta))
        np.testing.assert_allclose(targets, 0.7 * n_star * 2.5 ** np.linspace(-1, 1, 4), rtol=1e-9)
        for r in runs:  # snapped within tolerance, exact count recorded
            assert abs(r.n_params / r.target_n_params - 1) <= cfg.snap_tolerance
            assert r.n_params == Architecture(**r.train.to_dict()["arch"]).n_params


def test_tokens_spend_the_budget_with_the_exact_parameter_count():
    design = design_sweep(SweepConfig.from_dict(BASE))
    for r in design.runs:
        t = r.train
        assert r.n_tokens == t.n_steps * t.batch_size * t.arch.seq_len
        # rounding D = C / (6N) to whole steps misses the budget by at most half a step
        half_step = 0.5 * t.batch_size * t.arch.seq_len * 6 * r.n_params
        assert abs(r.flops - r.flops_budget) <= half_step
        assert r.flops == pytest.approx(6 * r.n_params * r.n_tokens)
        assert r.run_id == f"c{format_budget(r.flops_budget)}-n{r.n_params}"
        assert t.eval_every * SweepConfig.from_dict(BASE).evals_per_run >= t.n_steps


def test_other_flop_conventions_spend_the_budget_under_that_convention():
    design = design_sweep(SweepConfig.from_dict({**BASE, "flop_convention": "palm"}))
    for r in design.runs:
        assert r.flops == pytest.approx(r.n_tokens * r.train.arch.flops_per_token("palm"))
        assert abs(r.flops / r.flops_budget - 1) < 0.01


def test_batch_and_lr_follow_the_named_rules():
    design = design_sweep(SweepConfig.from_dict(BASE))
    for r in design.runs:
        C, t = r.flops_budget, r.train
        assert t.peak_lr == pytest.approx(0.3118 * C ** -0.125)            # DeepSeek LLM eq. 1
        assert t.batch_size == round(0.2920 * C ** 0.3271 / t.arch.seq_len)
        tokens_per_step = t.batch_size * t.arch.seq_len
        rule = max(round(r.n_params / tokens_per_step), MIN_WARMUP_STEPS)  # warm-up N tokens, ≥ 100 steps
        assert t.warmup_steps == min(rule, max(1, t.n_steps // 4))
    assert deepseek2024(1e6, 1e20).peak_lr == pytest.approx(0.3118 * 10 ** -2.5)  # C^(-1/8) = 10^(-2.5)
    assert kaplan2020(1e6, 1e20).peak_lr == pytest.approx(0.003239 - 0.0001395 * math.log(1e6))
    assert kaplan2020(1e12, 1e20).peak_lr == 1e-4  # floored where the fit turns negative
    fixed = design_sweep(SweepConfig.from_dict({**BASE, "peak_lr": 0.005, "batch_tokens": 640}))
    assert {r.train.peak_lr for r in fixed.runs} == {0.005} and {r.train.batch_size for r in fixed.runs} == {10}


def test_any_law_object_can_be_the_prior():
    law = get_law("hoffmann2022")
    design = design_sweep(SweepConfig.from_dict(BASE), law=law)
    assert design.law == "hoffmann2022"
    n_star = float(law.compute_optimal(1e11)[0])
    assert design.runs[0].target_n_params == pytest.approx(0.7 * n_star / 2.5)


def test_toml_round_trip(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text('budgets = [1e11, "3e11"]\nsizes_per_budget = 3\nhead_dim = 8\ncenter = 0.7\n'
                    '[data]\nsource = "markov"\nn_states = 16\n')
    cfg = SweepConfig.from_toml(path)
    assert cfg.budgets == (1e11, 3e11) and cfg.data.n_states == 16 and cfg.n_vocab == 16
    assert SweepConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("change,field", [
    ({"budget": [1e11]}, "budget"),                              # unknown key (typo)
    ({"data": {"source": "markov", "states": 4}}, "states"),     # unknown [data] key
    ({"budgets": []}, "budgets"),
    ({"budgets": ["lots"]}, "budgets"),
    ({"budgets": [1e5]}, "budgets"),                              # far too small
    ({"sizes_per_budget": 0}, "sizes_per_budget"),
    ({"spread": 0.5}, "spread"),
    ({"hyper_rule": "magic"}, "hyper_rule"),
    ({"law": "nope"}, "nope"),
    ({"flop_convention": "8N"}, "flop_convention"),
    ({"vocab_size": 50257}, "vocab_size"),
    ({"data": {"source": "wiki"}}, "data.source"),
    ({"data": {"source": "text"}}, "data.paths"),
])
def test_bad_configs_fail_fast_naming_the_field(change, field):
    d = {**BASE, **change}
    if "budget" in change:
        del d["budgets"]
    with pytest.raises(InputError, match=field):
        design_sweep(SweepConfig.from_dict(d))


def test_budget_too_small_for_one_step_and_unsnappable_sizes():
    # one step of the smallest shape (3,448 parameters) with 1,024-token batches costs 6·3448·1024 ≈ 2.1e7 FLOPs
    center = 3448 / float(get_law("besiroglu2024").compute_optimal(1e7)[0])
    with pytest.raises(InputError, match="budgets: .* cannot pay for one optimiser step"):
        design_sweep(SweepConfig.from_dict({**BASE, "budgets": [1e7], "center": center, "sizes_per_budget": 1,
                                            "batch_tokens": 1024}))
    with pytest.raises(InputError, match="budgets/center/spread .*cannot be snapped.*raise budgets or center"):
        design_sweep(SweepConfig.from_dict({**BASE, "head_dim": 64}))


def test_missing_data_file_is_reported_at_load(tmp_path):
    from isoflop.train.data import load_source

    cfg = SweepConfig.from_dict({**BASE, "data": {"source": "text", "paths": [str(tmp_path / "gone.txt")]}})
    with pytest.raises(InputError, match="gone.txt"):
        load_source(cfg.data)


def test_llama_block_snaps_with_its_own_accounting():
    cfg = SweepConfig.from_dict({**BASE, "block": "llama"})
    assert (cfg.tied_embeddings, cfg.bias, cfg.query_groups) == (False, False, 2)
    design = design_sweep(cfg)
    for r in design.runs:
        arch = r.train.arch
        assert (arch.mlp, arch.norm, arch.position, arch.bias, arch.tied_embeddings) == ("swiglu", "rmsnorm",
                                                                                          "rotary", False, False)
        assert arch.n_head % arch.n_kv_head == 0 and arch.n_kv_head <= max(1, arch.n_head // 2)
        assert abs(r.n_params / r.target_n_params - 1) <= cfg.snap_tolerance
        # the spec round-trips through its dict (the run store) to the same shape and count
        assert Architecture(**r.train.to_dict()["arch"]) == arch
        # counted by hand: untied embeddings and head, per layer q/o d², k/v d·kv, 3 SwiGLU matrices, 2 gains
        d, kv, f, L, V = arch.d_model, arch.n_kv_head * arch.head_dim, arch.d_ff, arch.n_layer, arch.vocab_size
        assert r.n_params == 2 * V * d + L * (2 * d * d + 2 * d * kv + 3 * d * f + 2 * d) + d


def test_block_config_errors():
    with pytest.raises(InputError, match="block"):
        SweepConfig.from_dict({**BASE, "block": "mamba"})
    with pytest.raises(InputError, match="query_groups"):
        SweepConfig.from_dict({**BASE, "query_groups": 0})
    gpt2_untied = SweepConfig.from_dict({**BASE, "tied_embeddings": False})
    assert gpt2_untied.block == "gpt2" and gpt2_untied.bias is True and gpt2_untied.query_groups == 1


# ------------------------------------------------------------------------------------- warmup-stable-decay

WSD = dict(budgets=[3e10, 1e11, 3e11, 1e12], schedule="wsd", sizes=[1e4, 2e4, 5e4, 1e5], head_dim=16, seq_len=64,
           data="stdlib", cooldown_fraction=0.25, batch_tokens=2048, peak_lr=0.01)


def test_wsd_branches_end_each_point_on_its_budget_and_share_one_trunk():
    design = design_sweep(SweepConfig.from_dict(WSD))
    trunks = {r.run_id: r for r in design.runs if r.kind == "trunk"}
    cooldowns = [r for r in design.runs if r.kind == "cooldown"]
    assert len(trunks) == 4 and len(cooldowns) == 16 and design.points == tuple(cooldowns)
    for r in cooldowns:
        t, trunk = r.train, trunks[r.trunk].train
        assert (t.batch_size, t.peak_lr, t.cooldown_shape, t.final_lr_ratio) == (32, 0.01, "1-sqrt", 0.0)
        n = round(r.flops_budget / (6 * r.n_params) / 2048)          # steps that spend the budget (6N)
        assert t.n_steps == n and t.decay_start == round(n / 1.25)   # branch at D/(1 + f)
        assert t.cooldown_steps == n - round(n / 1.25)
        assert t.decay_start in trunk.keep_checkpoints and t.stable_key() == trunk.stable_key()
        assert r.train_flops == pytest.approx(6 * r.n_params * t.cooldown_steps * 2048)
        assert abs(r.flops - r.flops_budget) <= 0.5 * 6 * r.n_params * 2048
    for trunk in trunks.values():  # constant learning rate to the last branch point
        mine = [r for r in cooldowns if r.trunk == trunk.run_id]
        assert trunk.train.n_steps == max(r.train.decay_start for r in mine) and trunk.train.cooldown_steps == 0
        assert not trunk.is_point
    # each stable phase counted once; the grid is the same points trained separately
    total = sum(t.flops for t in trunks.values()) + sum(6 * r.n_params * r.train.cooldown_steps * 2048
                                                        for r in cooldowns)
    assert design.total_flops == pytest.approx(total)
    assert design.grid_flops == pytest.approx(sum(r.flops for r in cooldowns))
    assert design.flops_saved == pytest.approx(design.grid_flops - total) and design.flops_saved > 0
    doc = design.to_dict()
    assert doc["flops_saved"] == pytest.approx(design.flops_saved) and doc["n_points"] == 16
    again = type(design).from_dict(doc)
    assert again.runs == design.runs


def test_wsd_tokens_per_param_range_and_cosine_configs_unchanged():
    design = design_sweep(SweepConfig.from_dict({**WSD, "min_tokens_per_param": 10, "max_tokens_per_param": 300}))
    for r in design.points:
        assert 10 <= r.n_tokens / r.n_params * (r.flops_budget / r.flops) <= 300 * 1.01
    assert len(design.points) < 16
    fewest = design_sweep(SweepConfig.from_dict({**WSD, "min_n_tokens": 1e6}))
    assert {r.run_id for r in fewest.points} == {r.run_id for r in design_sweep(SweepConfig.from_dict(WSD)).points
                                                  if r.flops_budget / (6 * r.n_params) >= 1e6}
    plain = SweepConfig.from_dict(BASE).to_dict()
    assert "schedule" not in plain and "sizes" not in plain  # sweep.json of cosine sweeps is as before
    assert all(r.kind == "cosine" and r.train_flops == r.flops for r in design_sweep(SweepConfig.from_dict(BASE)).runs)


def test_warmup_has_a_floor_of_steps_but_never_more_than_a_quarter_of_the_first_point():
    # the rule's N tokens would give these models 4-58 steps of 2,048 tokens: too few for Adam (design.py)
    for budgets, expected in (([3e10, 1e11, 3e11, 1e12], None), ([1e12, 3e12], {100})):
        design = design_sweep(SweepConfig.from_dict({**WSD, "budgets": budgets}))
        trunks = [r for r in design.runs if r.kind == "trunk"]
        for trunk in trunks:
            first = min(trunk.train.keep_checkpoints)  # the shortest point's branch comes after warm-up
            assert trunk.train.warmup_steps == min(max(round(trunk.n_params / 2048), 100), first // 4)
            cooldowns = [r for r in design.runs if r.trunk == trunk.run_id]
            assert {r.train.warmup_steps for r in cooldowns} == {trunk.train.warmup_steps}  # one stable phase
        if expected:
            assert {t.train.warmup_steps for t in trunks} == expected
    rule_only = design_sweep(SweepConfig.from_dict({**WSD, "budgets": [1e12, 3e12], "min_warmup_steps": 0}))
    assert sorted(r.train.warmup_steps for r in rule_only.runs if r.kind == "trunk") == [4, 11, 21, 59]
    with pytest.raises(InputError, match="min_warmup_steps"):
        SweepConfig.from_dict({**WSD, "min_warmup_steps": -1})


@pytest.mark.parametrize("change, field", [
    (dict(sizes=None), "sizes"), (dict(cooldown_fraction=0), "cooldown_fraction"),
    (dict(cooldown_shape="cos"), "cooldown_shape"), (dict(schedule="step"), "schedule"),
    (dict(budgets=[1e6]), "budgets"), (dict(min_tokens_per_param=-1), "min_tokens_per_param")])
def test_bad_wsd_configs_name_the_field(change, field):
    with pytest.raises(InputError, match=field):
        design_sweep(SweepConfig.from_dict({**WSD, **change}))


def test_wsd_sweep_of_the_llama_block_has_llama_shapes():
    design = design_sweep(SweepConfig.from_dict({**WSD, "block": "llama"}))
    for r in design.runs:
        arch = r.train.arch
        assert (arch.mlp, arch.norm, arch.position, arch.bias) == ("swiglu", "rmsnorm", "rotary", False)


def test_relative_data_paths_are_stored_absolute(tmp_path, monkeypatch):
    """`sweep design sub/rel.toml` stored `sub/corpus.txt`, relative to the folder it ran in: run from `sub/`,
    every run failed ("does not exist"). The paths, relative to the config file, are now stored absolute."""
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "corpus.txt").write_bytes(b"hello world " * 500)
    (sub / "rel.toml").write_text('budgets = [1e11]\nsizes_per_budget = 1\nhead_dim = 8\nseq_len = 32\n'
                                  '[data]\nsource = "text"\npaths = ["corpus.txt"]\n')
    monkeypatch.chdir(tmp_path)
    config = SweepConfig.from_toml(Path("sub") / "rel.toml")
    assert config.data.paths == (str(sub / "corpus.txt"),)
    monkeypatch.chdir(sub)  # elsewhere, the stored design still names the file
    assert Path(design_sweep(config).runs[0].train.data.paths[0]).is_file()


@pytest.mark.parametrize("files, data, words", [
    ({"empty.txt": b""}, {"source": "text", "paths": ["empty.txt"]}, "is empty"),
    ({"short.txt": b"x" * 200}, {"source": "text", "paths": ["short.txt"]}, "no window of seq_len"),
    ({"tok/train.bin": b"\0\0" * 100}, {"source": "tokens", "paths": ["tok"], "vocab_size": 50},
     "val.bin does not exist"),
    ({"a.bin": b"\0\0", "b.bin": b"\0\0", "c.bin": b"\0\0"},
     {"source": "tokens", "paths": ["a.bin", "b.bin", "c.bin"], "vocab_size": 50}, "got 3 paths"),
    ({"odd.bin": b"\0\0\0"}, {"source": "tokens", "paths": ["odd.bin"], "vocab_size": 50}, "not a whole number"),
    ({"tok/train.bin": b"\0\0" * 300, "tok/val.bin": b"\0\0" * 73 + b"\x3c\0" + b"\0\0" * 200},
     {"source": "tokens", "paths": ["tok"], "vocab_size": 50}, "val.bin holds token id 60 at token 73, not below"),
    # a training audit's finds: each designed a sweep whose every run failed, or trained on other data
    ({"corpus.txt": b"x" * 10_000}, {"paths": ["corpus.txt"]}, "source 'stdlib' has its own data"),
    ({"corpus.txt": b"x" * 10_000}, {"source": "markov", "paths": ["corpus.txt"]}, "would be ignored"),
    ({"texts/a.txt": b"x" * 10_000}, {"source": "text", "paths": ["texts"]}, "is a folder"),
    ({"one.bin": b"\0\0" * 50}, {"source": "tokens", "paths": ["one.bin"], "vocab_size": 50},
     "hold 45 and 5 training and validation tokens, too few for one window of seq_len \\+ 1 = 129"),
    ({"tr.bin": b"\0\0" * 500, "va.bin": b"\0\0" * 30},
     {"source": "tokens", "paths": ["tr.bin", "va.bin"], "vocab_size": 50}, "hold 500 and 30 training"),
    ({"byte.bin": b"x"}, {"source": "tokens", "paths": ["byte.bin"], "vocab_size": 50}, "not a whole number"),
])
def test_data_no_run_could_train_on_is_refused_at_design(tmp_path, files, data, words):
    """These passed `sweep design`, then every run failed at training time (exit 1), one by one."""
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(content)
    data = {**data, "paths": [str(tmp_path / p) for p in data["paths"]]}
    with pytest.raises(InputError, match=words):
        design_sweep(SweepConfig.from_dict({**BASE, "seq_len": 128, "data": data}))


def test_rotary_blocks_need_an_even_head_dim():
    """head_dim = 7 under block = 'llama' designed 5×7×1 shapes; every run then failed inside apply_rotary."""
    with pytest.raises(InputError, match="head_dim must be even, got 7"):
        SweepConfig.from_dict({**BASE, "block": "llama", "head_dim": 7})
    with pytest.raises(InputError, match="even head width"):
        Architecture(n_layer=1, d_model=14, n_head=2, vocab_size=64, seq_len=32, position="rotary")
    assert Architecture(n_layer=1, d_model=14, n_head=2, vocab_size=64, seq_len=32).head_dim == 7  # learned: fine


def test_runs_that_repeat_their_data_are_noted(tmp_path):
    """5,000 bytes of text under a 3e10-FLOP budget: 593K tokens, 132 epochs of the 4,500-byte training split,
    designed without a word (its validation loss rose while the training loss fell)."""
    (tmp_path / "small.txt").write_bytes(b"abcdefghij" * 500)
    config = {"budgets": [3e10], "head_dim": 8, "center": 0.7, "sizes_per_budget": 1,
              "data": {"source": "text", "paths": [str(tmp_path / "small.txt")]}}
    design = design_sweep(SweepConfig.from_dict(config))
    run = design.runs[0]
    epochs = run.n_tokens / 4500  # the oracle: 90 % of 5,000 bytes train
    assert any(f"repeats it {epochs:.3g} times" in w for w in design.warnings), design.warnings
    (tmp_path / "small.txt").write_bytes(b"abcdefghij" * 100_000)  # 900K training bytes: under one epoch
    assert not any("repeats" in w for w in design_sweep(SweepConfig.from_dict(config)).warnings)


def test_a_uint32_token_file_read_as_uint16_is_refused(tmp_path):
    """Ids below 65,536 written as uint32 and read as uint16 passed the id scan and trained on the ids with a
    zero between each (half of every batch the token 0). Oracle: the file's own bytes, little-endian."""
    from isoflop.train import spec

    ids = np.random.default_rng(0).integers(1, 50_257, 10_000)
    ids.astype("<u4").tofile(tmp_path / "wide.bin")
    assert not np.fromfile(tmp_path / "wide.bin", dtype="<u2")[1::2].any()  # the high halves, read as tokens
    with pytest.raises(InputError, match="holds uint32 ids; set dtype = 'uint32'"):
        spec.check_token_ids(tmp_path / "wide.bin", "uint16", 50_257)
    spec.check_token_ids(tmp_path / "wide.bin", "uint32", 50_257)  # read as written: passes
    ids.astype("<u2").tofile(tmp_path / "narrow.bin")
    spec.check_token_ids(tmp_path / "narrow.bin", "uint16", 50_257)
    zeros = np.zeros(10_000, dtype="<u2")  # all zeros (a file of one token) is not mistaken for it
    zeros.tofile(tmp_path / "zeros.bin")
    spec.check_token_ids(tmp_path / "zeros.bin", "uint16", 50_257)


def test_the_token_id_scan_finds_the_first_bad_id_across_its_chunks(tmp_path, monkeypatch):
    """A bad id was found only when a random batch drew it; the design-time scan reads the file in chunks and
    names the first one (the oracle: NumPy's argmax over the whole array)."""
    from isoflop.train import spec

    tokens = np.random.default_rng(0).integers(0, 50, 10_000).astype(np.uint32)
    tokens[[7_777, 9_000]] = [50, 99]
    tokens.tofile(tmp_path / "one.bin")
    monkeypatch.setattr(spec, "SCAN_TOKENS", 1000)
    with pytest.raises(InputError, match=f"token id 50 at token {int(np.argmax(tokens >= 50)):,}"):
        spec.check_token_ids(tmp_path / "one.bin", "uint32", 50)
    spec.check_token_ids(tmp_path / "one.bin", "uint32", 100)  # every id below 100: passes


def test_the_time_estimate_counts_evaluation():
    """16.7M sequences per evaluation were estimated at 3.3 minutes: the estimate counted training alone. The
    oracle: ⌈steps / eval_every⌉ evaluations of eval_sequences × seq_len tokens at 2·N forward FLOPs each
    (Kaplan et al. 2020, §2.1), beside 6·N·D of training."""
    design = design_sweep(SweepConfig.from_dict({**BASE, "budgets": [1e11], "sizes_per_budget": 1,
                                                  "eval_sequences": 4096}))
    t = design.runs[0].train
    evaluation = math.ceil(t.n_steps / t.eval_every) * 4096 * t.seq_len * 2 * t.n_params
    assert design.estimate_seconds(1.0) == pytest.approx(6 * t.n_params * t.n_tokens + evaluation, rel=1e-12)
    # with each step's own cost beyond its FLOPs (tiny models were estimated at 9 s and ran 32 s)
    assert design.estimate_seconds(1.0, 0.5) == pytest.approx(design.estimate_seconds(1.0) + 0.5 * t.n_steps)
    with pytest.raises(InputError, match="eval_sequences"):
        SweepConfig.from_dict({**BASE, "eval_sequences": 1 << 24})


def test_the_time_estimate_counts_compiling_only_the_runs_that_compile():
    """On an H100, torch.compile cost 15-34 s per model shape and paid only from ~20M parameters over ~1,000 steps
    (a sweep of 8 tiny models: 113 s compiled, 48 s eager; train.spec.compile_pays). The oracle: the runs of
    10M+ parameters that train 2,000+ steps themselves, counted from the design's own run specs, a WSD cooldown
    by its cooldown steps alone (it starts from its trunk's state)."""
    for config in ({"budgets": [3e16, 1e17], "sizes_per_budget": 3},
                   {"budgets": [3e16, 1e17], "sizes": [5e6, 3e7], "schedule": "wsd"}):
        design = design_sweep(SweepConfig.from_dict(config))
        steps = {r.run_id: r.train.cooldown_steps if r.trunk else r.train.n_steps for r in design.runs}
        expected = [r.run_id for r in design.runs if r.train.arch.n_params >= 1e7 and steps[r.run_id] >= 2000]
        assert [r.run_id for r in design.compiled_runs] == expected
        assert 0 < len(expected) < len(design.runs)  # the grid straddles the rule
        assert design.estimate_seconds(1e14, 0.01, 30.0) == pytest.approx(
            design.estimate_seconds(1e14) + 0.01 * sum(steps.values()) + 30.0 * len(expected))
    cooled = [r for r in design.runs if r.trunk and r.n_params >= 1e7]
    assert cooled and cooled[0].train.n_steps >= 1700  # its whole schedule is long; its own part is short


def test_listed_sizes_are_total_parameters_whatever_the_prior():
    """`sizes = [20000]` gave a 23,008-parameter model, but 32,600 under law = 'kaplan2020' (read as a
    non-embedding count): listed sizes now mean total parameters with every prior, as in WSD sweeps."""
    for law in ("besiroglu2024", "kaplan2020"):
        config = SweepConfig.from_dict({"budgets": [1e10], "sizes": [20000], "head_dim": 8, "law": law})
        run = design_sweep(config).runs[0]
        assert abs(run.train.arch.n_params / 20000 - 1) <= 0.25  # within snap_tolerance of the total count


@pytest.mark.parametrize("config, words", [
    ({"center": 1e-300}, "budgets/center/spread"),  # no sizes were given: "sizes:" blamed a key not in the file
    ({"sizes": [1e-3]}, "sizes: "),
    ({"schedule": "wsd", "sizes": [4000], "cooldown_fraction": 1e-6}, "raise the budget or cooldown_fraction"),
    ({"data": {"source": "tokens", "paths": ["x.bin"], "vocab_size": 0}}, "data.vocab_size: a vocabulary"),
])
def test_errors_name_the_key_that_caused_them(config, words):
    base = {k: v for k, v in BASE.items() if not ("sizes" in config and k in ("sizes_per_budget", "spread", "center"))}
    with pytest.raises(InputError, match=re.escape(words)):
        design_sweep(SweepConfig.from_dict({**base, **config}))


def test_errors_and_warnings_stay_readable():
    """budgets = [-1e12] was shown as -1000000000000.0; batch_tokens = 1e300 put a 300-digit integer in the
    error; sizes_per_budget = 200 printed 193 "kept once" lines."""
    with pytest.raises(InputError, match=r"got -1e\+12$"):
        SweepConfig.from_dict({**BASE, "budgets": [-1e12]})
    with pytest.raises(InputError, match="cannot pay for one optimiser step") as err:
        design_sweep(SweepConfig.from_dict({**BASE, "batch_tokens": 1e300}))
    assert len(str(err.value)) < 300
    design = design_sweep(SweepConfig.from_dict({**BASE, "budgets": [1e11], "sizes_per_budget": 200}))
    folded = [w for w in design.warnings if "snapped" in w]
    assert len(folded) == 6 and folded[-1].startswith("… and ")
    assert int(folded[-1].split()[2]) + 5 + len(design.runs) == 200  # every target is a run or counted


def test_runs_of_a_few_steps_are_noted():
    """seq_len = 1,048,576 designed runs of 2-4 steps of one sequence each, in silence."""
    design = design_sweep(SweepConfig.from_dict({**BASE, "budgets": [1e11], "sizes_per_budget": 1,
                                                  "block": "llama", "seq_len": 262144}))
    steps = design.runs[0].train.n_steps
    assert steps < 20 and any(f"fewer than 20 optimiser steps (fewest: {design.runs[0].run_id}, {steps})" in w
                              for w in design.warnings)
    assert not any("optimiser steps" in w for w in design_sweep(SweepConfig.from_dict(BASE)).warnings)
