"""Progress on stderr: a tqdm bar on a terminal, one line per interval anywhere else.

A bar cannot redraw in a log file or a pipe, so there :class:`LineProgress` prints a line such as
``train: 1200/5000 steps (24%), 61 s, eta 193 s, loss=0.412 acc=0.871`` every
``$TICKETS_PROGRESS_INTERVAL`` seconds (default 30) and a last line when it closes, if it printed
any: commands shorter than one interval stay silent.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO, TypeVar

T = TypeVar("T")

INTERVAL_ENV = "TICKETS_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 30.0


class LineProgress:
    """A tqdm-like counter (``update``, ``set_postfix``, ``close``) that prints whole lines.

    Parameters
    ----------
    total
        Units of work in all.
    initial
        Units already done (a resumed run).
    desc
        Line prefix.
    unit
        Name of one unit (pluralised with ``s``).
    interval
        Seconds between lines.
    file
        Where the lines go.
    clock
        Monotonic seconds (tests pass a fake one).
    """

    def __init__(self, total: int, initial: int = 0, desc: str = "", unit: str = "step",
                 interval: float = DEFAULT_INTERVAL, file: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.n, self.desc, self.unit = total, initial, desc, unit
        self.interval, self.file, self.clock = interval, file or sys.stderr, clock
        self.started = self.last = clock()
        self.initial = initial
        self.postfix: dict[str, Any] = {}
        self.lines, self.shown = 0, initial
        self._lock = threading.Lock()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units; print a line if ``interval`` seconds passed since the last."""
        self.n += n
        if self.clock() - self.last >= self.interval:
            self._print()

    def set_description(self, desc: str) -> None:
        """The prefix of the next lines (the unit of work now under way)."""
        self.desc = desc

    def set_postfix(self, refresh: bool = False, **values: Any) -> None:
        """Values shown at the end of the next line (``loss=0.412``)."""
        self.postfix = values

    def close(self) -> None:
        """Print the final line, if any line was printed before."""
        if self.lines and self.n != self.shown:
            self._print()

    def line(self) -> str:
        """The current progress line."""
        elapsed = self.clock() - self.started
        done = self.n - self.initial
        text = f"{self.desc}: " if self.desc else ""
        text += f"{self.n}/{self.total} {self.unit}s"
        if self.total:
            text += f" ({100 * self.n / self.total:.0f}%)"
        text += f", {elapsed:.0f} s"
        if done > 0 and self.total > self.n:
            text += f", eta {elapsed / done * (self.total - self.n):.0f} s"
        if self.postfix:
            text += ", " + " ".join(f"{k}={v}" for k, v in self.postfix.items())
        return text

    def beat(self) -> None:
        """Print a line if ``interval`` seconds passed since the last, without counting work (a
        unit still under way: :func:`tracked` calls it from a timer)."""
        if self.clock() - self.last >= self.interval:
            self._print()

    def _print(self) -> None:
        with self._lock:
            print(self.line(), file=self.file, flush=True)
            self.last, self.lines, self.shown = self.clock(), self.lines + 1, self.n


def progress_bar(total: int, initial: int = 0, desc: str = "", unit: str = "step",
                 enabled: bool = True) -> Any:
    """A tqdm bar if stderr is a terminal, else a :class:`LineProgress`; None if not enabled."""
    if not enabled:
        return None
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(total=total, initial=initial, desc=desc or None, file=sys.stderr, unit=unit,
                    leave=False)
    interval = float(os.environ.get(INTERVAL_ENV) or DEFAULT_INTERVAL)
    return LineProgress(total, initial, desc, unit, interval)


def tracked(items: Sequence[T], desc: str, unit: str) -> Iterator[T]:
    """Yield each of ``items``, counting it on a :func:`progress_bar` once its work is done.

    For commands whose units of work take seconds to minutes each (benchmarks, one model at a
    time): on a terminal a bar, elsewhere a line every interval, also while one unit is under way
    (a daemon thread calls :meth:`LineProgress.beat`).
    """
    bar = progress_bar(len(items), desc=desc, unit=unit)
    stop = threading.Event()
    if isinstance(bar, LineProgress):  # a line every interval while a unit is under way

        def beat() -> None:
            while not stop.wait(bar.interval):
                try:
                    bar.beat()
                except (ValueError, OSError):  # the stream was closed under the timer
                    return

        threading.Thread(target=beat, daemon=True).start()
    try:
        for item in items:
            yield item
            bar.update()
    finally:
        stop.set()
        bar.close()
