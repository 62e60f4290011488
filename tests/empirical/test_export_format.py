"""Packed-ticket building blocks: bit packing, the rANS mask coder, the checked container."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from empirical.export.bits import pack_bits, pack_rows, unpack_bits
from empirical.export.container import read_container, write_container
from empirical.export.rans import CodedMask, binary_entropy, decode_mask, encode_mask


def test_pack_bits_little_endian_exact() -> None:
    bits = np.array([1, 0, 0, 0, 0, 0, 0, 1, 1, 1], dtype=bool)
    assert pack_bits(bits).tolist() == [0b10000001, 0b00000011]
    assert unpack_bits(pack_bits(bits), 10).tolist() == bits.tolist()


def test_pack_rows_words_exact() -> None:
    bits = np.zeros((2, 70), dtype=bool)
    bits[0, 0] = bits[0, 65] = bits[1, 63] = True
    words = pack_rows(bits)
    assert words.shape == (2, 2) and words.dtype == np.uint64
    assert words[0].tolist() == [1, 2] and words[1].tolist() == [1 << 63, 0]


@given(st.lists(st.booleans(), min_size=0, max_size=300))
def test_pack_bits_round_trip(values: list[bool]) -> None:
    bits = np.array(values, dtype=bool)
    packed = pack_bits(bits)
    assert packed.size == -(-bits.size // 8)
    assert unpack_bits(packed, bits.size).tolist() == values


@settings(max_examples=15)
@given(st.integers(2, 1200), st.floats(0.0, 1.0), st.integers(0, 2**31))
def test_rans_round_trip(n: int, fraction: float, seed: int) -> None:
    kept = min(max(int(fraction * n), 1), n - 1)
    bits = np.zeros(n, dtype=bool)
    bits[np.random.default_rng(seed).choice(n, kept, replace=False)] = True
    assert np.array_equal(decode_mask(encode_mask(bits), n, kept), bits)


@pytest.mark.parametrize("keep", [0.01, 0.2, 0.9])
def test_rans_length_within_0_02_bits_of_entropy(keep: float) -> None:
    n = 200_000
    kept = int(keep * n)
    bits = np.zeros(n, dtype=bool)
    bits[np.random.default_rng(1).choice(n, kept, replace=False)] = True
    coded = encode_mask(bits)
    excess = coded.nbits / n - binary_entropy(kept / n)
    assert 0 <= excess < 0.02
    assert np.array_equal(decode_mask(coded, n, kept), bits)


def test_rans_refuses_damaged_streams() -> None:
    n, kept = 3000, 600
    bits = np.zeros(n, dtype=bool)
    bits[np.random.default_rng(2).choice(n, kept, replace=False)] = True
    coded = encode_mask(bits)
    for position in (0, 3, coded.words.size // 2, coded.words.size - 1):
        words = coded.words.copy()
        words[position] ^= 0x0101
        with pytest.raises(ValueError, match="damaged mask stream"):
            decode_mask(CodedMask(words, coded.counts), n, kept)
    with pytest.raises(ValueError, match="damaged mask stream"):
        decode_mask(CodedMask(coded.words[:-1], coded.counts), n, kept)
    with pytest.raises(ValueError):
        encode_mask(np.ones(10, dtype=bool))


def _container(tmp_path: Path) -> Path:
    path = tmp_path / "t.safetensors"
    write_container(path, {"a": torch.arange(10, dtype=torch.uint8),
                           "b": torch.ones(3, dtype=torch.float32)}, {"layout": "x"})
    return path


def test_container_round_trip(tmp_path: Path) -> None:
    tensors, meta = read_container(_container(tmp_path))
    assert tensors["a"].tolist() == list(range(10)) and meta["layout"] == "x"
    assert meta["format"] == "lottery-tickets/packed-ticket" and len(meta["payload_sha256"]) == 64


def test_container_refuses_damage(tmp_path: Path) -> None:
    path = _container(tmp_path)
    raw = bytearray(path.read_bytes())
    (header,) = struct.unpack("<Q", raw[:8])
    cases = {
        "truncated": bytes(raw[: len(raw) - 3]),
        "header": bytes(raw[:20]),
        "tiny": bytes(raw[:5]),
        "payload": bytes(raw[:-1]) + bytes([raw[-1] ^ 1]),
        "metadata": bytes(raw).replace(b'"layout":"x"', b'"layout":"y"'),
        "garbage": b"\x08\x00\x00\x00\x00\x00\x00\x00not json",
    }
    assert cases["metadata"] != bytes(raw) and header > 0
    for name, data in cases.items():
        broken = tmp_path / f"{name}.safetensors"
        broken.write_bytes(data)
        with pytest.raises(ValueError, match=str(broken)):
            read_container(broken)
    with pytest.raises(FileNotFoundError):
        read_container(tmp_path / "missing.safetensors")
