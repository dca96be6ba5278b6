"""Token sources: Markov chains against closed forms and brute force; corpora, token files and bad paths."""

import math

import numpy as np
import pytest

from isoflop.errors import InputError
from isoflop.train.data import CorpusSource, MarkovChain, load_source, stdlib_files
from isoflop.train.spec import DataSpec


def h(*p):
    return -sum(x * math.log(x) for x in p)


def test_two_state_chain_closed_form():
    chain = MarkovChain(np.array([[0.9, 0.1], [0.4, 0.6]]))
    # stationary: π0·0.1 = π1·0.4 → π = (0.8, 0.2)
    np.testing.assert_allclose(chain.stationary(), [0.8, 0.2], atol=1e-12)
    assert chain.entropy_rate() == pytest.approx(0.8 * h(0.9, 0.1) + 0.2 * h(0.4, 0.6), abs=1e-12)


def test_uniform_chain_has_entropy_log_k():
    k = 7
    chain = MarkovChain(np.full((k, k), 1.0 / k))
    assert chain.entropy_rate() == pytest.approx(math.log(k), abs=1e-12)


def test_random_chain_entropy_matches_brute_force():
    chain = MarkovChain.random(6, concentration=0.7, seed=11)
    P, pi = chain.transition, chain.stationary()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(pi @ P, pi, atol=1e-10)
    tokens = chain.sample(400, 2500, np.random.default_rng(0))  # ~1M transitions
    counts = np.zeros((6, 6))
    np.add.at(counts, (tokens[:, :-1].ravel(), tokens[:, 1:].ravel()), 1)
    row = counts.sum(axis=1, keepdims=True)
    nz = counts > 0
    empirical_h = -(counts[nz] / counts.sum() * np.log((counts / row)[nz])).sum()
    assert empirical_h == pytest.approx(chain.entropy_rate(), abs=0.01)
    np.testing.assert_allclose(np.bincount(tokens.ravel(), minlength=6) / tokens.size, pi, atol=0.01)
    # the perfect model's loss on a sample is an unbiased estimate of the entropy rate
    assert chain.log_loss(tokens) == pytest.approx(chain.entropy_rate(), abs=0.01)


def test_markov_source_batches_are_pure_functions_of_seed_and_step():
    src = load_source(DataSpec(source="markov", n_states=5, seed=2))
    a, b = src.train_batch(3, 4, 16, seed=0), src.train_batch(3, 4, 16, seed=0)
    assert a.shape == (4, 17) and np.array_equal(a, b)
    assert not np.array_equal(a, src.train_batch(4, 4, 16, seed=0))
    assert np.array_equal(src.val_batch(8, 16), src.val_batch(8, 16))
    assert a.max() < 5


def test_text_files_and_bad_paths(tmp_path):
    f1, f2 = tmp_path / "a.txt", tmp_path / "b.txt"
    f1.write_bytes(b"hello world, " * 50)
    f2.write_bytes(b"goodbye moon. " * 50)
    src = load_source(DataSpec(source="text", paths=(str(f1), str(f2)), val_fraction=0.2))
    total = f1.stat().st_size + f2.stat().st_size
    assert len(src.train) + len(src.val) == total and len(src.val) == round(0.2 * total)
    batch = src.train_batch(0, 3, 10, seed=1)
    corpus = (f1.read_bytes() + f2.read_bytes())
    for row in batch:  # every window is a real slice of the corpus
        assert bytes(row.astype(np.uint8)) in corpus
    missing = tmp_path / "nope.txt"
    with pytest.raises(InputError, match="nope.txt"):
        load_source(DataSpec(source="text", paths=(str(missing),)))
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty.txt"):
        load_source(DataSpec(source="text", paths=(str(empty),)))
    with pytest.raises(InputError, match="data.paths"):
        DataSpec(source="text")


def test_token_files_nanogpt_layout(tmp_path):
    rng = np.random.default_rng(0)
    train, val = rng.integers(0, 1000, 5000).astype(np.uint16), rng.integers(0, 1000, 600).astype(np.uint16)
    train.tofile(tmp_path / "train.bin")
    val.tofile(tmp_path / "val.bin")
    src = load_source(DataSpec(source="tokens", paths=(str(tmp_path),), vocab_size=1000))
    assert isinstance(src, CorpusSource) and isinstance(src.train, np.memmap)
    np.testing.assert_array_equal(np.asarray(src.train), train)
    starts = np.random.default_rng([7, 0, 2]).integers(0, len(train) - 32, size=4)
    expected = train[starts[:, None] + np.arange(33)]
    np.testing.assert_array_equal(src.train_batch(2, 4, 32, seed=7), expected)
    small = load_source(DataSpec(source="tokens", paths=(str(tmp_path),), vocab_size=500))
    with pytest.raises(InputError, match="vocab_size"):
        small.val_batch(16, 32)
    with pytest.raises(InputError, match="val.bin"):
        (tmp_path / "val.bin").unlink()
        load_source(DataSpec(source="tokens", paths=(str(tmp_path),), vocab_size=1000))
    with pytest.raises(InputError, match="seq_len"):
        load_source(DataSpec(source="tokens", paths=(str(tmp_path / "train.bin"),), vocab_size=1000,
                             val_fraction=0.001)).val_batch(2, 32)


def test_stdlib_corpus_is_deterministic_and_split_by_file():
    files = stdlib_files()
    assert files and all("site-packages" not in f.parts for f in files)
    assert [f.name for f in files][:50] == [f.name for f in stdlib_files()][:50]
    src = load_source(DataSpec())
    assert src.vocab_size == 256 and len(src.train) > 10 * len(src.val) > 0
    assert np.array_equal(src.train_batch(5, 2, 64, seed=0), src.train_batch(5, 2, 64, seed=0))
    text = bytes(src.val_batch(4, 200)[0].astype(np.uint8))
    assert text.isascii() or len(text) == 201  # real source text, byte-level
