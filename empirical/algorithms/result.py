"""What a training algorithm returns: a stored run, its numbers, and its model and masks on demand.

``run_mpt`` and ``run_level`` (and every row of ``run_lth``) return a :class:`RunResult`. It reads
like the summary dict (``result["test_acc"]``; it is a ``Mapping`` of ``result.json``'s fields)
and opens the run's files only when asked, through the verifying readers of the run store:

>>> result = run_mpt(hparams)                                     # doctest: +SKIP
>>> result["test_acc"], result.run_dir                            # doctest: +SKIP
>>> result.masks["layers.0"].float().mean()                       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import nn

from empirical.storage.store import Predictions, RunStore


@dataclass(frozen=True)
class RunResult(Mapping[str, Any]):
    """A finished (or read back) run.

    Attributes
    ----------
    summary
        ``result.json``'s fields (kind, hash, run_dir, accuracies, steps, ...) and ``reused``.

    Every other attribute reads the run directory through :class:`RunStore`'s checks.
    """

    summary: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.summary[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.summary)

    def __len__(self) -> int:
        return len(self.summary)

    @property
    def run_dir(self) -> Path:
        """The run directory ``runs_dir/<kind>/<hash>``."""
        return Path(self.summary["run_dir"])

    @property
    def store(self) -> RunStore:
        """The run's files."""
        return RunStore(self.run_dir)

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """Every evaluation record (``metrics.jsonl``, checked against ``result.json``)."""
        self.store.read_result()
        return self.store.metrics()

    @property
    def predictions(self) -> Predictions:
        """The test predictions of every evaluation (:meth:`RunStore.predictions`)."""
        return self.store.predictions()

    @cached_property
    def _ticket(self) -> Any:
        from empirical.algorithms.run_reader import RUN_KINDS, read_run

        return read_run(self.run_dir, RUN_KINDS)

    @property
    def model(self) -> nn.Module:
        """The final model on the CPU in eval mode (its masks as the last evaluation used)."""
        return self._ticket.model

    @property
    def masks(self) -> dict[str, torch.Tensor]:
        """``layer name -> bool mask`` of every prunable layer (all ones for dense training)."""
        return self._ticket.masks
