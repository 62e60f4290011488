"""Atomic file writes and content digests (no other ``empirical`` import: safe for every module).

Every file is written to a temporary name ``.<name>.<random>.tmp`` in the same directory and moved
into place with ``os.replace``, so a killed process leaves either the old or the new file, never
half of one (a SIGKILL may leave the temporary file; :func:`remove_stale_temporaries` deletes it).
The file gets the permissions ``open()`` would give it, ``0666 & ~umask`` (``tempfile.mkstemp``
alone would make every file ``0600``, unreadable by a colleague sharing the run store).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

DIGEST_CHUNK = 1 << 20
TEMPORARY_GLOB = ".*.tmp"


def current_umask() -> int:
    """The process's umask (read by setting it and restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None],
                 binary: bool = False) -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, then ``os.replace`` it.

    The file's mode is ``0666 & ~umask``, as for a file created by ``open()``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb" if binary else "w") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write(path, lambda f: f.write(json.dumps(obj, indent=2, sort_keys=True) + "\n"), False)


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of the file's bytes, as hex (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(DIGEST_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files (``.*.tmp``) that a killed writer left in ``folder``.

    Call it only while holding the lock of every writer of ``folder``.

    Returns
    -------
    list of Path
        The files removed.
    """
    stale = sorted(Path(folder).glob(TEMPORARY_GLOB)) if Path(folder).is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
