"""The run store: one directory per run, written atomically, validated when read, locked.

Layout of ``runs_dir/<kind>/<hash>/``:

- ``hparams.json``  every field of the run's hyperparameters (plus ``kind`` and ``hash``);
- ``metrics.jsonl`` one JSON object per evaluation (epoch, step, losses, accuracies, lr, seconds);
- ``checkpoint.pt`` the latest training state (model, optimizer, step, RNG states and every
  evaluation record so far), replaced atomically after every epoch;
- ``ticket.pt``     the found ticket (scores, masks, alpha per layer, seed; LTH: the masks);
- ``result.json``   the final summary, written LAST and sealed
  (:mod:`empirical.storage.run_files`): the
  digests of the metrics, checkpoint and ticket it summarises and a checksum of itself.

Next to the directory, ``runs_dir/<kind>/.<hash>.lock`` is the run's lock (:meth:`RunStore.lock`):
a second process asking for the same run waits for the first and then reuses its result, while
runs with other hashes proceed in parallel.

Damage (:mod:`empirical.storage.run_files`): every file is validated when read. A finished run whose
``result.json`` fails its checks, or whose summarised files changed, is recomputed from its
checkpoint (the checkpoint holds the evaluation records, so a damaged ``metrics.jsonl`` is
rewritten from it); a damaged checkpoint is moved aside to ``checkpoint.pt.damaged`` and the run
retrains from its start. Each repair prints one warning naming the file and what was wrong. Files a
run cannot recompute (a parent's ``hparams.json``) raise :class:`RunFileError`: one line, exit 2.

Every file is written through :mod:`empirical.storage.atomic`: a killed process leaves either the
old or the new file, never half of one.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock

from empirical.config.hparams import hparams_hash, run_directory, to_dict
from empirical.instruction_set import environment_record
from empirical.storage.atomic import atomic_write, file_digest, save_torch, write_json
from empirical.storage.run_files import (
    HPARAMS_KEYS,
    RunFileError,
    check_checkpoint,
    check_ticket,
    load_torch,
    parse_metrics,
    read_json,
    require_object,
    seal_result,
    unseal_result,
)

__all__ = ["CHECKPOINT", "HPARAMS", "METRICS", "RESULT", "TICKET", "RunFileError", "RunStore",
           "atomic_write", "read_json", "save_torch", "write_json"]

HPARAMS = "hparams.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
TICKET = "ticket.pt"
RESULT = "result.json"
SUMMARISED = (METRICS, CHECKPOINT, TICKET)
"""The files whose digests a finished run's ``result.json`` carries (those that exist)."""
DAMAGED_SUFFIX = ".damaged"

log = logging.getLogger(__name__)


def warn_damaged(err: RunFileError, action: str) -> None:
    """One warning line on stderr: the damaged file, what is wrong, and what is done about it."""
    log.warning("warning: %s; %s", err, action)


