"""Shared pieces of the command line: one-line errors, argument types, table/JSON output.

Every user mistake ends as ``tickets: error: <one line>`` on stderr and exit status 2; never a
traceback (set ``TICKETS_DEBUG=1`` to see one while developing). The libraries raise
:class:`empirical.errors.InputError` in their own field names; :func:`report_error` names the
flags instead.
"""

from __future__ import annotations

import argparse
import decimal
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn

from empirical.errors import FieldNamer, InputError

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are a single line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


SEED_LIMIT = 2**63
"""Seeds must be below this: torch's generators take a signed 64-bit seed."""
NAME_MAX = 255
PATH_MAX = 4095


def _integer(text: str) -> int:
    """An integer, also written in scientific notation when integral (``1e6``)."""
    try:
        return int(text)
    except ValueError:
        value = decimal.Decimal(text.strip())  # raises decimal.InvalidOperation if no number
        if not value.is_finite() or value != value.to_integral_value():
            raise ValueError(text) from None
        return int(value)


def _number(text: str, kind: Callable[[str], Any], name: str) -> Any:
    try:
        value = (_integer if kind is int else kind)(text)
    except (ValueError, decimal.InvalidOperation):
        raise argparse.ArgumentTypeError(f"{text!r} is not {name}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_float(text: str) -> float:
    """A finite float > 0 (eps, learning rates, ...)."""
    value = _number(text, float, "a number")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (widths, depths, seeds counts, epochs)."""
    value = _number(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def nonnegative_int(text: str) -> int:
    """An integer >= 0 (seeds, offsets)."""
    value = _number(text, int, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def seed(text: str) -> int:
    """A random seed: an integer in ``[0, 2**63)``."""
    value = nonnegative_int(text)
    if value >= SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"must be < 2**63, got {text}")
    return value


def nonnegative_float(text: str) -> float:
    """A finite float >= 0 (weight decay)."""
    value = _number(text, float, "a number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def unit_interval(text: str) -> float:
    """A number in ``[0, 1)`` (momentum, Adam's beta1, label smoothing)."""
    value = _number(text, float, "a number")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1), got {text}")
    return value


def path(text: str) -> str:
    """A file or directory path to write: not empty, names the OS accepts (255 / 4095 bytes)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path")
    parts = [p for p in text.split(os.sep) if p]
    longest = max(parts, key=lambda p: len(os.fsencode(p)), default="")
    if len(os.fsencode(longest)) > NAME_MAX:
        raise argparse.ArgumentTypeError(f"the name {longest[:20]}... has "
                                         f"{len(os.fsencode(longest))} bytes, more than the "
                                         f"{NAME_MAX} a file name may have")
    if len(os.fsencode(os.path.abspath(text))) > PATH_MAX:
        raise argparse.ArgumentTypeError(f"longer than the {PATH_MAX} bytes a path may have")
    return text


def _writable_folder(folder: str) -> None:
    """Raise ``ArgumentTypeError`` unless a file can be created in the existing ``folder``.

    Tried by creating and removing an empty file: permission bits do not tell (root, read-only
    mounts, ``/proc``).
    """
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"folder {folder} does not exist")
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".tickets-probe-")
    except OSError as err:
        raise argparse.ArgumentTypeError(f"cannot write in {folder}: {err.strerror}") from None
    os.close(handle)
    os.unlink(probe)


def output_file(text: str) -> str:
    """A file to write: not a directory, in an existing folder where files can be created."""
    path(text)
    if os.path.isdir(text) or text.endswith(os.sep):
        raise argparse.ArgumentTypeError(f"{text} is a directory; name a file")
    _writable_folder(os.path.dirname(os.path.abspath(text)))
    return text


def output_dir(text: str) -> str:
    """A directory to write into: existing and writable, or creatable in a writable folder."""
    path(text)
    folder = os.path.abspath(text)
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"{folder} is a file, not a directory")
    _writable_folder(folder)
    return text


TICKET_HEADER_MAX = 100_000_000
"""A safetensors header longer than this is no ticket's (the format's own limit is 100 MB)."""


def ticket_file(text: str) -> str:
    """A packed ticket file (``tickets export``): a safetensors file, not a run directory."""
    if os.path.isdir(text):
        if os.path.exists(os.path.join(text, "hparams.json")):
            raise argparse.ArgumentTypeError(f"{text} is a run directory; write its ticket file "
                                             "with tickets export RUN --out FILE")
        raise argparse.ArgumentTypeError(f"{text} is a directory: no ticket file")
    try:
        with open(text, "rb") as handle:
            head = handle.read(9)
            size = os.fstat(handle.fileno()).st_size
    except OSError as err:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {err.strerror}") from None
    length = int.from_bytes(head[:8], "little") if len(head) == 9 else -1
    if not (0 < length <= min(TICKET_HEADER_MAX, size - 8)) or head[8:] != b"{":
        raise argparse.ArgumentTypeError(f"{text} is not a ticket file (no safetensors header; "
                                         "tickets export writes one)")
    return text


def existing_dir(text: str) -> str:
    """A path that names an existing directory (inputs such as ``--data-dir``)."""
    if not os.path.isdir(path(text)):
        raise argparse.ArgumentTypeError(f"{text} is not an existing directory")
    return text


def open_unit(text: str) -> float:
    """A probability strictly inside (0, 1) (delta, success thresholds)."""
    value = _number(text, float, "a number")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1), got {text}")
    return value


def fraction(text: str) -> float:
    """A fraction in (0, 1] (kept fraction k, prune rate)."""
    value = _number(text, float, "a number")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1], got {text}")
    return value


def list_of(item: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    """Comma-separated list of ``item``: ``1e-2,1e-3``."""

    def parse(text: str) -> list[Any]:
        parts = [p.strip() for p in text.split(",")]
        if not any(parts):
            raise argparse.ArgumentTypeError("expected a comma-separated list")
        if not all(parts):
            raise argparse.ArgumentTypeError(f"empty item in {text!r}")
        return [item(p) for p in parts]

    return parse


def int_range(text: str) -> list[int]:
    """``4..24`` (inclusive), ``4..24..2`` (with a step) or a list ``4,8,12``."""
    if ".." in text:
        parts = text.split("..")
        if len(parts) not in (2, 3):
            raise argparse.ArgumentTypeError(f"{text!r} is not LO..HI or LO..HI..STEP")
        lo, hi = positive_int(parts[0]), positive_int(parts[1])
        step = positive_int(parts[2]) if len(parts) == 3 else 1
        if hi < lo:
            raise argparse.ArgumentTypeError(f"empty range {text!r}")
        return list(range(lo, hi + 1, step))
    return list_of(positive_int)(text)


def add_json_flag(parser: argparse.ArgumentParser, one_object: bool = False,
                  detail: str = "") -> None:
    """``--json``: JSON on stdout instead of the table, one object per row (per line) or one
    object in all; ``detail`` says more (what the object holds)."""
    shape = "one JSON object" if one_object else "one JSON object per line"
    parser.add_argument("--json", action="store_true",
                        help=f"print {shape} instead of the table{detail}")


def add_timing_flags(parser: argparse.ArgumentParser, batch_size: int, steps: int,
                     warmup: int) -> None:
    """``--batch-size``, ``--steps``, ``--warmup`` and ``--device`` of a benchmark, with the
    benchmark's defaults."""
    parser.add_argument("--batch-size", type=positive_int, default=batch_size,
                        help="batch size (default: %(default)s)")
    parser.add_argument("--steps", type=positive_int, default=steps,
                        help="timed steps (default: %(default)s)")
    parser.add_argument("--warmup", type=nonnegative_int, default=warmup,
                        help="untimed steps first (default: %(default)s)")
    parser.add_argument("--device", default="auto",
                        help="auto (cuda, mps, cpu), cpu, cuda, cuda:N, mps (default: %(default)s)")


