"""The initialisation names the hyperparameters choose from, importable without torch.

The command line builds its flags (``choices``, help texts) from the hyperparameter dataclasses,
so everything those dataclasses name must load without torch: ``tickets --help`` and a refused
argument then take a fraction of a second instead of torch's import (seconds). The module that
implements them (:mod:`empirical.init`) imports them from here; the dataset names come from the
torch-free dataset registry (:mod:`empirical.data`).
"""

from __future__ import annotations

INITS = ("kn", "ukn", "sc", "usc", "kaiming_uniform", "xavier_normal", "torch_default")
"""Weight initialisations (:func:`empirical.init.init_weight_`)."""
SCALED_INITS = ("kn", "sc")
"""The initialisations whose fan-in is scaled by the kept fraction (:data:`FAN_RULES`)."""
FAN_RULES = ("paper", "released")
"""How :data:`SCALED_INITS` scale fan_in: by k (paper) or by 1 - k (the released biprop code)."""
BN_INITS = ("ones", "uniform")
"""Affine BatchNorm gamma: ones (PyTorch) or U(0, 1) (open_lth)."""
