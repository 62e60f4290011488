"""Named presets: the configurations behind published numbers, and small CPU configurations.

A preset fixes an algorithm and values per hyperparameter section (``dataset``, ``model``,
``mask``, ``training``; LTH presets add ``pruning``); explicit flags override them.

Published presets
-----------------
A preset named after a paper (``published=True``) spells out EVERY value the recipe fixes, each
with its source in :attr:`Preset.sources` (``"section.field" -> "where it comes from"``): a paper's
section or table, or a released configuration file (``biprop configs/...`` for Diffenderfer &
Kailkhura, ICLR 2021, github.com/chrundle/biprop; ``hidden-networks configs/...`` for Ramanujan et
al., CVPR 2020; ``open_lth`` registry defaults for Frankle et al.). ``reproduces`` names the
published number and ``differs`` what still differs and why. Where the released code and the
paper's text disagree in a way that changes results, both exist: ``NAME`` follows the paper and
``NAME-released`` the released configuration, and ``differs`` says which one produced the
published number as far as the sources tell. :func:`reproduction_table` renders all of them as
the README's reproduction table (a test keeps the two equal).

Facts used here are gathered in ``shared/reference/algorithms.md`` (section 5: released code vs
paper) and ``results.md``. Values a source does not give are marked ``"ours: ..."``.

CPU presets
-----------
The MNIST-1D presets follow Greydanus & Kobak's recipe for the dense baselines (Adam 1e-2,
constant lr, batch 100, 6,000 steps, biases); the score presets were tuned here on MNIST-1D and
scikit-learn digits to finish in seconds to minutes.

Modules: :mod:`.spec` (the :class:`Preset` type and helpers), :mod:`.papers` (published score and
dense presets), :mod:`.cpu` (CPU presets), :mod:`.lth` (IMP presets); :data:`PRESETS` holds them
all.
"""

from __future__ import annotations

from empirical.config.presets.cpu import CPU_PRESETS
from empirical.config.presets.lth import LTH_PRESETS
from empirical.config.presets.papers import PAPER_PRESETS
from empirical.config.presets.spec import Preset

__all__ = ["MODEL_PRESETS", "PRESETS", "Preset", "get_preset", "model_preset", "presets_for",
           "reproduction_table"]

PRESETS: dict[str, Preset] = {**PAPER_PRESETS, **CPU_PRESETS, **LTH_PRESETS}
"""Every preset by name."""


def get_preset(name: str, algorithm: str | None = None) -> Preset:
    """The preset ``name``; ``ValueError`` if unknown or made for another algorithm."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}")
    preset = PRESETS[name]
    if algorithm is not None and preset.algorithm != algorithm:
        raise ValueError(f"preset {name!r} is for {preset.algorithm}, not {algorithm}")
    return preset


def presets_for(algorithm: str) -> list[str]:
    """Names of the presets made for ``algorithm``."""
    return sorted(n for n, p in PRESETS.items() if p.algorithm == algorithm)


#: The preset a model named after a paper trains with when no ``--preset`` is given:
#: ``(algorithm, model) -> preset`` (used only when the dataset is the preset's or not given).
MODEL_PRESETS: dict[tuple[str, str], str] = {
    ("lth", "lenet-300-100"): "lenet-300-100-lth",
    ("lth", "conv2"): "conv2-lth", ("lth", "conv4"): "conv4-lth", ("lth", "conv6"): "conv6-lth",
    ("lth", "vgg19"): "vgg19-lth-warmup", ("lth", "resnet20"): "resnet20-lth-rewind",
    ("biprop", "conv4"): "conv4-mpt-1/32", ("biprop", "resnet18"): "resnet18-mpt-1/32",
    ("biprop", "vgg-small-mpt"): "vgg-small-mpt-1/32",
    ("biprop", "wide-vgg-small"): "vgg-small-1.25x-mpt-1/1",
    ("biprop", "wrn50-2"): "wrn50-2-mpt-1/32-imagenet",
    ("edge-popup", "conv4"): "conv4-edge-popup", ("edge-popup", "resnet18"): "resnet18-edge-popup",
    ("dense", "conv4"): "conv4-dense", ("dense", "resnet18"): "resnet18-dense",
    ("dense", "mnist1d-cnn"): "mnist1d-cnn-dense",
}


def model_preset(algorithm: str, model: str | None, dataset: str | None) -> str | None:
    """The paper preset of ``model`` for ``algorithm`` (:data:`MODEL_PRESETS`), or None.

    Returned only when ``dataset`` is None or the preset's own dataset: ``--model conv4
    --dataset mnist1d`` is not the paper's setting and keeps the generic defaults.
    """
    name = MODEL_PRESETS.get((algorithm, model or ""))
    if name is None:
        return None
    if dataset is not None and PRESETS[name].section("dataset").get("name") != dataset:
        return None
    return name


def reproduction_table() -> str:
    """The README's reproduction table: published number -> preset -> command -> differences.

    A GitHub-flavoured Markdown table rendered by ``tabulate`` (what ``DataFrame.to_markdown``
    uses), one row per preset with a published number.
    """
    from tabulate import tabulate

    from empirical.data import disk_dataset_names

    rows = []
    for name in sorted(PRESETS):
        preset = PRESETS[name]
        if not preset.published:
            continue
        command = "lth" if preset.algorithm == "lth" else preset.algorithm
        data = preset.section("dataset").get("name")
        flags = " --data-dir DIR" if data in disk_dataset_names() else ""
        rows.append([preset.reproduces, f"`{name}`",
                     f"`tickets train {command} --preset {name}{flags}`", preset.differs])
    headers = ["published number", "preset", "command", "what still differs"]
    return tabulate(rows, headers, tablefmt="github") + "\n"
