"""The safetensors container of a packed ticket, with checksums of its data and its metadata.

A file is a standard safetensors file (8-byte little-endian header length, a JSON header naming
every tensor's dtype, shape and byte range, then the tensor bytes). Its ``__metadata__`` holds
string values only; two of them guard the rest:

- ``payload_sha256``: SHA-256 of the tensor bytes (everything after the header);
- ``metadata_sha256``: SHA-256 of the JSON (sorted keys) of every other metadata entry.

:func:`read_container` refuses, with one line naming the file, a truncated file, a header that is
not safetensors JSON, a file of another format or version, and any checksum mismatch.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import torch

from empirical.storage.store import atomic_write

FORMAT = "lottery-tickets/packed-ticket"
FORMAT_VERSION = "1"
HEADER_BYTES = 8


def _metadata_digest(metadata: dict[str, str]) -> str:
    body = {k: v for k, v in metadata.items() if k != "metadata_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _split(raw: bytes, where: str) -> tuple[dict, bytes]:
    if len(raw) < HEADER_BYTES:
        raise ValueError(f"{where} is truncated ({len(raw)} bytes): not a packed ticket")
    (size,) = struct.unpack("<Q", raw[:HEADER_BYTES])
    if HEADER_BYTES + size > len(raw):
        raise ValueError(f"{where} is truncated: its header needs {size} bytes, the file has "
                         f"{len(raw) - HEADER_BYTES}")
    try:
        header = json.loads(raw[HEADER_BYTES:HEADER_BYTES + size])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"{where} is damaged: its header is not safetensors JSON") from None
    if not isinstance(header, dict):
        raise ValueError(f"{where} is damaged: its header is not safetensors JSON")
    return header, raw[HEADER_BYTES + size:]


def encode_container(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """The bytes of a container holding ``tensors`` with ``metadata`` and both checksums.

    Parameters
    ----------
    tensors
        Name -> contiguous CPU tensor.
    metadata
        String entries (``format`` and ``format_version`` are added).

    Returns
    -------
    bytes
        The safetensors file.
    """
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {**metadata, "format": FORMAT, "format_version": FORMAT_VERSION}
    _, payload = _split(save(tensors, metadata=meta), "the new file")
    meta["payload_sha256"] = hashlib.sha256(payload).hexdigest()
    meta["metadata_sha256"] = _metadata_digest(meta)
    return save(tensors, metadata=meta)


def write_container(path: str | os.PathLike, tensors: dict[str, torch.Tensor],
                    metadata: dict[str, str]) -> int:
    """Write the container atomically (see :func:`encode_container`); returns its size in bytes."""
    raw = encode_container(tensors, metadata)
    atomic_write(path, lambda f: f.write(raw), True)
    return len(raw)


def read_container(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read and check a container written by :func:`write_container`.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    (dict, dict)
        Tensors and metadata.

    Raises
    ------
    ValueError
        One line naming the file: truncated, damaged, another format, or a checksum mismatch.
    FileNotFoundError
        If the file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no ticket file {path}")
    raw = path.read_bytes()
    header, payload = _split(raw, f"file {path}")
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"file {path} is not a packed ticket (no {FORMAT!r} metadata)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"file {path} has format version {meta.get('format_version')!r}; this "
                         f"code reads version {FORMAT_VERSION}")
    if meta.get("metadata_sha256") != _metadata_digest(meta):
        raise ValueError(f"file {path} is damaged: its metadata checksum does not match")
    if meta.get("payload_sha256") != hashlib.sha256(payload).hexdigest():
        raise ValueError(f"file {path} is damaged or truncated: its tensor checksum does not "
                         "match")
    from safetensors.torch import load

    try:
        tensors = load(raw)
    except Exception as err:  # safetensors raises its own error types
        raise ValueError(f"file {path} is damaged: {err}") from None
    return tensors, dict(meta)
