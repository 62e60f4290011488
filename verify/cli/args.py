"""Command-line flags generated from hyperparameter dataclasses (one source of truth).

Every field of a section dataclass becomes a flag (``--<name-with-dashes>`` or the field's
``metadata["flag"]``) with the field's help string and default; booleans get ``--x/--no-x``;
``tuple[int, ...]`` fields take a comma-separated list. Flags default to "not given" so that the
final value is resolved in the order: dataclass default < the subcommand's default (e.g. ``keep``
0.5 of ``train biprop``) < preset < explicit flag (:func:`resolve_args`).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from verify.cli.common import (
    emit,
    existing_dir,
    fraction,
    list_of,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    seed,
    unit_interval,
)

_PARSERS = {"int": int, "int | None": int, "float": float, "float | None": float, "str": str,
            "str | None": str, "tuple[int, ...] | None": list_of(positive_int),
            "tuple[int, ...]": list_of(positive_int)}
FIELD_TYPES = {
    "seed": seed, "split_seed": seed, "data_seed": seed, "batch_size": positive_int,
    "val_size": nonnegative_int,
    "epochs": positive_int, "iterations": nonnegative_int, "eval_every": nonnegative_int,
    "warmup_steps": nonnegative_int, "anneal_epochs": nonnegative_int,
    "num_workers": nonnegative_int, "lr": positive_float, "momentum": unit_interval,
    "weight_decay": nonnegative_float, "label_smoothing": unit_interval,
    "width_mult": positive_float, "keep": fraction, "rate": fraction, "data_dir": existing_dir,
}
"""Flag types by field name: a bad value is refused by argparse, naming the flag. The dataclasses
check again in ``__post_init__`` (for callers of the Python API)."""


def flag_name(f: dataclasses.Field) -> str:
    """The flag of field ``f``: ``metadata["flag"]`` or ``--`` + the name with dashes."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def flag_of(owner: type | None, field: str) -> str:
    """The flag that sets field ``field`` of dataclass ``owner`` (:func:`flag_name`), or
    ``--`` + the name with dashes for a field the command line does not generate."""
    fields = {f.name: f for f in dataclasses.fields(owner)} if dataclasses.is_dataclass(owner) \
        else {}
    return flag_name(fields[field]) if field in fields else "--" + field.replace("_", "-")


def dest_name(section: str, f: dataclasses.Field) -> str:
    """The ``argparse`` destination of field ``f`` of ``section``: ``section.field``."""
    return f"{section}.{f.name}"


def _default_text(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def add_dataclass_flags(parser: argparse.ArgumentParser, section: str, cls: type,
                        exclude: Iterable[str] = (), title: str | None = None,
                        defaults: Mapping[str, Any] | None = None) -> None:
    """Add one flag per field of dataclass ``cls`` to ``parser``.

    Parameters
    ----------
    parser
        The parser (a group named ``title`` is made in it).
    section
        The name of the section (``dataset``, ``model``, ...): destinations are ``section.field``.
    cls
        A dataclass whose fields carry ``metadata["help"]``.
    exclude
        Field names that get no flag (set by the subcommand itself).
    title
        Title of the argument group in ``--help``.
    defaults
        Defaults the subcommand puts in place of the dataclass's (shown in ``--help``; the
        subcommand passes the same mapping to :func:`build_section`).
    """
    group = parser.add_argument_group(title or f"{section} options")
    skip = set(exclude)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        default = (defaults or {}).get(f.name, default)
        help_text = f.metadata["help"]
        if "(default:" not in help_text:  # a help that explains its default keeps it alone
            help_text += f" (default: {_default_text(default)})"
        common = {"dest": dest_name(section, f), "default": argparse.SUPPRESS, "help": help_text}
        if f.type == "bool":
            group.add_argument(flag_name(f), action=argparse.BooleanOptionalAction, **common)
            continue
        if f.type not in _PARSERS:
            raise TypeError(f"no flag parser for field {cls.__name__}.{f.name}: {f.type}")
        choices = f.metadata.get("choices")
        group.add_argument(flag_name(f), type=FIELD_TYPES.get(f.name, _PARSERS[f.type]),
                           choices=choices() if callable(choices) else choices,
                           metavar=f.name.upper(), **common)


def given_values(args: argparse.Namespace, section: str) -> dict[str, Any]:
    """The fields of ``section`` that were given explicitly on the command line."""
    prefix = f"{section}."
    out = {}
    for key, value in vars(args).items():
        if key.startswith(prefix):
            out[key[len(prefix):]] = tuple(value) if isinstance(value, list) else value
    return out


def build_section(cls: type, args: argparse.Namespace, section: str,
                  preset: Mapping[str, Any] | None = None, fixed: Mapping[str, Any] | None = None
                  ) -> Any:
    """Instantiate ``cls`` from defaults < ``preset`` < explicit flags < ``fixed``.

    Returns
    -------
    An instance of ``cls`` (its ``__post_init__`` raises ``ValueError`` for bad values).
    """
    values = {**dict(preset or {}), **given_values(args, section), **dict(fixed or {})}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return cls(**values)


def resolve_preset(args: argparse.Namespace, algorithm: str) -> Any:
    """The preset a training command starts from: ``--preset``, else the model's paper preset.

    A model named after a paper (``--model lenet-300-100`` for ``train lth``) trains with that
    paper's recipe (:func:`empirical.config.presets.model_preset`) unless ``--preset none`` is
    given or the dataset is another one; a note on stderr says which preset was applied.
    """
    import sys

    from empirical.config.presets import Preset, get_preset, model_preset

    if args.preset == "none":
        return Preset(algorithm, "")
    if args.preset:
        return get_preset(args.preset, algorithm)
    name = model_preset(algorithm, given_values(args, "model").get("name"),
                        given_values(args, "dataset").get("name"))
    if name is None:
        return Preset(algorithm, "")
    if not getattr(args, "json", False):
        print(f"note: --model {given_values(args, 'model')['name']} trains with the paper's "
              f"recipe, preset {name} (--preset none for the generic defaults)", file=sys.stderr)
    return get_preset(name, algorithm)


def resolve_args(args: argparse.Namespace, algorithm: str, classes: Mapping[str, type],
                 command: Mapping[str, Mapping[str, Any]] | None = None) -> Any:
    """The sections ``classes`` of a training command, resolved by
    :func:`empirical.config.resolve.resolve` from the command's defaults ``command``, its preset
    (:func:`resolve_preset`) and the flags given."""
    from empirical.config.resolve import resolve

    preset = resolve_preset(args, algorithm)
    given = {name: given_values(args, name) for name in classes}
    return resolve(classes, preset.values, given, command)


def show_config(resolved: Any, as_json: bool) -> None:
    """Print every resolved hyperparameter with the layer that set it (``--show-config``)."""
    rows = [{**row, "value": _default_text(row["value"])} for row in resolved.rows()]
    emit(rows, as_json, ["field", "value", "set_by"])
