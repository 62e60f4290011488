"""Reading a finished run of the run store: the verifying reader behind export, eval and the API.

A run is named by its directory or by its hash, searched under every kind of ``runs_dir``
(``runs_dir/<kind>/<hash>``, see :mod:`empirical.storage.store`). It is read only through the run
store's checks: ``result.json``'s checksum, ``hparams.json``'s checksum and its hash (= the
directory), the digest of every file the result summarises, and the seal of ``checkpoint.pt`` and
``ticket.pt``; a missing, damaged or edited file is named in one line (rerun ``tickets train`` to
recompute it).

The masks are the ones the run's final evaluation used: the eval-mode masks of the checkpoint's
scores at the kept fraction of the last epoch (:func:`final_keep`: global-scope annealing may not
have reached ``k``; a stochastic rule's deterministic eval-mode mask), which must equal
``ticket.pt``'s, and the LTH ``mask`` buffers; a dense run's layers keep every weight.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from empirical.algorithms.builders import build_lth_model, build_run_model, keep_schedule
from empirical.config.hparams import default_runs_dir, from_dict
from empirical.storage.store import RESULT, RunStore, hparams_class

TICKET_KINDS = ("biprop", "edge-popup", "lth")
RUN_KINDS = (*TICKET_KINDS, "dense")


@dataclass
class RunTicket:
    """A finished run read back: its identity, its model and its masks.

    Attributes
    ----------
    kind
        ``biprop``, ``edge-popup`` or ``lth``.
    run_hash
        The run's hash (directory name).
    run_dir
        The run directory.
    hparams
        :class:`~empirical.config.hparams.RunHparams` or
        :class:`~empirical.config.lth_hparams.LTHHparams`.
    result
        ``result.json``.
    model
        The final model in its training mode (eval mode), on the CPU.
    masks
        ``name -> bool mask`` of every prunable layer.
    rewind_step
        LTH: the rewind step ``k`` of the ticket's start weights (None otherwise).
    """

    kind: str
    run_hash: str
    run_dir: Path
    hparams: Any
    result: dict[str, Any]
    model: nn.Module
    masks: dict[str, torch.Tensor]
    rewind_step: int | None = None


def locate_run(run: str, runs_dir: str | os.PathLike | None = None) -> Path:
    """The directory of ``run``: an existing directory, or a hash searched under every kind.

    Parameters
    ----------
    run
        A run directory or a run hash.
    runs_dir
        Root of the run store (default ``$TICKETS_RUNS`` or ``./runs``).

    Returns
    -------
    Path
        The run directory.
    """
    path = Path(run)
    if path.is_dir():
        return path
    root = default_runs_dir(runs_dir)
    found = sorted(p for p in root.glob(f"*/{run}") if p.is_dir()) if "/" not in run else []
    if not found:
        raise FileNotFoundError(f"no run {run!r}: not a directory, and no run with that hash "
                                f"under {root}")
    if len(found) > 1:
        raise ValueError(f"run hash {run} is ambiguous under {root}: "
                         f"{', '.join(str(p) for p in found)}")
    return found[0]


def hparams_of(kind: str, section: dict[str, Any]) -> Any:
    """The hyperparameter object of a run kind from ``hparams.json``'s ``hparams`` dict."""
    return from_dict(hparams_class(kind), section)


def build_architecture(kind: str, hparams: Any) -> nn.Module:
    """The run's model as training built it (seeded from ``training.seed``), on the CPU."""
    if kind == "lth":
        return build_lth_model(hparams, hparams.training.seed)
    return build_run_model(hparams)


def final_keep(hparams: Any, result: dict[str, Any]) -> float:
    """The kept fraction of the run's last epoch (global-scope annealing, else ``mask.keep``).

    ``fit`` sets ``k(e)`` at the start of every epoch ``e``; the last epoch is
    ``(steps - 1) // steps_per_epoch`` with ``steps_per_epoch = steps / epochs`` from
    ``result.json``.
    """
    schedule = keep_schedule(hparams)
    steps, epochs = int(result["steps"]), float(result["epochs"])
    if schedule is None or steps == 0 or epochs <= 0:
        return hparams.mask.keep
    per_epoch = max(1, round(steps / epochs))
    return schedule((steps - 1) // per_epoch)


def _masks(kind: str, hparams: Any, model: nn.Module, ticket: dict[str, Any] | None,
           result: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The eval-mode masks of the final model, checked against ``ticket.pt``'s."""
    from empirical.layers import layer_masks, set_keep

    if kind in ("biprop", "edge-popup"):
        set_keep(model, final_keep(hparams, result))
    model.eval()
    masks = {n: m.detach().bool() for n, m in layer_masks(model).items()}
    if ticket is None:
        return masks
    stored = ticket.get("masks")
    if not isinstance(stored, dict):
        raise ValueError("ticket.pt holds no masks")
    same = set(stored) == set(masks) and all(
        torch.equal(torch.as_tensor(stored[n]).bool(), m) for n, m in masks.items())
    if not same:
        raise ValueError("the masks of ticket.pt differ from those of the checkpoint's scores")
    return masks


def read_run(run_dir: str | os.PathLike, kinds: tuple[str, ...] = TICKET_KINDS) -> RunTicket:
    """Read a finished run as a :class:`RunTicket`, every file checked (module docstring).

    Parameters
    ----------
    run_dir
        The run directory.
    kinds
        The run kinds accepted (default: those that hold a ticket; ``RUN_KINDS`` adds dense).

    Returns
    -------
    RunTicket
        The run, its final model (original layer modes, eval mode) and its masks.

    Raises
    ------
    FileNotFoundError
        The run is not finished.
    ValueError
        A damaged file (:class:`~empirical.storage.run_files.RunFileError`, naming it), a kind
        outside ``kinds``, or a checkpoint and ticket that do not fit the run's architecture.
    """
    store = RunStore(run_dir)
    if not store.finished:
        raise FileNotFoundError(f"run {store.path}: no {RESULT} (is the run finished?)")
    result = store.read_result()
    kind = store.read_hparams()["kind"]
    if kind not in kinds:
        raise ValueError(f"run {store.path} is of kind {kind!r}, which holds no ticket; export "
                         f"one of {', '.join(kinds)}")
    hparams = store.hparams()
    checkpoint = store.load_checkpoint()
    if checkpoint is None:
        raise FileNotFoundError(f"run {store.path}: its checkpoint is missing")
    ticket = store.load_ticket() if kind in TICKET_KINDS else None
    model = build_architecture(kind, hparams)
    try:
        model.load_state_dict(checkpoint["model"])
        masks = _masks(kind, hparams, model, ticket, result)
    except (KeyError, TypeError, RuntimeError, ValueError) as err:
        raise ValueError(f"run {store.path}: checkpoint.pt / ticket.pt do not fit the run's "
                         f"architecture ({str(err).splitlines()[0]})") from None
    model.eval()
    rewind = int(ticket.get("rewind_step", 0)) if kind == "lth" and ticket else None
    return RunTicket(kind, store.path.name, store.path, hparams, result, model, masks, rewind)
