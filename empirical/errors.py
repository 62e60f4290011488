"""The error a library raises for input it refuses, naming its fields by their own names.

A Python caller passed fields (``TrainingHparams(milestones=...)``), a command-line user passed
flags (``--milestones``): the message names each field as ``{field}`` (or a setting as
``{field=value}``) in a template, so that ``str(err)`` reads in field names (``schedule=step``)
and the command line renders the same template in its flags (``--schedule step``,
:meth:`InputError.render`). The command line reports it as one line with exit status 2.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

FieldNamer = Callable[[type | None, str], str]
"""``(owner, field) -> flag``: the command-line flag that sets field ``field`` of ``owner``."""


class InputError(ValueError):
    """Input a library refuses: one line, naming fields by :data:`FieldNamer`.

    Parameters
    ----------
    template
        The message; ``{name}`` is a field of ``owner`` unless ``values`` gives ``name``, and
        ``{name=value}`` the field set to a value (``"{milestones} only applies to
        {schedule=step}"``).
    owner
        The class whose fields the template names (a hyperparameter dataclass), if any.
    **values
        Values put into the template (any text, braces included).

    Examples
    --------
    >>> err = InputError("{milestones} only applies to {schedule=step}")
    >>> str(err)
    'milestones only applies to schedule=step'
    >>> err.render(lambda owner, field: "--" + field)
    '--milestones only applies to --schedule step'
    """

    def __init__(self, template: str, owner: type | None = None, **values: Any) -> None:
        self.template, self.owner, self.values = template, owner, values
        super().__init__(self.render())

    @property
    def fields(self) -> list[str]:
        """The placeholders naming fields (``name`` or ``name=value``), in order."""
        names = [name for _, name, _, _ in string.Formatter().parse(self.template) if name]
        return [n for n in dict.fromkeys(names) if n not in self.values]

    def render(self, namer: FieldNamer | None = None) -> str:
        """The message naming fields by ``namer``'s flags (``--schedule step``), or by their own
        names (``schedule=step``) when ``namer`` is None."""
        names = {}
        for placeholder in self.fields:
            field, _, value = placeholder.partition("=")
            if namer is None:
                names[placeholder] = placeholder
            else:
                names[placeholder] = f"{namer(self.owner, field)} {value}".rstrip()
        return self.template.format(**names, **self.values)
