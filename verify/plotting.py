"""One plotting style and the writers of every figure and table the notebooks produce.

A notebook opens an :class:`Outputs` that DECLARES its figures and tables (a table with its
columns) before computing anything; :meth:`Outputs.figure` saves a matplotlib figure as PNG and
PDF with a provenance footer (scale, seeds, run hashes), :meth:`Outputs.table` saves a data frame
as CSV and Markdown, and :meth:`Outputs.finish` checks that every declared output was written and
writes the notebook's manifest ``<out_dir>/<notebook>.manifest.json``, which
:func:`verify.figures.write_index` turns into ``paper_figures/README.md`` and the tests read.
Every file is written to a temporary name in its directory and moved into place (``os.replace``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from empirical.instruction_set import environment_record
from empirical.storage.atomic import atomic_write
from verify.notebook_paths import committed_dir, output_dir

MANIFEST_SUFFIX = ".manifest.json"
#: Columns of a run table that differ between two regenerations of the same results (wall-clock
#: time, whether a run was read back): never written into a committed table.
VOLATILE_COLUMNS = ("seconds", "reused", "resumed_from")
#: Figure metadata without a creation date, so that regenerating a figure rewrites the same bytes.
FIXED_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None}}
FIGURE_FORMATS = ("png", "pdf")
TABLE_FORMATS = ("csv", "md")
FOOTER_HASHES = 4  # run hashes printed in a figure's footer; the manifest holds all of them
STYLE = {
    "context": "paper",
    "style": "whitegrid",
    "palette": "colorblind",
    "font_scale": 1.2,
    "rc": {
        "figure.figsize": (6.4, 4.2),
        "figure.dpi": 110,
        "savefig.dpi": 160,
        "savefig.bbox": "tight",
        "axes.titleweight": "bold",
        "legend.frameon": True,
        "legend.framealpha": 0.8,
        "legend.fontsize": 8,
        "legend.title_fontsize": 8,
        "lines.linewidth": 1.8,
        "lines.markersize": 5,
    },
}


def use_style() -> None:
    """Apply the project's one seaborn/matplotlib style (call once per notebook)."""
    import seaborn as sns

    sns.set_theme(context=STYLE["context"], style=STYLE["style"], palette=STYLE["palette"],
                  font_scale=STYLE["font_scale"], rc=STYLE["rc"])


MAX_LABELLED_TICKS = 8
"""At most this many labelled ticks on a log axis (:func:`spaced_ticks`)."""
AXIS_LABEL_CHARS = 45
"""About this many tick-label characters fit side by side along an axis (:func:`spaced_ticks`)."""


def log_axis(ax: Any, values: Iterable[float], axis: str = "x", invert: bool = False,
             regular: bool = False) -> None:
    """Log-scale ``axis`` of ``ax`` with ticks labelled plainly (``0.2`` and ``1792``, not
    ``2x10^-1`` or ``1.79e+03``); ``invert`` reverses it (sparsity or accuracy growing to the
    right).  The ticks are the ``values`` of :func:`spaced_ticks`, or with ``regular`` the 1-2-5
    steps spanning them (:func:`regular_ticks`; values that are not round numbers, such as IMP's
    80.7, 65.2, 52.6... percent remaining)."""
    import matplotlib.ticker as mticker

    values = [float(v) for v in values]
    ticks = regular_ticks(min(values), max(values)) if regular else []
    if len(ticks) < 2:
        ticks = spaced_ticks(values)
    getattr(ax, f"set_{axis}scale")("log")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(mticker.FixedLocator(ticks))
    target.set_major_formatter(mticker.FixedFormatter([plain_number(t) for t in ticks]))
    target.set_minor_locator(mticker.NullLocator())
    if invert:
        getattr(ax, f"invert_{axis}axis")()


def regular_ticks(low: float, high: float) -> list[float]:
    """The numbers ``{1, 2, 5} x 10^e`` in ``[low, high]`` (both > 0), ascending: the regular
    steps of a log axis."""
    if not 0 < low <= high:
        raise ValueError(f"need 0 < low <= high, got {low}, {high}")
    ticks = []
    for exponent in range(math.floor(math.log10(low)), math.floor(math.log10(high)) + 1):
        for mantissa in (1, 2, 5):
            tick = float(f"{mantissa}e{exponent}")  # exact decimal, not 5 * 10.0 ** -2
            if low * (1 - 1e-9) <= tick <= high * (1 + 1e-9):
                ticks.append(tick)
    return ticks


