"""The run store: one directory per run, sealed files written atomically, checked when read, locked.

Layout of ``runs_dir/<kind>/<hash>/``:

- ``hparams.json``  every field of the run's hyperparameters (plus ``kind``, ``hash``, the
  ``runtime`` settings that are not hashed, and its ``checksum``); its fields must hash to the
  directory's name;
- ``metrics.jsonl`` one JSON object per evaluation (epoch, step, losses, accuracies, lr, seconds);
  the live log of a running run, rewritten from the checkpoint's records when the run resumes and
  sealed by ``result.json`` when it finishes;
- ``checkpoint.pt`` the latest training state (model, optimizer, step, RNG states, every
  evaluation record and the test predictions so far), replaced atomically at the end of an epoch
  every ``RuntimeConfig.checkpoint_seconds`` and after the last step; the
  one it replaces is kept as ``checkpoint.prev.pt`` until the run finishes;
- ``ticket.pt``     the found ticket (scores, masks, alpha per layer, seed; LTH: the masks);
- ``predictions.pt`` the test labels and the predicted class of every test example at every
  evaluation (``uint8``, ``int16`` beyond 256 classes): paired tests (McNemar) of two runs need no
  retraining (:meth:`RunStore.predictions`);
- ``result.json``   the final summary, written LAST: the digests of every other file and a
  checksum of itself.

Every torch file is sealed by its SHA-256 and every JSON file by a checksum
(:mod:`empirical.storage.run_files`), checked whenever the file is read: a damaged or hand-edited
file is never trusted. Next to the directory, ``runs_dir/<kind>/.<hash>.lock`` is the run's lock
(:meth:`RunStore.lock`): a second process asking for the same run waits for the first and then
reuses its result, while runs with other hashes proceed in parallel.

Repair: a finished run whose ``result.json`` fails its checks, or whose files changed, is
recomputed from its last checkpoint that verifies (the checkpoint holds the evaluation records, so
``metrics.jsonl`` is rewritten from it); a checkpoint that fails its digest, or whose weights do
not reproduce its last evaluation record (:func:`empirical.algorithms.train.fit` re-evaluates
it), is moved aside to ``<name>.damaged`` and the run resumes from the previous checkpoint, or
retrains from its start. Each repair prints one warning naming the file and what was wrong. Files a
run cannot recompute (a parent's ``hparams.json``) raise :class:`RunFileError`: one line, exit 2.

Every file is written through :mod:`empirical.storage.atomic`: a killed process leaves either the
old or the new file, never half of one; the temporary files a SIGKILL leaves behind are removed
when the run is trained again (:meth:`RunStore.remove_stale_temporaries`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock

from empirical.config.hparams import RunHparams, from_dict, hparams_hash, run_directory, to_dict
from empirical.config.lth_hparams import LTHHparams
from empirical.instruction_set import environment_record
from empirical.storage.atomic import (
    atomic_write,
    file_digest,
    remove_stale_temporaries,
    write_json,
)
from empirical.storage.run_files import (
    HPARAMS_KEYS,
    RunFileError,
    check_checkpoint,
    check_predictions,
    check_ticket,
    load_torch,
    parse_metrics,
    read_json,
    save_torch,
    seal_json,
    seal_result,
    unseal_json,
    unseal_result,
)

__all__ = ["CHECKPOINT", "HPARAMS", "METRICS", "PREDICTIONS", "RESULT", "TICKET", "Predictions",
           "RunFileError", "RunStore", "atomic_write", "load_torch", "read_json", "save_torch",
           "write_json"]

HPARAMS = "hparams.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
PREVIOUS_CHECKPOINT = "checkpoint.prev.pt"
TICKET = "ticket.pt"
PREDICTIONS = "predictions.pt"
RESULT = "result.json"
SUMMARISED = (HPARAMS, METRICS, CHECKPOINT, TICKET, PREDICTIONS)
"""The files whose digests a finished run's ``result.json`` carries (those that exist)."""
DAMAGED_SUFFIX = ".damaged"

log = logging.getLogger(__name__)


