"""Pure mask logic for lottery tickets: magnitude pruning, random pruning, density bookkeeping.

Everything here works on ordered mappings ``name -> tensor`` (the prunable weights of a model and
their 0/1 masks, in the model's layer order) and never touches a model, so the rules can be tested
exactly. Masks are boolean tensors; a mask only ever goes from True (kept) to False (pruned).

The counting rule (Frankle & Carbin, ICLR 2019, "prune p% of the remaining weights")
----------------------------------------------------------------------------------
A level with rate ``p`` removes exactly ``floor(p * R)`` of the ``R`` weights that remain in a pool
(a layer for layerwise scope, the union of the non-excluded layers for global scope). ``p * R`` is
evaluated exactly from the shortest decimal form of ``p`` (``0.29 * 100 = 29``, not
``28.999...``). Since ``floor(p R) <= p R < R`` for ``p < 1``, a layerwise level never empties a
layer; ``p = 1`` (or a global level that empties a layer) raises ``ValueError``. After ``L`` levels
a pool of ``n`` weights keeps ``K_L`` with ``(1-p)^L n <= K_L < (1-p)^L n + 1/p``.
(open_lth removes ``ceil(p R) + 1``, an off-by-one that crashes near level 25.)

The weights removed are those of smallest ``|w|`` (absolute value: testing ``w < eps`` without
``abs`` would freeze every negative weight). Ties at the threshold are broken deterministically: the
entry that comes first (layer order, then row-major flat index) is pruned first. Hence every pruned
weight has ``|w| <= t <=`` every kept weight's ``|w|`` for the threshold ``t``.

One-shot pruning to a density ``d`` keeps ``ceil(d * n)`` weights of each pool of ``n`` (exact
decimal arithmetic as above).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import torch

from empirical.vocabulary import SCOPES

Masks = dict[str, torch.Tensor]
OUTPUT_ALIAS = "output"


def _exact(value: float) -> Fraction:
    """The rational number written by the shortest decimal form of ``value``."""
    return Fraction(repr(float(value)))


def _check_rate(rate: float, what: str = "prune rate") -> None:
    if not (isinstance(rate, int | float) and math.isfinite(rate) and 0 < rate <= 1):
        raise ValueError(f"{what} must lie in (0, 1], got {rate!r}")


def count_to_prune(remaining: int, rate: float) -> int:
    """Number of weights one level removes from a pool: ``floor(rate * remaining)``.

    Parameters
    ----------
    remaining : int
        Weights still kept in the pool, ``R >= 0``.
    rate : float
        Fraction of the remaining weights to prune, in (0, 1].

    Returns
    -------
    int
        ``floor(p R)`` with ``p R`` computed exactly from the decimal form of ``p``.
    """
    _check_rate(rate)
    if remaining < 0:
        raise ValueError(f"remaining must be >= 0, got {remaining}")
    return math.floor(_exact(rate) * remaining)


def count_to_keep(total: int, density: float) -> int:
    """Number of weights a one-shot prune to ``density`` keeps in a pool: ``ceil(density * n)``.

    Parameters
    ----------
    total : int
        Size ``n`` of the pool.
    density : float
        Target fraction kept, in (0, 1].

    Returns
    -------
    int
        ``ceil(d n)`` computed exactly from the decimal form of ``d``.
    """
    _check_rate(density, "density")
    return math.ceil(_exact(density) * total)


def resolve_names(names: Sequence[str], requested: Collection[str]) -> list[str]:
    """Map requested layer names to layer names; ``"output"`` means the last prunable layer.

    Parameters
    ----------
    names : sequence of str
        Prunable layer names in model order.
    requested : collection of str
        Names (or the alias ``"output"``) to resolve.

    Returns
    -------
    list of str
        The resolved names, in model order, without duplicates.
    """
    known = set(names)
    wanted = set()
    for name in requested:
        if name == OUTPUT_ALIAS and names:
            wanted.add(names[-1])
        elif name in known:
            wanted.add(name)
        else:
            raise ValueError(
                f"unknown layer {name!r}; prunable layers are {', '.join(names)} (or 'output')"
            )
    return [n for n in names if n in wanted]


def layer_kinds(weights: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """Classify prunable layers as ``"conv"`` (weight ndim > 2), ``"fc"`` or ``"output"`` (last).

    Parameters
    ----------
    weights : mapping
        Prunable weights in model order.

    Returns
    -------
    dict
        ``name -> kind``; the per-kind rates of the LTH paper (conv / fc / output) key on it.
    """
    names = list(weights)
    return {
        n: OUTPUT_ALIAS if i == len(names) - 1 else ("conv" if w.dim() > 2 else "fc")
        for i, (n, w) in enumerate(weights.items())
    }


def layer_rates(
    weights: Mapping[str, torch.Tensor],
    rate: float,
    conv_rate: float | None = None,
    output_rate: float | None = None,
) -> dict[str, float]:
    """Per-layer rates by layer kind, as in Frankle & Carbin (2019), Figure 2.

    Parameters
    ----------
    weights : mapping
        Prunable weights in model order.
    rate : float
        Rate of fully connected layers (and of every layer the other two leave unset).
    conv_rate, output_rate : float, optional
        Rates of convolutional layers and of the output layer; default ``rate``.

    Returns
    -------
    dict
        ``name -> rate``. LeNet: ``rate=0.2, output_rate=0.1``; Conv-2/4: ``conv_rate=0.1``,
        Conv-6: ``conv_rate=0.15`` with ``rate=0.2, output_rate=0.1``.
    """
    by_kind = {
        "fc": rate,
        "conv": rate if conv_rate is None else conv_rate,
        OUTPUT_ALIAS: rate if output_rate is None else output_rate,
    }
    for kind, value in by_kind.items():
        _check_rate(value, f"{kind} prune rate")
    return {n: by_kind[k] for n, k in layer_kinds(weights).items()}


def _check_pair(weights: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor]) -> None:
    if list(weights) != list(masks):
        raise ValueError(
            f"weights and masks name different layers: {list(weights)} vs {list(masks)}"
        )
    for name, w in weights.items():
        m = masks[name]
        if m.shape != w.shape:
            raise ValueError(f"mask of {name} has shape {tuple(m.shape)}, weight {tuple(w.shape)}")
        if not torch.isfinite(w[m.bool()]).all():
            raise ValueError(f"weights of {name} contain NaN or inf")


def _check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")


def _smallest(scores: torch.Tensor, n: int) -> torch.Tensor:
    """Bool vector marking the ``n`` smallest entries of a 1-D ``scores``; ties by lower index.

    Linear time: ``kthvalue`` finds the threshold ``t``; all entries below ``t`` are taken, then the
    first entries equal to ``t`` (in index order) fill up to ``n``.
    """
    chosen = torch.zeros_like(scores, dtype=torch.bool)
    if n == 0:
        return chosen
    threshold = torch.kthvalue(scores, n).values
    chosen |= scores < threshold
    missing = n - int(chosen.sum())
    ties = torch.nonzero(scores == threshold).squeeze(1)[:missing]
    chosen[ties] = True
    return chosen


def _prune_pool(
    scores: Sequence[torch.Tensor], masks: Sequence[torch.Tensor], n_prune: int
) -> list[torch.Tensor]:
    """Remove the ``n_prune`` kept entries of smallest score from a pool of layers.

    Scores are compared in float64 (exact for float32 weights, so the order is theirs).
    """
    flat = torch.cat(
        [
            s.detach().double().masked_fill(~m.bool(), math.inf).reshape(-1)
            for s, m in zip(scores, masks, strict=True)
        ]
    )
    pruned = _smallest(flat, n_prune)
    out, start = [], 0
    for m in masks:
        n = m.numel()
        out.append(m.bool() & ~pruned[start : start + n].reshape(m.shape))
        start += n
    return out


def _check_nonempty(masks: Mapping[str, torch.Tensor], names: Collection[str]) -> None:
    for name in names:
        if not masks[name].any():
            raise ValueError(
                f"pruning would leave 0 weights in layer {name}; lower the rate, the number of "
                f"levels or the target density"
            )


def _pool(weights: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor], scope: str,
          exclude: Collection[str]) -> tuple[list[str], list[str]]:
    """Checked arguments of a pruning call: every layer name, and the names not in ``exclude``."""
    _check_scope(scope)
    _check_pair(weights, masks)
    names = list(weights)
    skipped = set(resolve_names(names, exclude))
    pool = [n for n in names if n not in skipped]
    if not pool:
        raise ValueError("every prunable layer is excluded; nothing to prune")
    return names, pool


def magnitude_prune(
    weights: Mapping[str, torch.Tensor],
    masks: Mapping[str, torch.Tensor],
    rates: float | Mapping[str, float],
    scope: str = "layerwise",
    exclude: Collection[str] = (),
) -> Masks:
    """One IMP level: remove ``floor(p R)`` of the remaining weights of smallest magnitude.

    Implements the pruning step of iterative magnitude pruning (Frankle & Carbin, ICLR 2019,
    Algorithm 1; global variant: Frankle et al. 2020). See the module docstring for the counting
    and tie-breaking rule.

    Parameters
    ----------
    weights : mapping
        Trained prunable weights in model order.
    masks : mapping
        Current masks (bool or 0/1), same names and shapes.
    rates : float or mapping
        Fraction of the remaining weights to prune. Layerwise: one rate or a rate per layer (see
        :func:`layer_rates`); global: one rate for the pool of non-excluded layers.
    scope : {"layerwise", "global"}
        Per-layer pools, or one pool over all non-excluded layers.
    exclude : collection of str
        Layers (or ``"output"``) never pruned; their masks are returned unchanged.

    Returns
    -------
    dict
        New boolean masks; each is a subset of the old one.
    """
    names, pool = _pool(weights, masks, scope, exclude)
    new = {n: masks[n].bool().clone() for n in names}
    if scope == "global":
        if isinstance(rates, Mapping):
            raise ValueError("global pruning takes one rate, not a rate per layer")
        remaining = sum(int(new[n].sum()) for n in pool)
        pruned = _prune_pool(
            [weights[n].abs() for n in pool], [new[n] for n in pool],
            count_to_prune(remaining, rates),
        )
        new.update(zip(pool, pruned, strict=True))
    else:
        per_layer = rates if isinstance(rates, Mapping) else dict.fromkeys(names, rates)
        missing = [n for n in pool if n not in per_layer]
        if missing:
            raise ValueError(f"no prune rate given for layers {', '.join(missing)}")
        for n in pool:
            k = count_to_prune(int(new[n].sum()), per_layer[n])
            new[n] = _prune_pool([weights[n].abs()], [new[n]], k)[0]
    _check_nonempty(new, pool)
    return new


def prune_to_density(
    weights: Mapping[str, torch.Tensor],
    masks: Mapping[str, torch.Tensor],
    density: float,
    scope: str = "layerwise",
    exclude: Collection[str] = (),
) -> Masks:
    """One-shot magnitude pruning to a target density (Frankle & Carbin 2019, one-shot variant).

    :func:`prune_scores_to_density` with the scores ``|w|``.

    Parameters
    ----------
    weights, masks : mapping
        Trained prunable weights and current masks, in model order.
    density : float
        Target kept fraction in (0, 1] of each non-excluded layer (layerwise) or of the pool of
        non-excluded layers (global): ``ceil(d n)`` weights stay.
    scope : {"layerwise", "global"}
        Pool per layer or over all non-excluded layers.
    exclude : collection of str
        Layers (or ``"output"``) left as they are.

    Returns
    -------
    dict
        New boolean masks.
    """
    return prune_scores_to_density({n: w.abs() for n, w in weights.items()}, masks, density,
                                   scope, exclude)


def prune_scores_to_density(
    scores: Mapping[str, torch.Tensor],
    masks: Mapping[str, torch.Tensor],
    density: float | Mapping[str, float],
    scope: str = "layerwise",
    exclude: Collection[str] = (),
    allow_empty: bool = False,
) -> Masks:
    """Keep the highest-scoring weights: ``ceil(d n)`` of each pool of ``n`` weights stay.

    The selection of every pruning criterion (magnitude, SNIP, GraSP, SynFlow, random; see
    :mod:`empirical.algorithms.criteria`): among the weights the current masks keep, those of
    smallest score are removed, ties broken as in the module docstring (the entry that comes first
    is removed first), so a mask only ever loses weights.

    Parameters
    ----------
    scores : mapping
        ``name -> score`` (higher is kept), same names and shapes as ``masks``, any sign.
    masks : mapping
        Current masks (bool or 0/1).
    density : float or mapping
        Target kept fraction in (0, 1] of each non-excluded layer (layerwise; a mapping gives each
        layer its own, e.g. ERK densities) or of the pool of non-excluded layers (global).
    scope : {"layerwise", "global"}
        Pool per layer or over all non-excluded layers.
    exclude : collection of str
        Layers (or ``"output"``) left as they are.
    allow_empty : bool
        Allow a global pool to empty a layer (layer collapse, which pruning at initialisation
        reports instead of refusing); otherwise that raises ``ValueError``.

    Returns
    -------
    dict
        New boolean masks.
    """
    names, pool = _pool(scores, masks, scope, exclude)
    if isinstance(density, Mapping) and scope == "global":
        raise ValueError("global pruning takes one density, not a density per layer")
    per_layer = density if isinstance(density, Mapping) else dict.fromkeys(pool, density)
    missing = [n for n in pool if n not in per_layer]
    if missing:
        raise ValueError(f"no density given for layers {', '.join(missing)}")
    groups = [pool] if scope == "global" else [[n] for n in pool]
    new = {n: masks[n].bool().clone() for n in names}
    for group in groups:
        total = sum(new[n].numel() for n in group)
        remaining = sum(int(new[n].sum()) for n in group)
        keep = count_to_keep(total, per_layer[group[0]])
        if keep > remaining:
            raise ValueError(
                f"target density {per_layer[group[0]]} keeps {keep} weights of "
                f"{', '.join(group)} but only {remaining} remain"
            )
        pruned = _prune_pool([scores[n] for n in group], [new[n] for n in group], remaining - keep)
        new.update(zip(group, pruned, strict=True))
    if not allow_empty:
        _check_nonempty(new, pool)
    return new


def keep_highest(
    scores: Mapping[str, torch.Tensor],
    masks: Mapping[str, torch.Tensor],
    counts: Mapping[str, int],
) -> Masks:
    """Keep exactly ``counts[name]`` of each listed layer's kept weights: those of highest score.

    Ties as in the module docstring; layers not in ``counts`` keep their masks.

    Parameters
    ----------
    scores, masks : mapping
        Scores (higher is kept) and current masks, same names and shapes, in model order.
    counts : mapping
        ``name -> number of weights to keep``, at most the layer's kept count.

    Returns
    -------
    dict
        New boolean masks.
    """
    _check_pair(scores, masks)
    new = {n: masks[n].bool().clone() for n in masks}
    for name, keep in counts.items():
        remaining = int(new[name].sum())
        if not 0 <= keep <= remaining:
            raise ValueError(f"cannot keep {keep} weights of {name}: {remaining} remain")
        new[name] = _prune_pool([scores[name]], [new[name]], remaining - keep)[0]
    return new


def random_prune(
    reference: Mapping[str, torch.Tensor],
    seed: int,
    scope: str = "layerwise",
    exclude: Collection[str] = (),
) -> Masks:
    """Random pruning control: uniformly random masks with the reference's kept counts.

    Frankle & Carbin (2019), Section 2 "random pruning": layerwise scope shuffles each layer's mask
    (same count per layer); global scope draws the pool's total count uniformly over the
    non-excluded layers. Excluded layers keep the reference mask.

    Parameters
    ----------
    reference : mapping
        Masks whose counts are matched (e.g. the IMP masks of the same level).
    seed : int
        Seed of the ``torch.Generator``; the same seed gives the same masks.
    scope : {"layerwise", "global"}
        Which counts are kept.
    exclude : collection of str
        Layers copied from the reference.

    Returns
    -------
    dict
        New boolean masks on the reference's devices.
    """
    _check_scope(scope)
    names = list(reference)
    skipped = set(resolve_names(names, exclude))
    pool = [n for n in names if n not in skipped]
    gen = torch.Generator().manual_seed(int(seed))
    new = {n: reference[n].bool().clone() for n in names}
    groups = [pool] if scope == "global" and pool else [[n] for n in pool]
    for group in groups:
        sizes = [reference[n].numel() for n in group]
        kept = sum(int(reference[n].bool().sum()) for n in group)
        flat = torch.zeros(sum(sizes), dtype=torch.bool)
        flat[torch.randperm(sum(sizes), generator=gen)[:kept]] = True
        for n, part in zip(group, torch.split(flat, sizes), strict=True):
            new[n] = part.reshape(reference[n].shape).to(reference[n].device)
    _check_nonempty(new, pool)
    return new


def linear_prune(
    weights: Mapping[str, torch.Tensor],
    masks: Mapping[str, torch.Tensor],
    level: int,
    rounds: int,
    exclude: Collection[str] = (),
) -> Masks:
    """Level ``L`` of a linear sparsity schedule: each layer of ``n`` weights keeps
    ``n - floor(L n / (R - 1))``, those of largest ``|w|`` among the kept ones.

    The sparsity of round ``L`` is ``np.linspace(0, 1, R)[L] = L / (R - 1)`` and a layer drops
    ``int(sparsity * n)`` entries of smallest magnitude (Greydanus & Kobak 2020, MNIST-1D
    lottery-ticket notebook, ``get_mask`` with ``R = 100``), computed here in exact integer
    arithmetic. Ties as in the module docstring.

    Parameters
    ----------
    weights, masks : mapping
        Trained prunable weights and current masks, in model order.
    level : int
        The level ``L``, ``0 <= L < R - 1``.
    rounds : int
        ``R >= 2``.
    exclude : collection of str
        Layers (or ``"output"``) left as they are.

    Returns
    -------
    dict
        New boolean masks.
    """
    if rounds < 2 or not 0 <= level < rounds - 1:
        raise ValueError(f"linear schedule level must lie in [0, {rounds - 2}], got {level}")
    _, pool = _pool(weights, masks, "layerwise", exclude)
    counts = {n: weights[n].numel() - level * weights[n].numel() // (rounds - 1) for n in pool}
    return keep_highest({n: w.abs() for n, w in weights.items()}, masks, counts)


def all_ones(weights: Mapping[str, torch.Tensor]) -> Masks:
    """Dense masks (level 0): every weight kept."""
    return {n: torch.ones_like(w, dtype=torch.bool) for n, w in weights.items()}


@dataclass(frozen=True)
class Density:
    """Kept counts of a set of masks: per layer and in total."""

    kept: dict[str, int]
    total: dict[str, int]

    @property
    def n_kept(self) -> int:
        """Kept weights over all layers."""
        return sum(self.kept.values())

    @property
    def n_total(self) -> int:
        """All prunable weights."""
        return sum(self.total.values())

    @property
    def overall(self) -> float:
        """Overall density ``n_kept / n_total``."""
        return self.n_kept / self.n_total if self.n_total else 1.0

    def layer(self, name: str) -> float:
        """Density of one layer."""
        return self.kept[name] / self.total[name]


def density(masks: Mapping[str, torch.Tensor]) -> Density:
    """Density bookkeeping: kept and total counts per layer.

    Parameters
    ----------
    masks : mapping
        Masks (bool or 0/1).

    Returns
    -------
    Density
        ``.overall``, ``.layer(name)``, ``.n_kept``, ``.n_total``.
    """
    return Density(
        kept={n: int(m.bool().sum()) for n, m in masks.items()},
        total={n: m.numel() for n, m in masks.items()},
    )


def expected_density(levels: int, rates: Sequence[float] | float, sizes: Sequence[int]) -> float:
    """Density after ``levels`` IMP levels under the counting rule, computed exactly.

    Parameters
    ----------
    levels : int
        Number of pruning levels ``L >= 0``.
    rates : float or sequence of float
        Rate of each layer (layerwise scope).
    sizes : sequence of int
        Number of weights per layer.

    Returns
    -------
    float
        ``sum_l K_L(l) / sum_l n_l`` with ``K_{i+1} = K_i - floor(p K_i)``; close to ``(1-p)^L``.
    """
    if levels < 0:
        raise ValueError(f"levels must be >= 0, got {levels}")
    per_layer = [rates] * len(sizes) if isinstance(rates, int | float) else list(rates)
    kept = list(sizes)
    for _ in range(levels):
        kept = [k - count_to_prune(k, p) for k, p in zip(kept, per_layer, strict=True)]
    return sum(kept) / sum(sizes)
