"""The construction registry: every construction declares its facts beside its code.

A construction module ends with one call of :func:`register` (in the style of timm's
``@register_model``): its registry name, the ``construct`` function, the family whose protocol
it follows, the theorem it implements, our explicit-constant bound (a :class:`theory.bounds.Bound`,
which registering adds to :data:`theory.bounds.BOUNDS`), the paper's bound, its cost
class and, for the gadget family, its block sizes.  The command line, the scales, the studies, the
bounds table and the notebooks read these records and list no construction themselves.

The modules are imported the first time the registry is read, and this module imports nothing
heavy, so ``tickets`` starts without loading numpy, scipy or sympy for them.  :data:`MODULES`
names them, in the order of every table, with the names each registers (so that the command line
lists the names without importing them): adding a construction is one module plus its module and
construction names there.

Families (the protocol a construction follows, and so which study runs it):

- ``gadget``: a fully connected ReLU target, every target layer two source layers, block
  ``n_i`` hidden units per input coordinate (:mod:`theory.constructions.blocks`);
  ``construct(target, eps, delta, rng, block_size=None, rescale=False)`` returns a
  :class:`~theory.constructions.result.ConstructionResult`; it declares ``block_sizes_bound``.
- ``depth``: the same protocol with another source shape (more or fewer layers).
- ``conv``: a CNN target; ``construct`` also takes ``input_shape``; ``options`` holds the
  ``kernel`` and ``input_shape`` the study draws targets with.
- ``sign``: sign activations; ``construct(target, margin, delta, rng, ...)`` returns a
  :class:`~theory.constructions.sign_activations.SignConstructionResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from theory.bounds import Bound

MODULES = {"pensia": ("pensia",), "malach": ("malach",), "mpt_binary": ("mpt-binary",),
           "binary_depth": ("binary-depth",), "orseau": ("orseau",),
           "depth_plus_one": ("depth-plus-one",), "fixed_size": ("fixed-size",),
           "sparse_source": ("sparse-source",), "conv_subset_sum": ("conv-1d", "conv-2d"),
           "sign_activations": ("sign",)}
"""The construction modules of :mod:`theory.constructions`, in table order, each with the names it
registers (:func:`register` refuses another): :class:`Names` lists them without importing the
modules, so ``tickets verify construct --help`` loads neither scipy nor sympy."""
FAMILIES = ("gadget", "depth", "conv", "sign")
"""The protocols a construction can follow (module docstring)."""
FULLY_CONNECTED = ("gadget", "depth")
"""The families whose ``construct`` takes a fully connected ReLU target and ``eps``."""


@dataclass(frozen=True)
class Construction:
    """One registered construction: its code and the facts every consumer reads.

    Parameters
    ----------
    name : str
        Registry name (the ``--method`` of ``tickets verify``).
    construct : callable
        The construction (signature by family, module docstring).
    family : str
        One of :data:`FAMILIES`.
    theorem : str
        The paper(s) whose theorem the construction follows, as cited in tables.
    bound : Bound, optional
        Our explicit-constant bound for it (square ``d x d`` targets), registered in
        :data:`theory.bounds.BOUNDS`.
    theorem_bound : Bound, optional
        The paper's own bound (its order, with the unknown constant ``C`` where it has one),
        also registered in :data:`theory.bounds.BOUNDS`.
    slow : bool
        Cost class: its error falls only polynomially in the width (or it needs much wider
        sources), so the cpu and paper scales sweep it to larger block sizes.
    success_blocks : tuple of int
        Block sizes at which a smoke-scale success-rate sweep sees it succeed.
    default_check : bool
        Whether ``tickets verify`` (the default table) runs it (it must take seconds).
    block_sizes_bound : callable, optional
        ``block_sizes_bound(target_widths, eps, delta) -> list of int``: our bound's block sizes
        (gadget family).
    source_widths : callable, optional
        ``source_widths(target_widths, eps, delta, block_size=None, **overrides)``: the widths
        of the source it will draw, known before drawing (memory checks; trained tickets).
        The gadget family gets it from ``block_sizes_bound``.
    options : mapping
        Family-specific facts (conv: ``kernel`` and ``input_shape``).
    """

    name: str
    construct: Callable[..., Any]
    family: str
    theorem: str
    bound: Bound | None = None
    theorem_bound: Bound | None = None
    slow: bool = False
    success_blocks: tuple[int, ...] = (4, 16)
    default_check: bool = True
    block_sizes_bound: Callable[[Sequence[int], float, float], list[int]] | None = None
    source_widths: Callable[..., list[int]] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def module(self) -> str:
        """Dotted name of the module that defines ``construct``."""
        return self.construct.__module__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the construction (``construct(*args, **kwargs)``)."""
        return self.construct(*args, **kwargs)


_REGISTRY: dict[str, Construction] = {}


