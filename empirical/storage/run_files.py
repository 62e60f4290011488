"""Validation of the files of a run directory: every file is checked when it is read.

A damaged file raises :class:`RunFileError`, a ``ValueError`` whose one-line message names the file
and what is wrong (the command line prints it and exits with status 2);
:class:`empirical.storage.store.
RunStore` decides whether the run can instead be recomputed from its last valid state.

What is checked
---------------
- JSON files parse (errors give the line and column) and have the expected keys and types;
- ``metrics.jsonl``: one JSON object per line, each with an integer ``step``, steps strictly
  increasing (two writers interleaving their records fail here); the text after the last newline
  is a record torn by a kill and is ignored;
- torch files (``checkpoint.pt``, ``ticket.pt``, ``predictions.pt``, rewind states) are sealed: the
  first line is ``tickets-sealed-sha256 <hex>`` and the rest is a ``torch.save`` file whose
  SHA-256 is ``<hex>`` (:func:`seal_line`); the digest is checked before ``torch.load`` sees a
  byte, so a flipped bit that torch would still load, or a hand-edited value, is refused; the
  loaded object must hold the expected entries and the checkpoint's evaluation records end at or
  before its step;
- JSON files (``hparams.json``, ``result.json``) are sealed by ``checksum``, the SHA-256 of the
  canonical JSON (sorted keys, no spaces) of everything else (:func:`seal_json`);
  ``result.json``'s ``files`` also holds the SHA-256 of every file it summarises, so a hand edit, a
  damaged file behind the result, or a result whose steps disagree with the metrics' final record
  is detected.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from empirical.storage.atomic import atomic_write

Record = dict[str, Any]
CHECKSUM, FILES = "checksum", "files"
RESULT_KEYS = ("hash", "steps", "test_acc", FILES, CHECKSUM)
HPARAMS_KEYS = ("kind", "hash", "hparams", CHECKSUM)
CHECKPOINT_TYPES: dict[str, type | tuple[type, ...]] = {
    "model": dict, "optimizer": dict, "step": int, "rng": dict, "train_sums": torch.Tensor,
    "seconds": (int, float), "records": list, "predictions": dict,
    "labels": (torch.Tensor, type(None)),
}
SEAL = b"tickets-sealed-sha256 "
SEAL_LINE = len(SEAL) + 64 + 1


class RunFileError(ValueError):
    """A damaged run file; the message is ``run file <path>: <what is wrong>``.

    Parameters
    ----------
    path
        The file.
    problem
        What is wrong with it (one line).
    """

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"run file {self.path}: {problem}")


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


def read_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file; a decoding error names the file, the line and the column.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    RunFileError
        It is unreadable, not UTF-8, or not valid JSON.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except UnicodeDecodeError:
        raise RunFileError(path, "not UTF-8 text") from None
    except OSError as err:
        raise RunFileError(path, f"unreadable ({err.strerror or err})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise RunFileError(path, f"not valid JSON ({err.msg}: line {err.lineno} column "
                                 f"{err.colno})") from None


def require_object(data: Any, path: str | os.PathLike, keys: Sequence[str]) -> dict[str, Any]:
    """``data`` if it is a JSON object holding every key of ``keys``, else :class:`RunFileError`."""
    if not isinstance(data, dict):
        raise RunFileError(path, f"expected a JSON object, found {_type_name(data)}")
    missing = [k for k in keys if k not in data]
    if missing:
        raise RunFileError(path, f"missing {', '.join(repr(k) for k in missing)}")
    return data


def check_records(records: Any, path: str | os.PathLike, where: str = "record") -> list[Record]:
    """Evaluation records: JSON objects with an integer ``step >= 0``, strictly increasing.

    Parameters
    ----------
    records
        The parsed records.
    path
        The file they come from (for the message).
    where
        How to name record ``i`` in a message: ``f"{where} {i + 1}"`` (``"line"`` for JSONL).

    Returns
    -------
    list of dict
    """
    if not isinstance(records, list):
        raise RunFileError(path, f"records are {_type_name(records)}, not a list")
    previous = -1
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise RunFileError(path, f"{where} {i + 1} is {_type_name(record)}, not an object")
        step = record.get("step")
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            problem = "has no 'step'" if "step" not in record else f"has step {step!r}"
            raise RunFileError(path, f"{where} {i + 1} {problem}")
        if step <= previous:
            raise RunFileError(path, f"{where} {i + 1} has step {step} after step {previous} "
                                     "(steps must increase: two writers?)")
        previous = step
    return records


def parse_metrics(text: str, path: str | os.PathLike) -> list[Record]:
    """The records of a ``metrics.jsonl`` text; the text after the last newline is ignored.

    ``append_metrics`` writes each record with its newline in one flushed write, so text after the
    last newline can only be a record torn by a kill.
    """
    lines = text.split("\n")[:-1]
    records = []
    for number, line in enumerate(lines, 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise RunFileError(path, f"line {number} is not valid JSON ({err.msg})") from None
    return check_records(records, path, "line")


def seal_line(payload: bytes | memoryview) -> bytes:
    """The line ``tickets-sealed-sha256 <SHA-256 of payload as hex>`` that precedes it."""
    return SEAL + hashlib.sha256(payload).hexdigest().encode() + b"\n"


def unseal_bytes(data: bytes, path: str | os.PathLike) -> memoryview:
    """The payload behind the :func:`seal_line` of ``data``, after checking its digest.

    Raises
    ------
    RunFileError
        No seal line (truncated, or written by an older version), or a payload whose SHA-256
        differs from the recorded one (damaged or edited).
    """
    head = data[:SEAL_LINE]
    if len(head) < SEAL_LINE or not head.startswith(SEAL) or head[-1:] != b"\n":
        raise RunFileError(path, "no digest line (truncated, or written by an older version)")
    payload = memoryview(data)[SEAL_LINE:]
    if seal_line(payload) != head:
        raise RunFileError(path, "digest mismatch: damaged or edited after it was written")
    return payload


def save_torch(path: str | os.PathLike, obj: Any) -> None:
    """``torch.save(obj)`` behind its :func:`seal_line`, written atomically."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    payload = buffer.getbuffer()
    head = seal_line(payload)

    def write(handle: Any) -> None:
        handle.write(head)
        handle.write(payload)

    atomic_write(path, write, True)
    payload.release()


