"""The names the layer factory and its registries accept, importable without torch.

The command line offers these as choices (``--init``, ``--scope``, ``--mask-rule``,
``--criterion``, ...) and the hyperparameter dataclasses check them, before torch is loaded:
``tickets train biprop --help`` and an argument error answer in a fraction of a second. Each
vocabulary is defined here once and the torch modules that implement the names import it from
here. The two registries of classes (:data:`empirical.mask_rules.MASK_RULES`,
:data:`empirical.algorithms.criteria.CRITERIA`) register their built-in classes under the names
declared here (``tests/cli/test_cli_startup.py`` checks that the lists are equal); the models'
names live in the torch-free :mod:`empirical.models.registry`.
"""

from __future__ import annotations

from typing import NamedTuple

INITS = ("kn", "ukn", "sc", "usc", "kaiming_uniform", "xavier_normal", "torch_default")
"""Weight initialisations (:func:`empirical.init.init_weight_`)."""
SCALED_INITS = ("kn", "sc")
"""The inits whose fan is scaled by the kept fraction (:func:`empirical.init.fan_factor`)."""
FAN_RULES = ("paper", "released")
"""How the kept fraction scales the fan of :data:`SCALED_INITS` (:mod:`empirical.init`)."""
BN_INITS = ("ones", "uniform")
"""Affine BatchNorm scale initialisations (:func:`empirical.init.init_batchnorm_`)."""

SCORE_MODES = ("edge-popup", "biprop")
"""Layer modes that train scores over frozen weights (:mod:`empirical.layers`)."""
LAYER_MODES = ("dense", "masked", *SCORE_MODES)
"""Every mode of a factory layer (:class:`empirical.layers.LayerConfig`)."""
NORMS = ("none", "nonaffine", "affine")
"""BatchNorm kinds (:func:`empirical.layers.make_norm`)."""

SCOPES = ("layerwise", "global")
"""Scopes of the top-k mask rule (:mod:`empirical.mask_rules`)."""
MASK_RULE_NAMES = ("topk", "bernoulli", "hard-concrete", "iterand", "gem-miner")
"""The mask rules, each a :class:`empirical.mask_rules.MaskRule` registered under its name."""
REDRAW_EVERY = 300
"""IteRand's default re-draw period ``K_per`` in iterations (the authors' example command,
``rerand_freq=300``; :class:`empirical.mask_rules.IteRand`)."""
REDRAW_FRACTION = 0.1
"""IteRand's default re-draw probability ``r`` per pruned weight (``rerand_lambda=0.1``)."""
SOURCE_LAYOUTS = ("erk", "uniform")
"""Per-layer density layouts of a sparse random source (:mod:`empirical.sparse_source`)."""


class CriterionSource(NamedTuple):
    """Where a pruning criterion lives and what it implements.

    Attributes
    ----------
    module
        Its module in :mod:`empirical.algorithms.criteria`, holding its one registered class.
    citation
        Where its formula comes from (``tickets train pai --help`` lists it).
    """

    module: str
    citation: str


CRITERION_SOURCES = {
    "magnitude": CriterionSource("magnitude",
                                 "Frankle et al., ICLR 2021 (magnitude at initialisation)"),
    "snip": CriterionSource("snip", "Lee, Ajanthan & Torr, ICLR 2019"),
    "grasp": CriterionSource("grasp", "Wang, Zhang & Grosse, ICLR 2020"),
    "synflow": CriterionSource("synflow", "Tanaka, Kunin, Yamins & Ganguli, NeurIPS 2020"),
    "random": CriterionSource("random_scores",
                              "uniform random masks; ERK densities: Evci et al., ICML 2020"),
}
"""The pruning criteria by name (:mod:`empirical.algorithms.criteria` imports each module, which
registers its class under the name)."""