RUN_KINDS: dict[str, type] = {"lth": LTHHparams}
"""Run kinds whose hyperparameters are not :class:`RunHparams` (every training mode's are)."""


def register_run_kind(kind: str, cls: type) -> None:
    """Store runs of ``kind`` with the frozen dataclass ``cls`` as hyperparameters (a study's
    own runs, e.g. :mod:`verify.planted`'s recoveries); registering the same pair again is a
    no-op.

    Raises
    ------
    ValueError
        ``kind`` is registered with another class already.
    """
    if RUN_KINDS.setdefault(kind, cls) is not cls:
        raise ValueError(f"run kind {kind!r} is registered with {RUN_KINDS[kind].__name__}")


def hparams_class(kind: str) -> type:
    """The hyperparameter class of a run kind (:data:`RUN_KINDS`, else ``RunHparams``)."""
    return RUN_KINDS.get(kind, RunHparams)


def compact_classes(classes: torch.Tensor) -> torch.Tensor:
    """Class indices as ``uint8`` (below 256) or ``int16``, on the CPU."""
    classes = classes.detach().cpu()
    small = classes.numel() == 0 or int(classes.max()) < 256
    return classes.to(torch.uint8 if small else torch.int16)


@dataclass(frozen=True)
class Predictions:
    """The test predictions of a finished run (``predictions.pt``).

    Attributes
    ----------
    labels
        The true class of every test example, in the test split's order.
    steps
        ``step -> predicted classes`` for every evaluation record with a test set.
    """

    labels: torch.Tensor
    steps: dict[int, torch.Tensor]

    def correct(self, step: int | None = None) -> torch.Tensor:
        """Boolean vector: which test examples the model of ``step`` (default: the last)
        classifies correctly (the input of a McNemar test between two runs)."""
        step = max(self.steps) if step is None else step
        return self.steps[step] == self.labels


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

    def remove_stale_temporaries(self) -> None:
        """Delete the ``.*.tmp`` files a killed writer left (call it holding :meth:`lock`)."""
        for path in remove_stale_temporaries(self.path):
            log.warning("warning: removed %s, left by an interrupted write", path)

    # --- hyperparameters -------------------------------------------------------------------
    def write_hparams(self, kind: str, hparams: Any,
                      runtime: dict[str, Any] | None = None) -> None:
        """Write ``hparams.json`` sealed (all fields, the kind and the hash; ``runtime``:
        settings the run used that are not hashed, such as its thread count; ``environment``: the
        instruction sets, CPU and versions, :func:`empirical.instruction_set.environment_record`,
        not hashed either)."""
        content = {"kind": kind, "hash": hparams_hash(hparams), "hparams": to_dict(hparams),
                   "environment": environment_record()}
        if runtime is not None:
            content["runtime"] = dict(runtime)
        write_json(self.path / HPARAMS, seal_json(content))

    def read_hparams(self) -> dict[str, Any]:
        """The contents of ``hparams.json`` (without its checksum), checked: the checksum, and
        the fields, which must hash to the directory's name.

        Raises
        ------
        RunFileError
            Damaged, edited, or the hyperparameters of another run.
        """
        path = self.path / HPARAMS
        if not path.exists():
            raise RunFileError(path, "missing")
        data = unseal_json(read_json(path), path, HPARAMS_KEYS)
        if data["hash"] != self.name:
            raise RunFileError(path, f"names run {data['hash']!r}, found in {self.name}")
        if not isinstance(data["hparams"], dict):
            raise RunFileError(path, "'hparams' is not an object")
        try:
            hparams = from_dict(hparams_class(data["kind"]), data["hparams"])
        except (TypeError, ValueError) as err:
            raise RunFileError(path, f"invalid hyperparameters ({err})") from None
        if hparams_hash(hparams) != self.name:
            raise RunFileError(path, f"its hyperparameters hash to {hparams_hash(hparams)}, "
                                     f"not {self.name}")
        return data

    def hparams(self) -> Any:
        """The run's hyperparameter object, read through :meth:`read_hparams`."""
        data = self.read_hparams()
        return from_dict(hparams_class(data["kind"]), data["hparams"])

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

    # --- checkpoint, ticket, predictions -------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Replace ``checkpoint.pt`` atomically (``state``: see ``run_files.CHECKPOINT_TYPES``);
        the replaced one becomes ``checkpoint.prev.pt``, the fallback if the new one is damaged.
        """
        current = self.path / CHECKPOINT
        if current.exists():  # a hard link: a kill at any point leaves both names readable
            link = self.path / f".{PREVIOUS_CHECKPOINT}.link.tmp"
            link.unlink(missing_ok=True)
            try:
                os.link(current, link)
                os.replace(link, self.path / PREVIOUS_CHECKPOINT)
            except OSError:  # a filesystem without hard links: the old one moves instead
                os.replace(current, self.path / PREVIOUS_CHECKPOINT)
        save_torch(current, state)

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The latest checkpoint, verified, or None if there is none.

        Raises
        ------
        RunFileError
            Digest mismatch, truncated, not a torch file, or missing entries.
        """
        path = self.path / CHECKPOINT
        if not path.exists():
            return None
        return check_checkpoint(load_torch(path), path)

    def checkpoints(self, repair: bool = True) -> Iterator[tuple[Path, dict[str, Any]]]:
        """The checkpoints a run may resume from, latest first, each verified.

        Parameters
        ----------
        repair
            Move a damaged checkpoint aside (:meth:`set_aside`; the writing process only).

        Yields
        ------
        (Path, dict)
            ``checkpoint.pt``, then ``checkpoint.prev.pt``; a damaged one is skipped.
        """
        for name in (CHECKPOINT, PREVIOUS_CHECKPOINT):
            path = self.path / name
            if not path.exists():
                continue
            try:
                state = check_checkpoint(load_torch(path), path)
            except RunFileError as err:
                if repair:
                    self.set_aside(err)
                continue
            yield path, state

    def set_aside(self, err: RunFileError) -> None:
        """Move the damaged file ``err.path`` to ``<name>.damaged``, with one warning line."""
        warn_damaged(err, f"moved to {err.path.name}{DAMAGED_SUFFIX}; resuming from an earlier "
                          "checkpoint, or training from the start")
        os.replace(err.path, err.path.with_name(err.path.name + DAMAGED_SUFFIX))

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

    def save_predictions(self, labels: torch.Tensor, steps: dict[int, torch.Tensor]) -> None:
        """Write ``predictions.pt``: the test ``labels`` and the predicted classes per step."""
        save_torch(self.path / PREDICTIONS, {"labels": compact_classes(labels),
                                             "steps": {k: compact_classes(v)
                                                       for k, v in steps.items()}})

    def predictions(self) -> Predictions:
        """The finished run's test predictions (:class:`Predictions`), after every check of
        :meth:`read_result`.

        Raises
        ------
        FileNotFoundError
            The run stored none (unfinished, or distributed: see ``fit``).
        RunFileError
            A damaged run.
        """
        path = self.path / PREDICTIONS
        self.read_result()
        if not path.exists():
            raise FileNotFoundError(f"run {self.path} holds no {PREDICTIONS} (a run trained by "
                                    "several processes, or without a test split, keeps none)")
        data = check_predictions(load_torch(path, weights_only=True), path)
        return Predictions(data["labels"].long(),
                           {k: v.long() for k, v in sorted(data["steps"].items())})

    # --- result ----------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """True once ``result.json`` exists (:meth:`reusable_result` also checks it)."""
        return (self.path / RESULT).exists()

    def _digests(self) -> dict[str, str]:
        (self.path / PREVIOUS_CHECKPOINT).unlink(missing_ok=True)  # needed only while running
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

        Checks: valid JSON object, checksum, hash = the directory, ``hparams.json``
        (:meth:`read_hparams`), the digests of every file it summarises, and ``steps`` = the final
        metrics record's step.

        Raises
        ------
        RunFileError
            Naming the file that fails.
        """
        path = self.path / RESULT
        result, files = unseal_result(read_json(path), path, self.name)
        self.read_hparams()
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
