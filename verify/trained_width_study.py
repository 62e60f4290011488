"""How wide must a random network be before its binary ticket matches the trained network?

For each trained target of :class:`verify.scales.TrainedWidthScale` (a bias-free ReLU ``fc``
network trained by a dense preset's recipe, a run of the store reused when finished) and each
construction it lists (multi-prize counting, ``mpt-binary``, Diffenderfer & Kailkhura, ICLR
2021; the binary +-1 source with depth, ``binary-depth``, Sreenivasan et al., AISTATS 2022;
Malach et al., ICML 2020, at small size), a ticket is built at every source block size and seed
by :func:`verify.trained_ticket.ticket_of_trained` and measured on the real test set. One tidy
row per construction x block size x seed: the ticket's and the target's test accuracy, their
prediction agreement, the largest logit error over the data, the certified sup error on the unit
ball where the construction gives one (``evidence = "certified"``; otherwise only the test data
were checked: ``"sampled"``), the source width and the construction's bound width for the
scale's ``eps`` and ``delta``, kept weights and seconds.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from verify.scales import TrainedTarget, TrainedWidthScale

MODEL_FIXED = {"name": "fc", "bn": "none", "bias": False, "binary_act": False}


def target_hparams(target: TrainedTarget) -> Any:
    """The dense run of ``target``: its preset with the bias-free ReLU ``fc`` model of its widths
    and its training overrides."""
    from verify.mpt_study import preset_hparams

    return preset_hparams(target.preset, {
        "dataset": {"name": target.dataset},
        "model": {**MODEL_FIXED, "widths": tuple(target.widths)},
        "mask": {"init": "kaiming_uniform"},
        "training": dict(target.training)})


def tidy_row(target: TrainedTarget, row: dict[str, Any], run_hash: str) -> dict[str, Any]:
    """One :func:`verify.trained_ticket.ticket_of_trained` row in the study's columns."""
    certified = row["certified_sup_error"]
    return {
        "construction": row["method"], "dataset": row["dataset"], "target": target.label,
        "target_widths": row["target_widths"], "block_size": int(row["block_sizes"].split(",")[0]),
        "bits": row["bits"], "source_width": row["source_width"],
        "source_depth": row["source_depth"], "bound_width": row["bound_width"],
        "source_weights": row["source_weights"], "kept_weights": row["kept_weights"],
        "ticket_acc": row["ticket_acc"], "target_acc": row["target_acc"],
        "agreement": row["agreement"], "max_logit_error": row["max_logit_error"],
        "certified_sup_error": certified,
        "evidence": "sampled" if certified is None else "certified",
        "seed": row["seed"], "seconds": row["seconds"], "hash": run_hash,
    }


def run_study(sizes: TrainedWidthScale, runs_dir: str | os.PathLike | None = None,
              data_dir: str | os.PathLike | None = None, progress: bool = True,
              on_row: Callable[[dict[str, Any]], Any] | None = None) -> list[dict[str, Any]]:
    """Every target, construction, block size and seed of ``sizes``.

    Parameters
    ----------
    sizes : TrainedWidthScale
        Targets, ``eps``, ``delta``, binary-depth ``bits``, seeds.
    runs_dir, data_dir : path, optional
        Run store root (the targets' training runs) and dataset directory.
    progress : bool
        Show a tqdm bar over the tickets.
    on_row : callable, optional
        Called with each row.

    Returns
    -------
    list of dict
        See :func:`tidy_row`.
    """
    from tqdm.auto import tqdm

    from empirical.config.hparams import RuntimeConfig, hparams_hash
    from verify.trained_ticket import METHODS, ticket_of_trained, train_target

    for target in sizes.targets:
        unknown = sorted(set(target.block_sizes) - set(METHODS))
        if unknown:
            raise ValueError(f"target {target.label}: unknown construction {unknown[0]!r}; "
                             f"choose from {', '.join(METHODS)}")
    runtime = RuntimeConfig(data_dir=None if data_dir is None else str(data_dir),
                            progress=False)
    total = sum(len(sizes.seeds) * len(b) for t in sizes.targets for b in t.block_sizes.values())
    rows: list[dict[str, Any]] = []
    with tqdm(total=total, desc="trained tickets", unit="ticket", disable=not progress) as bar:
        for target in sizes.targets:
            hparams = target_hparams(target)
            network = train_target(hparams, None if runs_dir is None else str(runs_dir),
                                   runtime)
            for method, blocks in target.block_sizes.items():
                bits = sizes.bits if method == "binary-depth" else None
                for block in blocks:
                    for seed in sizes.seeds:
                        row = ticket_of_trained(network, method, sizes.eps, sizes.delta, block,
                                                seed=seed, data_dir=runtime.data_dir,
                                                bits=bits)
                        rows.append(tidy_row(target, row, hparams_hash(hparams)))
                        bar.update(1)
                        if on_row is not None:
                            on_row(rows[-1])
    return rows