class RunStore:
    """The files of one run directory.

    Parameters
    ----------
    path
        The run directory (created on the first write).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._resume: dict[str, Any] | None = None

    @classmethod
    def for_run(cls, runs_dir: str | os.PathLike | None, kind: str, hparams: Any) -> RunStore:
        """The store of the run ``kind`` with ``hparams`` under ``runs_dir`` (see hparams)."""
        return cls(run_directory(runs_dir, kind, hparams))

    @property
    def name(self) -> str:
        """The run's hash (the directory name)."""
        return self.path.name

    def lock(self) -> FileLock:
        """The run's inter-process lock ``<kind>/.<hash>.lock`` (a reentrant context manager).

        Hold it while deciding whether the run is finished and while training it: a second
        process waits, then finds the result.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(self.path.parent / f".{self.name}.lock", is_singleton=True)

    # --- hyperparameters -------------------------------------------------------------------
    def write_hparams(self, kind: str, hparams: Any,
                      runtime: dict[str, Any] | None = None) -> None:
        """Write ``hparams.json`` (all fields, the kind and the hash; ``runtime``: settings the
        run used that are not hashed, such as its thread count; ``environment``: the
        instruction sets, CPU and versions, :func:`empirical.instruction_set.environment_record`,
        not hashed either)."""
        content = {"kind": kind, "hash": hparams_hash(hparams), "hparams": to_dict(hparams),
                   "environment": environment_record()}
        if runtime is not None:
            content["runtime"] = dict(runtime)
        write_json(self.path / HPARAMS, content)

    def read_hparams(self) -> dict[str, Any]:
        """The contents of ``hparams.json``, checked: kind, hash (= the directory) and fields."""
        path = self.path / HPARAMS
        data = require_object(read_json(path), path, HPARAMS_KEYS)
        if data["hash"] != self.name:
            raise RunFileError(path, f"names run {data['hash']!r}, found in {self.name}")
        if not isinstance(data["hparams"], dict):
            raise RunFileError(path, "'hparams' is not an object")
        return data

    # --- metrics ---------------------------------------------------------------------------
    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one evaluation record to ``metrics.jsonl`` (one write, flushed and fsynced)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / METRICS, "a") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def metrics(self) -> list[dict[str, Any]]:
        """Every complete record of ``metrics.jsonl``, validated (a torn last line is ignored).

        Raises
        ------
        RunFileError
            A line that is not a JSON object with an increasing integer ``step``.
        """
        path = self.path / METRICS
        if not path.exists():
            return []
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise RunFileError(path, "not UTF-8 text") from None
        return parse_metrics(text, path)

    def reset_metrics(self, records: Sequence[dict[str, Any]] = ()) -> None:
        """Make ``metrics.jsonl`` hold exactly ``records`` (a resumed checkpoint's, or none).

        A file that disagrees with ``records`` before its end (damaged, or left by a run whose
        checkpoint was lost) is reported in one warning line.
        """
        path = self.path / METRICS
        if path.exists():
            try:
                current = self.metrics()
                problem = (None if current[:len(records)] == list(records) else
                           f"its {len(current)} records disagree with the {len(records)} of the "
                           "checkpoint")
            except RunFileError as err:
                problem = err.problem
            if problem is not None:
                warn_damaged(RunFileError(path, problem),
                             "rewritten from the checkpoint" if records else "started afresh")
        elif not records:
            return
        atomic_write(path, lambda f: f.writelines(json.dumps(r, sort_keys=True) + "\n"
                                                  for r in records), False)

    # --- checkpoint, ticket ----------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Replace ``checkpoint.pt`` atomically (``state``: see ``run_files.CHECKPOINT_TYPES``)."""
        save_torch(self.path / CHECKPOINT, state)

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The latest checkpoint, validated, or None if there is none.

        Raises
        ------
        RunFileError
            Truncated, not a torch file, or missing entries.
        """
        path = self.path / CHECKPOINT
        if not path.exists():
            return None
        return check_checkpoint(load_torch(path), path)

    def resume_checkpoint(self, repair: bool = True, keep: bool = False
                          ) -> dict[str, Any] | None:
        """The checkpoint to resume from, or None: none, or damaged (then moved aside).

        Parameters
        ----------
        repair
            Move a damaged checkpoint to ``checkpoint.pt.damaged`` (the writing process only).
        keep
            Keep the checkpoint read for the next call, so that a caller asking before
            :func:`empirical.algorithms.train.fit` resumes reads the file once.
        """
        checkpoint, self._resume = self._resume, None
        if checkpoint is None:
            try:
                checkpoint = self.load_checkpoint()
            except RunFileError as err:
                if repair:
                    warn_damaged(err, f"moved to {CHECKPOINT}{DAMAGED_SUFFIX}; training from "
                                      "the start")
                    os.replace(err.path, err.path.with_name(err.path.name + DAMAGED_SUFFIX))
        if keep:
            self._resume = checkpoint
        return checkpoint

    def save_ticket(self, ticket: dict[str, Any]) -> None:
        """Write ``ticket.pt`` atomically."""
        save_torch(self.path / TICKET, ticket)

    def load_ticket(self) -> dict[str, Any]:
        """The saved ticket (masks; scores, alphas and seed in score modes), validated."""
        path = self.path / TICKET
        return check_ticket(load_torch(path), path)

    def reusable_ticket(self) -> dict[str, Any] | None:
        """The saved ticket, or None if there is none or it is damaged (one warning line)."""
        if not (self.path / TICKET).exists():
            return None
        try:
            return self.load_ticket()
        except RunFileError as err:
            warn_damaged(err, "recomputing it")
            return None

    # --- result ----------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """True once ``result.json`` exists (:meth:`reusable_result` also checks it)."""
        return (self.path / RESULT).exists()

    def _digests(self) -> dict[str, str]:
        return {name: file_digest(self.path / name) for name in SUMMARISED
                if (self.path / name).exists()}

    def write_result(self, result: dict[str, Any]) -> None:
        """Seal ``result`` with the digests of the run's files and write ``result.json`` (last).

        Raises
        ------
        RuntimeError
            ``result["steps"]`` differs from the step of the final metrics record (a bug).
        """
        records = self.metrics()
        if records and records[-1]["step"] != result["steps"]:
            raise RuntimeError(f"result of {self.path} at step {result['steps']} but its final "
                               f"record is at step {records[-1]['step']}")
        write_json(self.path / RESULT, seal_result(result, self._digests()))

    def read_result(self) -> dict[str, Any]:
        """The finished run's result, after every check (without its seal).

        Checks: valid JSON object, checksum, hash = the directory, the digests of the metrics,
        checkpoint and ticket it summarises, and ``steps`` = the final metrics record's step.

        Raises
        ------
        RunFileError
            Naming the file that fails.
        """
        path = self.path / RESULT
        result, files = unseal_result(read_json(path), path, self.name)
        for name in SUMMARISED:
            present = (self.path / name).exists()
            if (name in files) != present:
                raise RunFileError(self.path / name, "missing" if not present else
                                   f"not summarised by {RESULT}")
            if present and file_digest(self.path / name) != files[name]:
                raise RunFileError(self.path / name, f"changed since {RESULT} was written")
        records = self.metrics()
        if records and records[-1]["step"] != result["steps"]:
            raise RunFileError(path, f"'steps' is {result['steps']} but the final record of "
                                     f"{METRICS} is at step {records[-1]['step']}")
        return result

    def reusable_result(self, warn: bool = True) -> dict[str, Any] | None:
        """The checked result of a finished run, or None (unfinished, or damaged).

        Parameters
        ----------
        warn
            Report a damaged result in one warning line (callers that check again under the
            run's lock pass False the first time, so the warning is printed once).
        """
        if not self.finished:
            return None
        try:
            return self.read_result()
        except RunFileError as err:
            if warn:
                warn_damaged(err, "recomputing the result from the last valid state")
            return None
