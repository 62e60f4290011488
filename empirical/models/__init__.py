"""The model zoo: every architecture built from the one layer factory of :mod:`empirical.layers`.

:func:`build_model` (:mod:`empirical.models.build`) builds any registered model
(:data:`MODEL_NAMES`, from :data:`empirical.models.registry.MODELS`) for dense training, edge-popup,
biprop (layerwise or global scope) and LTH masks alike: every conv/linear layer comes from
``make_conv`` / ``make_linear`` with the model's :class:`~empirical.layers.LayerConfig`, every
hidden activation from ``make_activation`` (ReLU or the binary sign of MPT-1/1), every BatchNorm
from ``make_norm``. The input and the logits stay real; the output is ``(batch, num_classes)``.

Architectures (registered in :mod:`empirical.models.registry`): ``fc`` and ``lenet-300-100``
(:mod:`empirical.models.fc`); ``conv2/4/6/8``, ``vgg-small``, the released MPT layouts
``vgg-small-mpt`` and ``wide-vgg-small``, ``vgg11/13/16/19`` (:mod:`empirical.models.convnets`);
``resnet20/32/44/56/110``, ``resnet18/34/50/101``, ``wrn50-2`` (:mod:`empirical.models.resnets`);
the MNIST-1D authors' ``mnist1d-cnn`` (:mod:`empirical.models.strided`).

Importing this package loads no torch (the command line lists :data:`MODEL_NAMES` without it):
:func:`build_model` and :class:`ModelSpec` are resolved from :mod:`empirical.models.build` on first
use.
"""

from __future__ import annotations

from empirical.lazy_exports import lazy_getattr
from empirical.models.registry import MODELS

MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
_TORCH_NAMES = dict.fromkeys(("ModelSpec", "build_model"), "build")

__all__ = ["MODEL_NAMES", *_TORCH_NAMES]
__getattr__ = lazy_getattr(__name__, _TORCH_NAMES)
