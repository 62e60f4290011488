"""The header of a packed ticket file and its checksums, without torch (shared by the torch
reader, :mod:`empirical.export.container`, and :mod:`empirical.export.reference_reader`).

A file is a standard safetensors file: an 8-byte little-endian header length ``h``, ``h`` bytes
of JSON naming every tensor's dtype, shape and byte range (``data_offsets`` relative to the end
of the header), then the tensor bytes. The header's ``__metadata__`` holds string values only;
two of them guard the rest:

- ``payload_sha256``: SHA-256 of the tensor bytes (everything after the header);
- ``metadata_sha256``: SHA-256 of ``json.dumps(entries, sort_keys=True)`` (Python's default
  separators ``", "`` and ``": "``, ASCII escapes) of every other metadata entry.

:func:`check_file` refuses, with one line naming the file, a truncated file, a header that is not
safetensors JSON, a file of another format or of a version this code does not read, and any
checksum mismatch; a file whose header is not a JSON object at all (a text file, say) is
named as not a ticket rather than as truncated.
"""

from __future__ import annotations

import hashlib
import json
import struct

FORMAT = "lottery-tickets/packed-ticket"
#: Version 2 adds the ``architecture`` and ``preprocessing`` entries (and ``test_ties``).
FORMAT_VERSION = "2"
READABLE_VERSIONS = ("1", "2")
HEADER_BYTES = 8
LAYOUTS = ("self-contained", "seed-only", "lth")
"""The layouts of a file's tensors (:mod:`empirical.export.layouts`)."""
VALUE_DTYPE_NAMES = ("float32", "float16", "bfloat16")
"""Storage dtypes of real kept values (``values_dtype``), each the torch dtype of that name."""


def metadata_digest(metadata: dict[str, str]) -> str:
    """SHA-256 of the sorted-key JSON of every entry but ``metadata_sha256``."""
    body = {k: v for k, v in metadata.items() if k != "metadata_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def split_file(raw: bytes, where: str) -> tuple[dict, bytes]:
    """``(header JSON, tensor bytes)`` of a safetensors file; ValueError naming ``where``."""
    if len(raw) < HEADER_BYTES:
        raise ValueError(f"{where} is truncated ({len(raw)} bytes): not a packed ticket")
    (size,) = struct.unpack("<Q", raw[:HEADER_BYTES])
    if raw[HEADER_BYTES:HEADER_BYTES + 1] != b"{":
        raise ValueError(f"{where} is not a packed ticket: not a safetensors file (its header "
                         "does not start with a JSON object)")
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


def check_file(raw: bytes, where: str) -> dict[str, str]:
    """The metadata of a packed ticket's bytes, after every check of the module docstring."""
    header, payload = split_file(raw, where)
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{where} is not a packed ticket (no {FORMAT!r} metadata)")
    if meta.get("format_version") not in READABLE_VERSIONS:
        raise ValueError(f"{where} has format version {meta.get('format_version')!r}; this "
                         f"code reads versions {', '.join(READABLE_VERSIONS)}")
    if meta.get("metadata_sha256") != metadata_digest(meta):
        raise ValueError(f"{where} is damaged: its metadata checksum does not match")
    if meta.get("payload_sha256") != hashlib.sha256(payload).hexdigest():
        raise ValueError(f"{where} is damaged or truncated: its tensor checksum does not match")
    return dict(meta)