def gadget_source_widths(bound: Callable[[Sequence[int], float, float], list[int]]
                         ) -> Callable[..., list[int]]:
    """``source_widths`` of a gadget construction with block-size bound ``bound``."""
    from theory.constructions.blocks import gadget_source_widths as widths_of_blocks
    from theory.constructions.blocks import resolve_block_sizes

    def source_widths(target_widths: Sequence[int], eps: float, delta: float,
                      block_size: int | Sequence[int] | None = None) -> list[int]:
        blocks = resolve_block_sizes(block_size, bound(list(target_widths), eps, delta))
        return widths_of_blocks(target_widths, blocks)

    return source_widths


def register(construction: Construction) -> Construction:
    """Add ``construction`` to the registry (and its bound to :data:`theory.bounds.BOUNDS`).

    Registering a name again from the same module replaces the record (a reloaded module);
    from another module it is an error.

    Returns
    -------
    Construction
        The record, with ``source_widths`` filled in for the gadget family.
    """
    if construction.family not in FAMILIES:
        raise ValueError(f"construction {construction.name!r}: family must be one of "
                         f"{', '.join(FAMILIES)}, got {construction.family!r}")
    if construction.family == "gadget":
        if construction.block_sizes_bound is None:
            raise ValueError(f"gadget construction {construction.name!r} needs block_sizes_bound")
        if construction.source_widths is None:
            construction = replace(construction, source_widths=gadget_source_widths(
                construction.block_sizes_bound))
    known = _REGISTRY.get(construction.name)
    if known is not None and known.module != construction.module:
        raise ValueError(f"construction {construction.name!r} is already registered by "
                         f"{known.module}")
    package, _, short = construction.module.rpartition(".")
    if package == __package__ and construction.name not in MODULES.get(short, ()):
        raise ValueError(f"construction {construction.name!r} of {construction.module} is not "
                         "declared in theory.constructions.registry.MODULES")
    from theory.bounds import register_bound

    for bound in (construction.bound, construction.theorem_bound):
        if bound is not None:
            register_bound(bound)
    _REGISTRY[construction.name] = construction
    return construction


def _order(construction: Construction) -> int:
    """Position in :data:`MODULES` (registrations from elsewhere come last, in their order)."""
    package, _, short = construction.module.rpartition(".")
    return list(MODULES).index(short) if package == __package__ and short in MODULES \
        else len(MODULES)


def _load() -> None:
    """Import every module of :data:`MODULES` (each registers itself)."""
    for module in MODULES:
        import_module(f"theory.constructions.{module}")


def constructions(*families: str) -> tuple[Construction, ...]:
    """Every registered construction (of ``families`` if given), in table order."""
    _load()
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown family {unknown[0]!r}; choose one of {', '.join(FAMILIES)}")
    chosen = [c for c in _REGISTRY.values() if not families or c.family in families]
    return tuple(sorted(chosen, key=_order))


def get_method(name: str) -> Construction:
    """The registered construction ``name`` (callable like its ``construct``).

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    """
    _load()
    if name not in _REGISTRY:
        raise ValueError(f"unknown construction {name!r}; choose one of "
                         f"{', '.join(c.name for c in constructions())}")
    return _REGISTRY[name]


class Names(Sequence[str]):
    """The names of the registered constructions that satisfy ``keep``, read when first used.

    A sequence (``in``, iteration, ``len``, indexing) that does not import the construction
    modules until it is used: ``tickets`` hands it to argparse as ``choices`` at start-up.
    Without ``keep`` it never imports them: the names declared in :data:`MODULES`, then those
    registered from elsewhere so far, in table order.

    Parameters
    ----------
    keep : callable, optional
        ``keep(construction) -> bool`` (reading it imports every module).
    """

    def __init__(self, keep: Callable[[Construction], bool] | None = None) -> None:
        self._keep = keep

    def _names(self) -> tuple[str, ...]:
        if self._keep is not None:
            return tuple(c.name for c in constructions() if self._keep(c))
        declared = tuple(name for names in MODULES.values() for name in names)
        others = sorted((c for c in _REGISTRY.values() if c.name not in declared), key=_order)
        return declared + tuple(c.name for c in others)

    def __getitem__(self, index: Any) -> Any:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __repr__(self) -> str:
        return f"Names({list(self)!r})"


def in_families(*families: str) -> Callable[[Construction], bool]:
    """``keep`` for :class:`Names`: the construction belongs to one of ``families``."""
    return lambda c: c.family in families


def our_bounds() -> dict[str, Bound]:
    """Our explicit-constant bound of every construction that declares one, by construction."""
    return {c.name: c.bound for c in constructions() if c.bound is not None}


__all__ = ["FAMILIES", "FULLY_CONNECTED", "MODULES", "Construction", "Names", "constructions",
           "get_method", "in_families", "our_bounds", "register"]
