"""The on-disk cache of generated datasets: bit-identical, digest-checked, shared by processes."""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from empirical.data import DATASETS, InMemory, cache_dir, cached_arrays, in_memory_arrays
from empirical.data.cache import cache_key

GENERATED = [name for name, spec in DATASETS.items()
             if isinstance(spec.source, InMemory) and spec.source.cached]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TICKETS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def assert_identical(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
        assert a[key].tobytes() == b[key].tobytes(), key


def test_every_generated_dataset_is_cached() -> None:
    assert {"mnist1d", "digits", "mnist5k", "synthetic"} <= set(GENERATED)


@pytest.mark.parametrize("name", GENERATED)
def test_cached_arrays_are_bit_identical_to_generation(cache: Path, name: str) -> None:
    spec = DATASETS[name]
    direct = {k: np.asarray(v) for k, v in spec.source.arrays(5).items()}
    first = in_memory_arrays(spec, 5)  # generates and writes
    files = list((cache / name).glob("*.npz"))
    assert len(files) == 1
    second = in_memory_arrays(spec, 5)  # reads back
    assert_identical(direct, first)
    assert_identical(direct, second)


def counting(calls: list[int], seed: int) -> Callable[[], dict[str, np.ndarray]]:
    def generate() -> dict[str, np.ndarray]:
        calls.append(seed)
        rng = np.random.default_rng(seed)
        return {"x": rng.standard_normal((50, 3)), "y": rng.integers(0, 4, 50)}
    return generate


def test_key_separates_seeds_args_and_versions(cache: Path) -> None:
    calls: list[int] = []
    a = cached_arrays("toy", {"n": 50}, 1, counting(calls, 1))
    b = cached_arrays("toy", {"n": 50}, 2, counting(calls, 2))
    cached_arrays("toy", {"n": 51}, 1, counting(calls, 1))
    assert not np.array_equal(a["x"], b["x"])
    assert_identical(a, cached_arrays("toy", {"n": 50}, 1, counting(calls, 1)))
    assert calls == [1, 2, 1]  # the fourth call was read from the cache
    assert len(list((cache / "toy").glob("*.npz"))) == 3
    assert cache_key("toy", {}, 1, ("numpy",)) != cache_key("toy", {}, 1, ("scipy",))
    assert cache_key("toy", {}, 1, revision=1) != cache_key("toy", {}, 1, revision=2)


def flip_array_byte(path: Path) -> None:
    """Flip one bit in the middle of the stored bytes of array ``x``."""
    data = bytearray(path.read_bytes())
    with np.load(path) as stored:
        x = stored["x"].tobytes()
    data[bytes(data).find(x) + len(x) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["truncate", "flip", "zero", "other key", "no digest"])
def test_damaged_entry_is_regenerated_with_a_warning(cache: Path, damage: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    good = cached_arrays("toy", {"n": 50}, 1, counting(calls, 1))
    (path,) = (cache / "toy").glob("*.npz")
    stored = dict(np.load(path))
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "flip":
        flip_array_byte(path)
    elif damage == "zero":
        path.write_bytes(b"")
    elif damage == "other key":
        np.savez(path, **{**stored, "__key__": np.array("{}")})
    else:
        np.savez(path, **{k: v for k, v in stored.items() if k != "__sha256__"})
    with caplog.at_level(logging.WARNING, logger="empirical.data.cache"):
        again = cached_arrays("toy", {"n": 50}, 1, counting(calls, 1))
    assert calls == [1, 1]
    assert_identical(good, again)
    assert "damaged" in caplog.text and str(path) in caplog.text
    caplog.clear()
    assert_identical(good, cached_arrays("toy", {"n": 50}, 1, counting(calls, 1)))
    assert calls == [1, 1] and not caplog.text  # repaired in place


def test_flipped_byte_is_caught_by_the_digest(cache: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """A flip inside an array that the zip layer does not notice is caught by the digest."""
    calls: list[int] = []
    cached_arrays("toy", {"n": 50}, 1, counting(calls, 1))
    (path,) = (cache / "toy").glob("*.npz")
    stored = dict(np.load(path))
    stored["x"] = stored["x"].copy()
    stored["x"][0, 0] += 1.0  # a well-formed file whose content changed
    np.savez(path, **stored)
    with caplog.at_level(logging.WARNING, logger="empirical.data.cache"):
        cached_arrays("toy", {"n": 50}, 1, counting(calls, 1))
    assert "digest does not match" in caplog.text and calls == [1, 1]


def _generate_once(args: tuple[str, str]) -> bytes:
    cache, log = args
    import os

    os.environ["TICKETS_CACHE"] = cache

    def generate() -> dict[str, np.ndarray]:
        with open(log, "a") as handle:
            handle.write("generated\n")
        time.sleep(0.3)  # long enough for the other processes to find no file
        return {"x": np.arange(1000.0)}

    return cached_arrays("toy", {}, 0, generate)["x"].tobytes()


def test_concurrent_processes_generate_once(tmp_path: Path) -> None:
    log = tmp_path / "calls.txt"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        results = pool.map(_generate_once, [(str(tmp_path / "cache"), str(log))] * 4)
    assert log.read_text() == "generated\n"
    assert len(set(results)) == 1 and results[0] == np.arange(1000.0).tobytes()
    assert not list((tmp_path / "cache" / "toy").glob(".*.tmp"))


def test_cache_dir_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TICKETS_CACHE", str(tmp_path / "explicit"))
    assert cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("TICKETS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "lottery-tickets"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "lottery-tickets"
