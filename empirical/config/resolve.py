"""Where each hyperparameter's value comes from: default < command default < preset < flag.

One function, :func:`resolve`, builds the hyperparameter sections of a run from four layers and
records for every field which layer set it (``tickets train ... --show-config`` prints that):

1. ``default``: the dataclass field's default;
2. ``command``: what the command puts in its place (``train biprop`` keeps k = 0.5, its mode);
3. ``preset``: the named configuration (:mod:`empirical.config.presets`);
4. ``flag``: a value given explicitly (a command-line flag, a Python caller's override).

A preset value that belongs to another of its own values is dropped when an explicit value
replaces that other one (:data:`TIES`): the hidden widths of a preset's MLP do not follow
``--model conv4``, nor its per-layer prune rates ``--scope global``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Sections = Mapping[str, Mapping[str, Any]]
SETTERS = ("default", "command", "preset", "flag")
TIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("model", "name"): ("widths",),
    ("pruning", "scope"): ("conv_rate", "output_rate"),
}
"""``(section, field) -> fields``: preset values that hold only with the preset's own ``field``."""


@dataclass(frozen=True)
class Resolved:
    """The sections of a run and, for each ``section.field``, the layer that set it.

    Attributes
    ----------
    sections
        ``{section: dataclass instance}``.
    set_by
        ``{"section.field": one of SETTERS}`` for every field of every section.
    """

    sections: dict[str, Any]
    set_by: dict[str, str]

    def rows(self) -> list[dict[str, Any]]:
        """One row per field: ``field`` (``section.field``), ``value``, ``set_by``."""
        return [{"field": key, "value": getattr(self.sections[key.split(".")[0]],
                                                  key.split(".", 1)[1]), "set_by": setter}
                for key, setter in self.set_by.items()]


def _preset_section(cls: type, section: str, preset: Mapping[str, Any],
                    given: Mapping[str, Any]) -> dict[str, Any]:
    """``preset``'s values of ``section`` without those tied to a field ``given`` replaces."""
    values = dict(preset)
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    for (tied_section, key), tied in TIES.items():
        if tied_section == section and key in given and \
                given[key] != values.get(key, defaults.get(key)):
            for name in tied:
                if name not in given:
                    values.pop(name, None)
    return values


def resolve(classes: Mapping[str, type], preset: Sections | None = None,
            given: Sections | None = None, command: Sections | None = None) -> Resolved:
    """Build each section ``classes[name]`` from default < ``command`` < ``preset`` < ``given``.

    Parameters
    ----------
    classes
        ``{section: dataclass}`` (``{"dataset": DatasetHparams, ...}``).
    preset
        ``{section: {field: value}}`` of the preset (:attr:`Preset.values`), if any.
    given
        ``{section: {field: value}}`` given explicitly.
    command
        ``{section: {field: value}}`` the command puts in place of the defaults.

    Returns
    -------
    Resolved
        The instances (their ``__post_init__`` raises ``InputError`` for bad values) and who set
        each value.
    """
    sections, set_by = {}, {}
    for section, cls in classes.items():
        explicit = {k: tuple(v) if isinstance(v, list) else v
                    for k, v in (given or {}).get(section, {}).items()}
        layers = {"command": dict((command or {}).get(section, {})),
                  "preset": _preset_section(cls, section, (preset or {}).get(section, {}),
                                            explicit),
                  "flag": explicit}
        values: dict[str, Any] = {}
        for setter, layer in layers.items():
            values.update(layer)
            set_by.update({f"{section}.{k}": setter for k in layer})
        for f in dataclasses.fields(cls):
            set_by.setdefault(f"{section}.{f.name}", "default")
        sections[section] = cls(**values)
        order = [f"{section}.{f.name}" for f in dataclasses.fields(cls)]
        set_by.update({key: set_by.pop(key) for key in order})
    return Resolved(sections, set_by)