def _float_cell(value: float) -> str:
    """``value`` with 4 significant digits, more where 4 would round it to a whole number.

    A fraction such as 0.9999975 must not print as ``1``: below 1000 the digits grow until the
    text is no longer a whole number (at most 17), so the cell says what it means.
    """
    if not math.isfinite(value):
        return str(value)
    if value != 0 and not 1e-3 <= abs(value) < 1e5:
        return f"{value:.3e}"
    digits = 4
    text = f"{value:.{digits}g}"
    if abs(value) < 1000 and value != int(value):
        while float(text) == int(float(text)) and digits < 17:
            digits += 1
            text = f"{value:.{digits}g}"
    return text


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return _float_cell(value)
    return str(value)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Render ``rows`` (dicts) as an aligned plain-text table."""
    if not rows:
        return "(no rows)"
    cols = list(columns) if columns is not None else list(rows[0])
    cells = [[_cell(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, sep, *body])


COLUMN_NAMES = {"success": "tolerances_met", "pass": "within_eps",
                "success_rate": "fraction_within_eps"}
"""Names the command line gives the study rows' flags, so that each says what it checks:
``tolerances_met`` (the construction's own ``success``: every sub-problem, e.g. each weight's
subset sum, met its tolerance and the certified error, where there is one, is at most eps) and
``within_eps`` (``pass``: ``error_bound <= eps``, the error the row rests on, see ``evidence``);
a sweep's ``fraction_within_eps`` (``success_rate``) is the fraction of seeds within eps."""


def renamed(rows: Iterable[Mapping[str, Any]], names: Mapping[str, str] = COLUMN_NAMES
            ) -> list[dict[str, Any]]:
    """``rows`` with the keys of ``names`` renamed (order kept), for tables, JSON and CSV."""
    return [{names.get(k, k): v for k, v in row.items()} for row in rows]


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def emit(
    rows: Iterable[Mapping[str, Any]],
    as_json: bool,
    columns: Sequence[str] | None = None,
    one_object: bool = False,
) -> None:
    """Print rows as a table, or as JSON: one object per line (or one object if ``one_object``)."""
    rows = list(rows)
    if as_json:
        clean = [{k: _jsonable(v) for k, v in r.items()} for r in rows]
        if one_object:
            print(json.dumps(clean[0] if len(clean) == 1 else {"rows": clean}))
        else:
            for r in clean:
                print(json.dumps(r))
    else:
        print(format_table(rows, columns))


def report_error(prog: str, err: BaseException, namer: FieldNamer | None = None) -> int:
    """Print ``prog: error: message`` on one line and return the usage exit status.

    An :class:`empirical.errors.InputError` names its fields through ``namer`` (the command line
    passes :func:`verify.cli.args.flag_of`, so that the user reads the flags they typed).
    """
    text = err.render(namer) if isinstance(err, InputError) and namer else str(err)
    message = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_USAGE
