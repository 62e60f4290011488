"""Convolutional targets (da Cunha, Natale & Viennot, ICLR 2022; Burkholz, ICML 2022): subset
sums on kernel entries.

Every target conv layer ``K_i`` (``(c_out, c_in, *k)``, ``|k|`` entries per channel pair) becomes
two source conv layers with i.i.d. U[-1, 1] kernels: ``M_{2i-1}`` of shape ``(c_in |k| n, c_in,
*k)`` and the 1x1 layer ``M_{2i}`` of shape ``(c_out, c_in |k| n, 1, ...)``.  Channel ``(j, u)`` of
the first belongs to the block of the kernel coordinate ``j = (c, t)`` (channel ``c``, offset
``t``) and keeps only its entry ``a_u = M_{2i-1}[(j, u), c, t]``, so at every position ``p`` it
computes ``relu(a_u x_c(p + t))``: the patch of ``p`` enters one coordinate per block, exactly as
the input of the fully connected gadget (:mod:`theory.constructions.blocks`).  The 1x1 layer then
solves, for every output channel ``o`` and coordinate ``j``, Pensia's two subset sums
(:func:`theory.constructions.pensia.solve_layer` on the flattened kernel ``K_i`` of shape
``(c_out, c_in |k|)``), the same at every position: weight sharing is inherited, the ticket is a
genuine CNN, and its layer is ``P relu(z_p) - N relu(-z_p)`` on every patch ``z_p``.

What was checked.  :file:`shared/reference/theory.md` restates that "CNNs ... provably contain
strong tickets with logarithmic over-parameterisation (subset sum on kernel entries)"; the
papers' theorems and constants were not at hand.  The bound below is ours.

Error propagation (ours).  Per position the layer error is ``E+ relu(z_p) - E- relu(-z_p)``, at
most ``||E_max||_2 ||z_p||`` (blocks docstring), and every input entry lies in at most ``|k|``
patches, so ``sum_p ||z_p||^2 <= |k| ||h||^2`` and the layer error is ``e_i ||h||`` with
``e_i = sqrt(|k|) ||E_max||_2``.  With ``s_i`` the exact operator norm of the target layer on its
input (:func:`theory.conv.operator_norm`), the recursion of
:func:`theory.constructions.blocks.propagated_error` bounds the sup error on the unit ball of the
flattened input (``certified_error``; with the Frobenius norm of ``[E+, E-]``: ``predicted``).
For targets with ``s_i <= 1``, a per-weight tolerance ``tau_i = ln(1 + eps) / (l |k| sqrt(2
c_out c_in))`` makes ``e_i <= ln(1 + eps) / l`` and the error ``<= eps``.

Width bound (ours).  As :mod:`theory.constructions.pensia` with ``d_{i-1} d_i`` replaced by
``c_in |k| c_out`` instances and ``d_{i-1}`` by ``c_in |k|`` blocks: ``m_i = ceil(C_P log2(2 /
min(tau_i, delta / (2 E_s))))`` summands per sign, ``E_s = 2 sum_i c_out c_in |k|``, and blocks of
``n_i = hoeffding_block_size(m_i, 1/2, ln(4 sum_i c_in |k| / delta))`` channels; the bound is the
widest first layer ``max_i c_in |k| n_i`` (channels).  Logarithmic in ``1/eps`` as in the fully
connected case; the target's input size enters only through the operator norms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from theory.constructions.blocks import (
    gadget_masks,
    gadget_weights,
    hoeffding_block_size,
    propagated_error,
    resolve_block_sizes,
    union_log_term,
    validate_inputs,
)
from theory.constructions.pensia import CALIBRATED_C, solve_layer, summands_per_sign
from theory.constructions.registry import Construction, register
from theory.constructions.result import ConstructionResult
from theory.conv import (
    ConvSourceDraw,
    ConvSubnetwork,
    check_conv_target,
    layer_shapes,
    operator_norm,
)
from theory.subset_sum import MAX_SUMMANDS

METHOD = "conv"
"""The ``method`` of its results; it registers ``conv-1d`` and ``conv-2d`` (kernel 3 on inputs of
length 8, kernel 2x2 on 4x4 inputs: the targets the studies draw)."""


def _fan(kernel_shape: Sequence[int]) -> tuple[int, int, int]:
    """``(c_out, c_in, |k|)`` of a kernel shape."""
    return int(kernel_shape[0]), int(kernel_shape[1]), math.prod(int(k) for k in kernel_shape[2:])


def tolerances(kernel_shapes: Sequence[Sequence[int]], eps: float) -> np.ndarray:
    """``tau_i = ln(1 + eps) / (l |k| sqrt(2 c_out c_in))`` per layer (module docstring)."""
    depth = len(kernel_shapes)
    return np.array([math.log1p(eps) / (depth * k * math.sqrt(2 * o * c))
                     for o, c, k in map(_fan, kernel_shapes)])


def block_sizes_bound(kernel_shapes: Sequence[Sequence[int]], eps: float,
                      delta: float) -> tuple[list[int], list[int]]:
    """Our summands per sign ``m_i`` and block sizes ``n_i`` per layer (module docstring)."""
    fans = [_fan(s) for s in kernel_shapes]
    n_subset = 2 * sum(o * c * k for o, c, k in fans)
    counts = [summands_per_sign(float(t), delta / (2 * n_subset))
              for t in tolerances(kernel_shapes, eps)]
    log_count = union_log_term(4 * sum(c * k for _, c, k in fans), delta)
    return counts, [hoeffding_block_size(m, 0.5, log_count) for m in counts]


def conv_gadget_source(kernel_shapes: Sequence[Sequence[int]], blocks: Sequence[int],
                       rng: np.random.Generator) -> tuple[ConvSourceDraw, list[np.ndarray]]:
    """The draw and the U[-1, 1] kernels: ``M_{2i-1}`` ``(c_in |k| n_i, c_in, *k)`` and 1x1
    ``M_{2i}`` ``(c_out, c_in |k| n_i, 1, ...)``; the draw's seed comes from ``rng``."""
    shapes = []
    for shape, n in zip(kernel_shapes, blocks, strict=True):
        o, c, k = _fan(shape)
        spatial = tuple(int(s) for s in shape[2:])
        shapes += [(c * k * n, c, *spatial), (o, c * k * n, *([1] * len(spatial)))]
    draw = ConvSourceDraw.from_rng(shapes, rng)
    return draw, draw.layers()


