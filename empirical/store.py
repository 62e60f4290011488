"""The run store: one directory per run, written atomically, resumable, never recomputed.

Layout of ``runs_dir/<kind>/<hash>/``:

- ``hparams.json``  every field of the run's hyperparameters (plus ``kind`` and ``hash``);
- ``metrics.jsonl`` one JSON object per evaluation (epoch, step, losses, accuracies, lr, seconds);
- ``checkpoint.pt`` the latest training state (model, optimizer, step, RNG states), replaced
  atomically after every epoch;
- ``ticket.pt``     the found ticket (scores, masks, alpha per layer, seed), score modes only;
- ``result.json``   the final summary, written LAST: its presence means the run is finished.

Every file is written to a temporary name in the same directory and moved into place with
``os.replace``, so a killed process leaves either the old or the new file, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from empirical.hparams import hparams_hash, run_directory, to_dict

HPARAMS = "hparams.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
TICKET = "ticket.pt"
RESULT = "result.json"


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], binary: bool) -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, then ``os.replace`` it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write(path, lambda f: f.write(json.dumps(obj, indent=2, sort_keys=True) + "\n"), False)


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text())


def save_torch(path: str | os.PathLike, obj: Any) -> None:
    """``torch.save`` atomically."""
    atomic_write(path, lambda f: torch.save(obj, f), True)


class RunStore:
    """The files of one run directory.

    Parameters
    ----------
    path
        The run directory (created on the first write).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @classmethod
    def for_run(cls, runs_dir: str | os.PathLike | None, kind: str, hparams: Any) -> RunStore:
        """The store of the run ``kind`` with ``hparams`` under ``runs_dir`` (see hparams)."""
        return cls(run_directory(runs_dir, kind, hparams))

    @property
    def name(self) -> str:
        """The run's hash (the directory name)."""
        return self.path.name

    # --- hyperparameters -------------------------------------------------------------------
    def write_hparams(self, kind: str, hparams: Any,
                      runtime: dict[str, Any] | None = None) -> None:
        """Write ``hparams.json`` (all fields, the kind and the hash; ``runtime``: settings the
        run used that are not hashed, such as its thread count)."""
        content = {"kind": kind, "hash": hparams_hash(hparams), "hparams": to_dict(hparams)}
        if runtime is not None:
            content["runtime"] = dict(runtime)
        write_json(self.path / HPARAMS, content)

    def read_hparams(self) -> dict[str, Any]:
        """The contents of ``hparams.json``."""
        return read_json(self.path / HPARAMS)

    # --- metrics ---------------------------------------------------------------------------
    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one evaluation record to ``metrics.jsonl`` (flushed and fsynced)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / METRICS, "a") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def metrics(self) -> list[dict[str, Any]]:
        """Every complete record of ``metrics.jsonl`` (a torn last line is ignored)."""
        path = self.path / METRICS
        if not path.exists():
            return []
        records = []
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return records

    def truncate_metrics(self, max_step: int) -> None:
        """Keep only the records with ``step <= max_step`` (used when resuming a checkpoint)."""
        kept = [r for r in self.metrics() if r["step"] <= max_step]
        atomic_write(self.path / METRICS,
                     lambda f: f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in kept),
                     False)

    # --- checkpoint, ticket, result --------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Replace ``checkpoint.pt`` atomically."""
        save_torch(self.path / CHECKPOINT, state)

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The latest checkpoint, or None."""
        path = self.path / CHECKPOINT
        if not path.exists():
            return None
        return torch.load(path, map_location="cpu", weights_only=False)

    def save_ticket(self, ticket: dict[str, Any]) -> None:
        """Write ``ticket.pt`` atomically."""
        save_torch(self.path / TICKET, ticket)

    def load_ticket(self) -> dict[str, Any]:
        """The saved ticket (scores, masks, alphas, seed)."""
        return torch.load(self.path / TICKET, map_location="cpu", weights_only=False)

    @property
    def finished(self) -> bool:
        """True once ``result.json`` exists."""
        return (self.path / RESULT).exists()

    def write_result(self, result: dict[str, Any]) -> None:
        """Write ``result.json`` atomically (last: marks the run finished)."""
        write_json(self.path / RESULT, result)

    def read_result(self) -> dict[str, Any]:
        """The contents of ``result.json``."""
        return read_json(self.path / RESULT)
