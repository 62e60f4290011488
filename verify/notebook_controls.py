"""Optional ipywidgets controls for exploring a notebook (the ``notebooks`` extra).

The controls only call back into the notebook when a person presses the button, so a notebook
that shows them still runs headless (``tickets figures``, papermill) exactly as without them;
without ipywidgets they are replaced by one printed line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

MISSING_LINE = ("ipywidgets is not installed (pip install -e '.[notebooks]'); change the values "
                "in the parameters cell and rerun instead")


def selection_controls(options: Mapping[str, Sequence[Any]], chosen: Mapping[str, Sequence[Any]],
                       on_run: Callable[..., Any], button: str = "run") -> Any | None:
    """One multiple-choice list per option and a button calling ``on_run(**selection)``.

    Parameters
    ----------
    options : mapping of str to sequence
        Keyword of ``on_run`` -> the values offered (e.g. ``{"depths": [2, 3, 4]}``).
    chosen : mapping of str to sequence
        The values selected at first (each a subset of its options).
    on_run : callable
        Called with every keyword bound to the sorted list of selected values; what it prints
        or displays appears below the button (an ``ipywidgets.Output``).
    button : str
        The button's label.

    Returns
    -------
    ipywidgets.VBox or None
        The controls to display, or None (and :data:`MISSING_LINE` printed) without ipywidgets.
    """
    try:
        import ipywidgets as widgets
    except ImportError:
        print(MISSING_LINE)
        return None
    lists = {name: widgets.SelectMultiple(options=list(values), value=tuple(chosen[name]),
                                          description=name, rows=min(len(values), 6))
             for name, values in options.items()}
    output = widgets.Output()
    run = widgets.Button(description=button)

    def clicked(_: Any) -> None:
        with output:
            output.clear_output(wait=True)
            on_run(**{name: sorted(w.value) for name, w in lists.items()})

    run.on_click(clicked)
    return widgets.VBox([widgets.HBox(list(lists.values())), run, output])