def unfold_first(kernel: np.ndarray, block: int) -> np.ndarray:
    """The first gadget kernel as the FC layer of the patch: ``(c_in |k| n, c_in |k|)``, entry
    ``[(j, u), j'] = M[(j, u), c', t']`` for ``j' = (c', t')`` (row-major channel, offset)."""
    return kernel.reshape(kernel.shape[0], -1)


def fold_first_mask(first_mask: np.ndarray, kernel_shape: Sequence[int]) -> np.ndarray:
    """Inverse of :func:`unfold_first` for a mask."""
    return first_mask.reshape(tuple(int(s) for s in kernel_shape))


def construct(
    target: Sequence[np.ndarray],
    eps: float,
    delta: float,
    rng: np.random.Generator,
    input_shape: Sequence[int],
    block_size: int | Sequence[int] | None = None,
    rescale: bool = False,
) -> ConstructionResult:
    """Prune a random depth-``2l`` CNN to ``eps``-approximate a CNN target (module docstring).

    Parameters
    ----------
    target : sequence of numpy.ndarray
        Kernels ``(c_out, c_in, *k)`` with one or two spatial axes.
    eps : float
        Sup-norm accuracy on the unit ball of the flattened input.
    delta : float
        Failure probability the default block sizes are chosen for.
    rng : numpy.random.Generator
        Draws the source.
    input_shape : sequence of int
        Spatial input size (``(L,)`` or ``(H, W)``): the operator norms depend on it.
    block_size : int or sequence of int, optional
        Channels per kernel coordinate (per layer); default our bound.
    rescale : bool
        Rescale a target violating ``||K||_op <= 1``, ``|K| <= 1/sqrt(fan_in)``.

    Returns
    -------
    ConstructionResult
        ``subnetwork`` is a :class:`theory.conv.ConvSubnetwork`; widths are channel counts.
    """
    validate_inputs([np.zeros((1, 1))], eps, delta, "both")
    kernels = [np.asarray(k, dtype=np.float64) for k in target]
    if rescale:
        from theory.conv import rescale_conv_target

        kernels = rescale_conv_target(kernels, input_shape)
    check_conv_target(kernels, input_shape)
    shapes = [k.shape for k in kernels]
    counts, bound = block_sizes_bound(shapes, eps, delta)
    blocks = resolve_block_sizes(block_size, bound)
    limits = [min(MAX_SUMMANDS, m if block_size is None else MAX_SUMMANDS) for m in counts]
    draw, source = conv_gadget_source(shapes, blocks, rng)
    masks: list[np.ndarray] = []
    for i, kernel in enumerate(kernels):
        first = unfold_first(source[2 * i], blocks[i])
        second = source[2 * i + 1].reshape(kernel.shape[0], -1)
        keep = solve_layer(first, second, kernel.reshape(kernel.shape[0], -1), blocks[i],
                           limits[i])
        first_mask, second_mask = gadget_masks(keep)
        masks += [fold_first_mask(first_mask, source[2 * i].shape),
                  second_mask.reshape(source[2 * i + 1].shape)]
    subnetwork = ConvSubnetwork(source=tuple(source), masks=tuple(masks), provenance=draw)
    effective = subnetwork.weights()
    taus = tolerances(shapes, eps)
    in_shapes = layer_shapes(kernels, input_shape)[:-1]
    per_weight, frobenius, certified, norms, within = [], [], [], [], True
    for i, kernel in enumerate(kernels):
        w = kernel.reshape(kernel.shape[0], -1)
        pos, neg = gadget_weights(effective[2 * i].reshape(effective[2 * i].shape[0], -1),
                                  effective[2 * i + 1].reshape(kernel.shape[0], -1))
        err_pos, err_neg = np.abs(pos - w), np.abs(neg - w)
        root = math.sqrt(_fan(kernel.shape)[2])
        per_weight += [err_pos.ravel(), err_neg.ravel()]
        frobenius.append(root * float(np.sqrt(np.sum(err_pos**2) + np.sum(err_neg**2))))
        certified.append(root * float(np.linalg.norm(np.maximum(err_pos, err_neg), ord=2)))
        norms.append(operator_norm(kernel, in_shapes[i]))
        within = within and bool(np.all(np.maximum(err_pos, err_neg) <= taus[i]))
    certified_error = propagated_error(norms, certified)
    channels = [int(s.shape[1]) for s in source] + [int(source[-1].shape[0])]
    return ConstructionResult(
        method=METHOD,
        subnetwork=subnetwork,  # type: ignore[arg-type]
        target_widths=tuple([int(kernels[0].shape[1])] + [int(k.shape[0]) for k in kernels]),
        source_widths=tuple(channels),
        source_depth=len(source),
        eps=float(eps),
        delta=float(delta),
        bound_width=max(_fan(s)[1] * _fan(s)[2] * n for s, n in zip(shapes, bound, strict=True)),
        theorem_width=None,
        per_weight_errors=np.concatenate(per_weight),
        predicted_error=propagated_error(norms, frobenius),
        success=bool(within and certified_error <= eps),
        certified_error=certified_error,
        layer_errors=tuple(frobenius),
        plan={"block_sizes": blocks, "bound_block_sizes": bound, "summands_per_sign": counts,
              "max_summands": limits, "tolerances": [float(t) for t in taus],
              "operator_norms": norms, "calibrated_c": CALIBRATED_C,
              "input_shape": list(input_shape)},
    )


for _name, _kernel, _input in (("conv-1d", (3,), (8,)), ("conv-2d", (2, 2), (4, 4))):
    register(Construction(
        name=_name, construct=construct, family="conv",
        theorem="da Cunha et al. 2022; Burkholz 2022",
        options={"kernel": _kernel, "input_shape": _input}))
