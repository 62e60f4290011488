"""The error a library raises for input it refuses, naming its fields by their own names.

A Python caller passed fields (``TrainingHparams(milestones=...)``), a command-line user passed
flags (``--milestones``): the message names each field once as ``{field}`` in a template, so that
``str(err)`` reads in field names and the command line renders the same template in its flag
names (:meth:`InputError.render`). The command line reports it as one line with exit status 2.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

FieldNamer = Callable[[type | None, str], str]
"""``(owner, field) -> text``: how a message names field ``field`` of class ``owner``."""


def field_name(owner: type | None, field: str) -> str:
    """The field's own name (the Python face of a message)."""
    return field


class InputError(ValueError):
    """Input a library refuses: one line, naming fields by :data:`FieldNamer`.

    Parameters
    ----------
    template
        The message; ``{name}`` is a field of ``owner`` unless ``values`` gives ``name``
        (``"{milestones} only applies to {schedule}=step, got {got}"``).
    owner
        The class whose fields the template names (a hyperparameter dataclass), if any.
    **values
        Values put into the template (any text, braces included).

    Examples
    --------
    >>> err = InputError("{milestones} only applies to {schedule}=step")
    >>> str(err)
    'milestones only applies to schedule=step'
    >>> err.render(lambda owner, field: "--" + field)
    '--milestones only applies to --schedule=step'
    """

    def __init__(self, template: str, owner: type | None = None, **values: Any) -> None:
        self.template, self.owner, self.values = template, owner, values
        super().__init__(self.render())

    @property
    def fields(self) -> list[str]:
        """The field names the template mentions, in order."""
        names = [name for _, name, _, _ in string.Formatter().parse(self.template) if name]
        return [n for n in dict.fromkeys(names) if n not in self.values]

    def render(self, namer: FieldNamer = field_name) -> str:
        """The message with every field named by ``namer`` (default: the field's own name)."""
        names = {field: namer(self.owner, field) for field in self.fields}
        return self.template.format(**names, **self.values)