def spaced_ticks(values: Iterable[float]) -> list[float]:
    """The positive ``values`` that get a labelled log-axis tick.

    From the largest down, a value is kept when it lies far enough below the last one kept for
    their labels not to collide: at least ``1 / (2 MAX_LABELLED_TICKS)`` of the axis' log range,
    and at least the two labels' mean length over ``AXIS_LABEL_CHARS`` of it (an axis holds about
    that many label characters side by side). Then every ``s``-th is kept, largest included, with
    ``s`` the smallest stride leaving at most ``MAX_LABELLED_TICKS``.
    """
    ticks = sorted({float(v) for v in values if v > 0}, reverse=True)
    if len(ticks) < 2:
        return ticks
    span = math.log10(ticks[0] / ticks[-1])
    kept = [ticks[0]]
    for t in ticks[1:]:
        chars = (len(plain_number(kept[-1])) + len(plain_number(t))) / 2
        gap = span * max(1 / (2 * MAX_LABELLED_TICKS), chars / AXIS_LABEL_CHARS)
        if math.log10(kept[-1] / t) >= gap * (1 - 1e-9):
            kept.append(t)
    stride = -(-len(kept) // MAX_LABELLED_TICKS)
    return kept[::stride][::-1]


def plain_number(value: float) -> str:
    """``1792`` for integers, else three significant digits (``0.025``, ``3.33``)."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


def legend_outside(ax: Any, **kwargs: Any) -> Any:
    """The legend of ``ax`` to the right of its axes, where it covers no line, bound or baseline.

    ``kwargs`` go to :meth:`matplotlib.axes.Axes.legend` (``title``, ``ncol``, handles...).
    Saved with ``bbox_inches="tight"`` (the style's ``savefig.bbox``), the figure grows to hold it.
    """
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **kwargs)


def figure_legend(fig: Any, ax: Any, **kwargs: Any) -> Any:
    """One legend for every panel of ``fig`` (the handles of ``ax``), just right of the panels.

    The legends the panels drew themselves (seaborn draws one per panel) are removed, so no
    panel is covered; the legend starts at the right edge of the rightmost panel, with no empty
    margin between them.
    """
    handles, labels = ax.get_legend_handles_labels()
    for panel in fig.axes:
        if panel.get_legend() is not None:
            panel.get_legend().remove()
    right = max(panel.get_position().x1 for panel in fig.axes)
    top = max(panel.get_position().y1 for panel in fig.axes)
    return fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(right + 0.01, top),
                      borderaxespad=0.0, **kwargs)


def panel_grid(panels: int, panel_size: tuple[float, float] = (5.2, 4.2), columns: int = 2,
               **kwargs: Any) -> tuple[Any, list[Any]]:
    """A figure of ``panels`` axes in rows of ``columns`` (the unused cells removed), so that
    many panels keep a readable aspect instead of one long row.

    Parameters
    ----------
    panels : int
        Number of axes.
    panel_size : (float, float)
        Width and height of one panel in inches.
    columns : int
        Panels per row.
    kwargs
        Passed to :func:`matplotlib.pyplot.subplots` (``sharey``...).

    Returns
    -------
    (Figure, list of Axes)
        The figure and its ``panels`` axes, row by row.
    """
    import matplotlib.pyplot as plt

    if panels < 1 or columns < 1:
        raise ValueError(f"need panels >= 1 and columns >= 1, got {panels}, {columns}")
    cols = min(columns, panels)
    rows = -(-panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(panel_size[0] * cols, panel_size[1] * rows),
                             squeeze=False, **kwargs)
    fig.subplots_adjust(hspace=0.45)  # room for a row's x labels above the next row's titles
    cells = list(axes.ravel())
    for unused in cells[panels:]:
        fig.delaxes(unused)
    return fig, cells[:panels]


def plot_width_needed(ax: Any, frame: Any, color: Any, label: str, trivial_label: str) -> None:
    """Smallest sufficient width against the varied value; trivial targets hollow, not dropped.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    frame : pandas.DataFrame
        Rows of :func:`verify.construction_study.sweep_width_vs_eps` for one construction:
        ``value``, ``source_width``, ``found``, ``trivial``.
    color
        The construction's colour.
    label, trivial_label : str
        Legend labels of the proven widths (filled markers, joined) and of trivial targets
        (hollow markers): where the target's own sup norm is below eps the empty ticket passes,
        so the width drawn there is only the smallest searched width that passed.
    """
    proven = frame["source_width"].where(frame["found"] & ~frame["trivial"])
    trivial = frame["source_width"].where(frame["found"] & frame["trivial"])
    ax.plot(frame["value"], proven, marker="o", color=color, label=label)
    if trivial.notna().any():
        ax.plot(frame["value"], trivial, marker="o", linestyle="none", markerfacecolor="none",
                color=color, label=trivial_label)


def format_cell(value: Any) -> str:
    """A table cell as text: 4 significant digits for floats, ``-`` for missing values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(frame: Any) -> str:
    """A Markdown table of a data frame (``pandas.DataFrame.to_markdown``, i.e. tabulate's pipe
    format), every cell written by :func:`format_cell` first."""
    return frame.map(format_cell).to_markdown(index=False, disable_numparse=True) + "\n"


@dataclass
class OutputRecord:
    """One figure or table of a notebook, as listed in its manifest.

    Parameters
    ----------
    name : str
        File stem inside the scale's output directory.
    kind : str
        ``"figure"`` or ``"table"``.
    files : list of str
        File names written (relative to the output directory).
    caption : str
        What it shows (may hold LaTeX of a bound).
    seeds : list of int
        Seeds behind it.
    run_hashes : list of str
        Run-store hashes of the training runs behind it (empty for theory outputs).
    data : str
        Datasets or generated inputs behind it.
    columns : list of str
        Declared columns (tables only).
    """

    name: str
    kind: str
    files: list[str] = field(default_factory=list)
    caption: str = ""
    seeds: list[int] = field(default_factory=list)
    run_hashes: list[str] = field(default_factory=list)
    data: str = ""
    columns: list[str] = field(default_factory=list)


def run_hashes(rows: Iterable[Mapping[str, Any]], key: str = "hash") -> list[str]:
    """The sorted distinct run-store hashes in ``rows`` (tidy study rows)."""
    return sorted({str(r[key]) for r in rows if r.get(key)})


def format_seeds(seeds: Sequence[int]) -> str:
    """Seeds as compact ranges: ``[0, 1, 2, 3, 7]`` -> ``"0-3,7"``; ``"-"`` when there are none."""
    values = sorted({int(s) for s in seeds})
    runs: list[list[int]] = []
    for v in values:
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs) or "-"


def provenance_line(scale: str, seeds: Sequence[int], run_hashes: Sequence[str], data: str) -> str:
    """``scale=cpu | seeds=0,1 | data=mnist1d | runs: 3f2a..., ... (+n more)`` for footers."""
    parts = [f"scale={scale}", f"seeds={format_seeds(seeds)}"]
    if data:
        parts.append(f"data={data}")
    if run_hashes:
        shown = ", ".join(h[:8] for h in run_hashes[:FOOTER_HASHES])
        more = len(run_hashes) - FOOTER_HASHES
        parts.append(f"runs: {shown}" + (f" (+{more} more, see manifest)" if more > 0 else ""))
    return " | ".join(parts)


class Outputs:
    """The declared figures and tables of one notebook run, and their writer.

    Parameters
    ----------
    notebook : str
        Notebook name (the stem of ``notebooks/<name>.py``).
    scale : str
        The scale it runs at.
    out_dir : path, optional
        Where to write (created), resolved by :func:`verify.notebook_paths.output_dir`: None or
        ``paper_figures/<scale>`` is written only when ``tickets figures`` authorised it; any
        other run that would write into ``paper_figures/`` writes ``paper_figures/scratch/<scale>``
        instead. One printed line says where the files go (attribute ``scratch`` tells which).
    figures : sequence of str
        Names of the figures the notebook will write.
    tables : mapping of str to sequence of str
        Names of the tables it will write, each with the columns it must hold.
    """

    def __init__(self, notebook: str, scale: str, out_dir: str | os.PathLike | None = None,
                 figures: Sequence[str] = (), tables: Mapping[str, Sequence[str]] | None = None
                 ) -> None:
        tables = dict(tables or {})
        names = [*figures, *tables]
        if len(set(names)) != len(names):
            raise ValueError(f"notebook {notebook}: output names must be unique, got {names}")
        self.notebook = notebook
        self.scale = scale
        self.out_dir, self.scratch = output_dir(scale, out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        print(self.destination_line())
        self.declared: dict[str, OutputRecord] = {
            **{n: OutputRecord(self._stem(n), "figure") for n in figures},
            **{n: OutputRecord(self._stem(n), "table", columns=list(c))
               for n, c in tables.items()},
        }
        self.written: set[str] = set()

    def destination_line(self) -> str:
        """One line saying where this notebook's files go (and why, for the scratch directory)."""
        if not self.scratch:
            return f"outputs of {self.notebook} -> {self.out_dir}"
        return (f"outputs of {self.notebook} -> {self.out_dir} (scratch: exploring; the committed "
                f"{committed_dir(self.scale)} is written only by `tickets figures --scale "
                f"{self.scale}`)")

    def _stem(self, name: str) -> str:
        return f"{self.notebook}_{name}"

    def _record(self, name: str, kind: str) -> OutputRecord:
        record = self.declared.get(name)
        if record is None or record.kind != kind:
            raise ValueError(f"notebook {self.notebook}: {kind} {name!r} was not declared")
        return record

    def figure(self, fig: Any, name: str, caption: str, seeds: Sequence[int],
               run_hashes: Sequence[str] = (), data: str = "") -> list[Path]:
        """Save ``fig`` as PNG and PDF with a provenance footer, show it inline, and close it.

        In a Jupyter kernel the saved figure is displayed in the cell's output
        (:func:`show_inline`); elsewhere it is only saved.

        Parameters
        ----------
        fig : matplotlib.figure.Figure
            The figure.
        name : str
            A declared figure name.
        caption : str
            What it shows (stored in the manifest and README).
        seeds, run_hashes, data
            Provenance: seeds, run-store hashes, datasets.

        Returns
        -------
        list of Path
            The files written.
        """
        import matplotlib.pyplot as plt

        record = self._record(name, "figure")
        hashes = sorted(set(run_hashes))
        fig.text(0.01, -0.02, provenance_line(self.scale, seeds, hashes, data), fontsize=7,
                 color="0.35", ha="left", va="top", transform=fig.transFigure)
        paths = []
        for fmt in FIGURE_FORMATS:
            path = self.out_dir / f"{record.name}.{fmt}"
            atomic_write(path, lambda h, f=fmt: fig.savefig(h, format=f,
                                                             metadata=FIXED_METADATA[f]),
                         binary=True)
            paths.append(path)
        show_inline(fig)
        plt.close(fig)
        self._done(name, record, paths, caption, seeds, hashes, data)
        return paths

    def table(self, frame: Any, name: str, caption: str, seeds: Sequence[int],
              run_hashes: Sequence[str] = (), data: str = "") -> list[Path]:
        """Save a pandas data frame as CSV and Markdown (caption and provenance above it).

        Parameters
        ----------
        frame : pandas.DataFrame
            Must hold every declared column of the table. Wall-clock columns
        (:data:`VOLATILE_COLUMNS`) are dropped: a committed table changes only when a result does.
        name : str
            A declared table name.
        caption, seeds, run_hashes, data
            As for :meth:`figure`.

        Returns
        -------
        list of Path
            The files written.
        """
        record = self._record(name, "table")
        missing = [c for c in record.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"notebook {self.notebook}: table {name!r} lacks columns {missing}")
        hashes = sorted(set(run_hashes))
        frame = frame.drop(columns=[c for c in VOLATILE_COLUMNS if c in frame.columns])
        csv = self.out_dir / f"{record.name}.csv"
        atomic_write(csv, lambda h: frame.to_csv(h, index=False))
        md = self.out_dir / f"{record.name}.md"
        text = (f"{caption}\n\n_{provenance_line(self.scale, seeds, hashes, data)}_\n\n"
                + markdown_table(frame))
        atomic_write(md, lambda h: h.write(text))
        self._done(name, record, [csv, md], caption, seeds, hashes, data)
        return [csv, md]

    def _done(self, name: str, record: OutputRecord, paths: Sequence[Path], caption: str,
              seeds: Sequence[int], hashes: Sequence[str], data: str) -> None:
        record.files = [p.name for p in paths]
        record.caption = caption
        record.seeds = sorted({int(s) for s in seeds})
        record.run_hashes = list(hashes)
        record.data = data
        self.written.add(name)

    @property
    def manifest_path(self) -> Path:
        """``<out_dir>/<notebook>.manifest.json``."""
        return self.out_dir / f"{self.notebook}{MANIFEST_SUFFIX}"

    def finish(self) -> Path:
        """Check every declared output was written, then write the manifest.

        Returns
        -------
        Path
            The manifest file.
        """
        missing = [n for n in self.declared if n not in self.written]
        if missing:
            raise ValueError(f"notebook {self.notebook} declared but did not write {missing}")
        manifest = {"notebook": self.notebook, "scale": self.scale,
                    "threads": compute_threads(),
                    "environment": environment_record(),
                    "outputs": [asdict(r) for r in self.declared.values()]}
        atomic_write(self.manifest_path,
                     lambda h: h.write(json.dumps(manifest, indent=2, sort_keys=True) + "\n"))
        return self.manifest_path


def show_inline(fig: Any) -> bool:
    """Display ``fig`` in the output of the running Jupyter cell; False outside a kernel.

    A plain ``python`` or terminal IPython session has no cell output to show it in.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    from IPython.display import display

    display(fig)
    return True


def compute_threads() -> int | None:
    """torch's intra-op thread count in this process (None if torch was never imported).

    Runs with sign activations (MPT-1/1) are bit-identical only at the same thread count: a
    parallel reduction sums in another order, the last bit of a pre-activation moves, and a sign
    flips. ``tickets figures`` therefore runs every notebook with one thread and records it.
    """
    import sys

    torch = sys.modules.get("torch")
    return None if torch is None else int(torch.get_num_threads())


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """A manifest written by :meth:`Outputs.finish` (notebook, scale, outputs)."""
    return json.loads(Path(path).read_text())