def load_torch(path: str | os.PathLike, weights_only: bool = False) -> Any:
    """A file of :func:`save_torch`: its digest checked, then ``torch.load`` on the CPU.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    RunFileError
        Unreadable, no digest line, a digest mismatch, or anything else ``torch.load`` raises: a
        damaged file fails with any of ``EOFError``, ``RuntimeError``,
        ``pickle.UnpicklingError``, ``ValueError``, ``KeyError`` or ``OSError``.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise
    except OSError as err:
        raise RunFileError(path, f"unreadable ({err.strerror or err})") from None
    payload = unseal_bytes(data, path)
    try:
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=weights_only)
    except Exception as err:  # see Raises: torch.load has no single error type for bad data
        detail = str(err).strip().splitlines()[0] if str(err).strip() else ""
        detail = f"{type(err).__name__}: {detail[:120]}" if detail else type(err).__name__
        raise RunFileError(path, f"not a torch file ({detail})") from None


def check_checkpoint(state: Any, path: str | os.PathLike) -> dict[str, Any]:
    """A training checkpoint: the entries of ``CHECKPOINT_TYPES``, records ending by its step."""
    if not isinstance(state, dict):
        raise RunFileError(path, f"holds {type(state).__name__}, not a checkpoint dict")
    for key, kind in CHECKPOINT_TYPES.items():
        if key not in state:
            raise RunFileError(path, f"no {key!r} entry (written by an older version, or "
                                     "damaged)")
        if not isinstance(state[key], kind) or isinstance(state[key], bool):
            raise RunFileError(path, f"entry {key!r} is {type(state[key]).__name__}")
    records = check_records(state["records"], path, "checkpoint record")
    if records and records[-1]["step"] > state["step"]:
        raise RunFileError(path, f"its last record has step {records[-1]['step']}, after the "
                                 f"checkpoint's step {state['step']}")
    return state


def check_tensor_dict(state: Any, path: str | os.PathLike, what: str) -> dict[str, torch.Tensor]:
    """A ``name -> tensor`` mapping (a state dict, or a ticket's masks)."""
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise RunFileError(path, f"{what} is not a mapping of names to tensors")
    return state


def check_ticket(ticket: Any, path: str | os.PathLike) -> dict[str, Any]:
    """A ticket: a dict whose ``masks`` map layer names to boolean tensors."""
    if not isinstance(ticket, dict) or "masks" not in ticket:
        raise RunFileError(path, "no 'masks' entry")
    masks = check_tensor_dict(ticket["masks"], path, "'masks'")
    if any(m.dtype != torch.bool for m in masks.values()):
        raise RunFileError(path, "'masks' are not boolean")
    return ticket


def check_predictions(data: Any, path: str | os.PathLike) -> dict[str, Any]:
    """Stored test predictions: ``labels`` and, per evaluated step, predicted class indices.

    ``{"labels": tensor, "steps": {step: tensor}}``, every tensor one-dimensional, integer and as
    long as ``labels``.
    """
    if not isinstance(data, dict) or not {"labels", "steps"} <= set(data):
        raise RunFileError(path, "no 'labels' and 'steps' entries")
    labels, steps = data["labels"], data["steps"]
    tensors = [labels, *steps.values()] if isinstance(steps, dict) else None
    if tensors is None or not all(
            isinstance(t, torch.Tensor) and t.ndim == 1 and not t.is_floating_point()
            and len(t) == len(labels) for t in tensors):
        raise RunFileError(path, "predictions are not integer vectors as long as the labels")
    if not all(isinstance(k, int) and k >= 0 for k in steps):
        raise RunFileError(path, "'steps' keys are not steps")
    return data


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def json_checksum(body: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces) of ``body``."""
    return hashlib.sha256(_canonical(dict(body))).hexdigest()


def seal_json(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` (in the form JSON reads back: tuples as lists) plus its ``checksum``."""
    body = json.loads(_canonical(dict(body)))
    return {**body, CHECKSUM: json_checksum(body)}


def unseal_json(data: Any, path: str | os.PathLike, keys: Sequence[str]) -> dict[str, Any]:
    """A sealed JSON object holding ``keys``, without its ``checksum``, after checking it."""
    data = require_object(data, path, keys)
    body = {k: v for k, v in data.items() if k != CHECKSUM}
    if data[CHECKSUM] != json_checksum(body):
        raise RunFileError(path, "checksum mismatch: edited or damaged after it was written")
    return body


def seal_result(result: Mapping[str, Any], files: Mapping[str, str]) -> dict[str, Any]:
    """``result`` plus ``files`` (name -> SHA-256 of what it summarises) and its ``checksum``."""
    return seal_json({**result, FILES: dict(files)})


def unseal_result(data: Any, path: str | os.PathLike, run_hash: str
                  ) -> tuple[dict[str, Any], dict[str, str]]:
    """Check a sealed ``result.json`` and split it into the result and its file digests.

    Parameters
    ----------
    data
        The parsed ``result.json``.
    path
        Its path (for the message).
    run_hash
        The run directory's name, which the result's ``hash`` must equal.

    Returns
    -------
    (dict, dict)
        The result without ``files`` and ``checksum``; the ``files`` digests.
    """
    body = unseal_json(data, path, RESULT_KEYS)
    if body["hash"] != run_hash:
        raise RunFileError(path, f"belongs to run {body['hash']}, found in {run_hash}")
    files = body[FILES]
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise RunFileError(path, "'files' is not a mapping of names to digests")
    steps = body["steps"]
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise RunFileError(path, f"'steps' is {steps!r}")
    acc = body["test_acc"]
    if acc is not None and not (isinstance(acc, float | int) and math.isfinite(acc)):
        raise RunFileError(path, f"'test_acc' is {acc!r}")
    return {k: v for k, v in body.items() if k != FILES}, files
