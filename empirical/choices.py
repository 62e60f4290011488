"""Validation of a name against its vocabulary (inits, layer modes, scopes, mask rules, ...)."""

from __future__ import annotations

from collections.abc import Collection


def check_choice(value: str, choices: Collection[str], what: str) -> None:
    """Raise ValueError ``unknown <what> <value>; choose one of <choices>`` unless ``value`` is one
    of ``choices`` (a tuple, or a registry dict whose keys are the names).

    Parameters
    ----------
    value
        The name given.
    choices
        The names allowed.
    what
        What the name names, for the message.
    """
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")
