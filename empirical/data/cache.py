"""An on-disk cache of generated arrays, shared by processes, checked by a digest when read.

Where
-----
``$TICKETS_CACHE`` if set, else ``$XDG_CACHE_HOME/lottery-tickets``, else
``~/.cache/lottery-tickets`` (:func:`cache_dir`). One file per entry:
``<cache dir>/<kind>/<key digest>.npz``. Deleting the folder is always safe.

Key
---
The canonical JSON of ``{kind, args, seed, revision, versions, isa}``: the generation arguments,
the seed, the generator's revision number, the installed versions of the packages whose code makes
the arrays (numpy always) and the instruction-set mode (:data:`empirical.instruction_set.MODE`:
numpy's SIMD loops change the bytes of MNIST-1D); the file name is the first 24 hex digits of its
SHA-256. Changing any of them makes a new entry, so an entry's content is a function of its key.

Integrity
---------
Each file stores, beside the arrays, its key and the SHA-256 of (key, and per array in name order:
name, dtype, shape, bytes). A reader recomputes both; a file that cannot be read or does not match
is regenerated with one warning line and replaced, never used. Writes are atomic
(:func:`empirical.storage.atomic.atomic_write`) and the generation of one entry is serialised by a
file lock beside it, so concurrent processes generate it once and the others read the result.
The arrays read back are bit-identical (values, dtypes, shapes) to the ones generated.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from empirical import instruction_set
from empirical.storage.atomic import atomic_write

CACHE_ENV = "TICKETS_CACHE"
CACHE_FOLDER = "lottery-tickets"
KEY_DIGITS = 24
_KEY_ENTRY, _DIGEST_ENTRY = "__key__", "__sha256__"

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """``$TICKETS_CACHE``, else ``$XDG_CACHE_HOME/lottery-tickets``, else
    ``~/.cache/lottery-tickets``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / CACHE_FOLDER


@functools.cache
def _version(package: str) -> str | None:
    """The installed version of distribution ``package`` (None when it is not installed: the
    generator then raises its own error); looked up once per process."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cache_key(kind: str, args: Mapping[str, Any], seed: int, packages: tuple[str, ...] = (),
              revision: int = 1) -> str:
    """The canonical JSON key of an entry (module docstring); ``args`` must be JSON-able."""
    versions = {name: _version(name) for name in sorted({"numpy", *packages})}
    key = {"kind": kind, "args": dict(args), "seed": seed, "revision": revision,
           "versions": versions, "isa": instruction_set.MODE}
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


def arrays_digest(key: str, arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 (hex) of ``key`` and, in name order, each array's name, dtype, shape and bytes."""
    digest = hashlib.sha256(key.encode())
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"\0{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _read(path: Path, key: str) -> tuple[dict[str, np.ndarray] | None, str | None]:
    """``(arrays, None)`` for a sound entry, ``(None, None)`` for a missing one and
    ``(None, problem)`` for a damaged one."""
    if not path.exists():
        return None, None
    try:
        with np.load(path, allow_pickle=False) as stored:
            entries = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        return None, f"unreadable ({type(err).__name__}: {err})"
    stored_key, stored_digest = entries.pop(_KEY_ENTRY, None), entries.pop(_DIGEST_ENTRY, None)
    if stored_key is None or str(stored_key) != key:
        return None, "its key does not match"
    if stored_digest is None or str(stored_digest) != arrays_digest(key, entries):
        return None, "its digest does not match"
    return entries, None


def _write(path: Path, key: str, arrays: Mapping[str, np.ndarray]) -> None:
    entries = {**arrays, _KEY_ENTRY: np.array(key), _DIGEST_ENTRY: np.array(
        arrays_digest(key, arrays))}
    atomic_write(path, lambda handle: np.savez(handle, **entries), True)


def cached_arrays(kind: str, args: Mapping[str, Any], seed: int,
                  generate: Callable[[], Mapping[str, Any]], packages: tuple[str, ...] = (),
                  revision: int = 1) -> dict[str, np.ndarray]:
    """The arrays ``generate()`` returns for (``kind``, ``args``, ``seed``), from the cache.

    Parameters
    ----------
    kind
        The family of the arrays (a dataset or task name): the cache's subfolder.
    args
        The generation arguments (JSON-able), part of the key.
    seed
        The seed ``generate`` uses, part of the key.
    generate
        Makes the arrays (a mapping of names to array-likes) when the entry is missing or
        damaged.
    packages
        Distributions whose installed versions enter the key (numpy always does).
    revision
        The generator's revision: bump it when ``generate`` changes its output.

    Returns
    -------
    dict of str to ndarray
        Bit-identical to ``generate()``'s arrays (as ``np.asarray``).
    """
    key = cache_key(kind, args, seed, packages, revision)
    name = hashlib.sha256(key.encode()).hexdigest()[:KEY_DIGITS]
    path = cache_dir() / kind / f"{name}.npz"
    arrays, _ = _read(path, key)
    if arrays is not None:
        return arrays
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path.parent / f".{name}.lock"):
        arrays, problem = _read(path, key)  # another process may have written it meanwhile
        if arrays is not None:
            return arrays
        if problem is not None:
            log.warning("warning: cached %s arrays %s are damaged (%s); regenerating them",
                        kind, path, problem)
        arrays = {entry: np.asarray(value) for entry, value in generate().items()}
        _write(path, key, arrays)
    return arrays
