"""Crash-safe file writes for the datastores (SPEC section 4: "write, fsync, rename").

A datastore file is replaced, never rewritten in place: the new content goes to a temporary
file in the same directory (so the rename cannot cross file systems), is flushed and
fsync'ed, renamed over the old name (atomic on POSIX), and then the directory is fsync'ed so
the rename itself survives a power cut.  At every instant the name points at either the old
complete file or the new complete file; a crash leaves at most a stray temporary file, which
:func:`is_temp_file` recognises so loaders can ignore it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

TEMP_PREFIX = ".tmp-"
FILE_MODE = 0o600


def atomic_write(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``data`` so a crash leaves either the old or the new content."""
    path = Path(path)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX + path.name + ".", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    fsync_directory(directory)


def fsync_directory(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_durably(path: Path) -> bool:
    """Delete ``path`` (if present) and make the deletion durable; True if it existed."""
    path = Path(path)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    fsync_directory(path.parent)
    return True


def is_temp_file(path: Path) -> bool:
    """True for a leftover of an interrupted :func:`atomic_write`, which loaders ignore."""
    return Path(path).name.startswith(TEMP_PREFIX)
