"""The preset type and the helpers that write presets: sourced values, merged sections.

Published presets spell out every value with its source (:func:`published`); the names of the
sources used in the source strings are the constants below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Sections = Mapping[str, Mapping[str, Any]]

MPT = "Diffenderfer & Kailkhura (ICLR 2021)"
EP = "Ramanujan et al. (CVPR 2020)"
LTH = "Frankle & Carbin (ICLR 2019)"
LMC = "Frankle et al. (ICML 2020, linear mode connectivity)"
M1D = "Greydanus & Kobak (MNIST-1D, 2020), released notebook"


@dataclass(frozen=True)
class Preset:
    """A named configuration: algorithm, description, per-section values and their sources.

    Attributes
    ----------
    algorithm
        ``biprop``, ``edge-popup``, ``dense`` or ``lth``.
    description
        One line for ``--help``.
    values
        ``{section: {field: value}}``.
    sources
        ``{"section.field": source}`` for every value of a published preset.
    published
        Named after a paper: every value carries a source (checked by the tests).
    reproduces
        The published number this preset targets, with its table or figure.
    differs
        What still differs from the run behind that number, and why.
    """

    algorithm: str
    description: str
    values: Sections = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    published: bool = False
    reproduces: str = ""
    differs: str = ""

    def section(self, name: str) -> dict[str, Any]:
        """The preset's values for section ``name`` (empty if none)."""
        return dict(self.values.get(name, {}))


Sourced = Mapping[str, Mapping[str, tuple[Any, str]]]


def published(algorithm: str, description: str, spec: Sourced, reproduces: str,
              differs: str) -> Preset:
    """A published preset from ``{section: {field: (value, source)}}``."""
    values = {sec: {k: v for k, (v, _) in fields.items()} for sec, fields in spec.items()}
    sources = {f"{sec}.{k}": src for sec, fields in spec.items() for k, (_, src) in fields.items()}
    return Preset(algorithm, description, values, sources, True, reproduces, differs)


def merge(base: Mapping[str, Mapping[str, Any]], **sections: Mapping[str, Any]
          ) -> dict[str, dict[str, Any]]:
    """``base`` with per-section entries added or replaced (values, or ``(value, source)``)."""
    out = {k: dict(v) for k, v in base.items()}
    for name, values in sections.items():
        out.setdefault(name, {}).update(values)
    return out
