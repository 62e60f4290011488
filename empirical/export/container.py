"""The safetensors container of a packed ticket, with checksums of its data and its metadata.

The header, its checksums and the checks on reading are :mod:`empirical.export.header` (shared
with the torch-free :mod:`empirical.export.reference_reader`); this module writes and reads the
tensors with torch.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from empirical.export.header import FORMAT, FORMAT_VERSION, check_file, metadata_digest, split_file
from empirical.storage.store import atomic_write


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
    _, payload = split_file(save(tensors, metadata=meta), "the new file")
    meta["payload_sha256"] = hashlib.sha256(payload).hexdigest()
    meta["metadata_sha256"] = metadata_digest(meta)
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
    meta = check_file(raw, f"file {path}")
    from safetensors.torch import load

    try:
        tensors = load(raw)
    except Exception as err:  # safetensors raises its own error types
        raise ValueError(f"file {path} is damaged: {err}") from None
    return tensors, meta
