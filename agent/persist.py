"""Crash-safe file writes for the datastores (SPEC section 4: "write, fsync, rename").

A datastore file is replaced, never rewritten in place: the new content goes to a temporary
file in the same directory (so the rename cannot cross file systems), is flushed and
fsync'ed, renamed over the old name (atomic on POSIX), and then the directory is fsync'ed so
the rename itself survives a power cut.  At every instant the name points at either the old
complete file or the new complete file; a crash leaves at most a stray temporary file, which
:func:`is_temp_file` recognises so loaders can ignore it.
"""

from __future__ import annotations

import copy
import logging
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from agent.xmlns import INTERNAL

log = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp-"
FILE_MODE = 0o600
#: The state directory holds the host key, password hashes and the configuration: owner only.
DIR_MODE = 0o700


def atomic_write(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``data`` so a crash leaves either the old or the new content."""
    path = Path(path)
    directory = path.parent
    make_private_dir(directory)
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


def make_private_dir(directory: Path) -> None:
    """Create ``directory`` and any missing parents with mode 0700 (existing ones are left alone).

    ``Path.mkdir(parents=True)`` gives the parents the umask's mode (0755 usually) and the
    leaf ``mode & ~umask``; whichever command creates the state directory first
    (``vsi-agent users add`` before any ``serve``) must not leave it readable by others.
    An explicit chmod after each mkdir makes the mode independent of the umask.
    """
    directory = Path(directory)
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:       # created meanwhile by someone else: not ours to chmod
            continue
        os.chmod(path, DIR_MODE)


def tighten_private_dir(directory: Path) -> bool:
    """Restrict an existing directory this process owns to mode 0700; True if it was looser.

    Older versions created the state directory with the default mode.  A directory owned by
    another user is left as it is (changing it is not ours to do, and chmod would fail).
    """
    info = os.stat(directory)
    old_mode = stat.S_IMODE(info.st_mode)
    if info.st_uid != os.geteuid() or old_mode & 0o077 == 0:
        return False
    os.chmod(directory, DIR_MODE)
    log.warning("state directory %s had mode %04o; restricted it to %04o", directory, old_mode, DIR_MODE)
    return True


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


# --------------------------------------------------------------------------- explicit form ----

class ExplicitForm:
    """The bytes of datastore trees without their defaults, re-serialised entry by entry.

    A saved file holds only what was configured: the loader instantiates the defaults again
    (with 10k VSIs that is 1.3 MB instead of 11 MB).  Dropping the defaults needs a walk in
    Python, far slower than lxml's serialiser, so the form of each *entry* - each child of a
    top-level node, e.g. one VSI - is kept per tree and only entries that changed are walked
    again: the caller names them through :meth:`invalidate` (by the paths it touched) before
    the next :meth:`serialize`.  A tree's cache lives as long as the tree (by identity), so it
    follows a tree when running and candidate swap roles.
    """

    def __init__(self, is_default: Callable[[etree._Element], bool]) -> None:
        self._is_default = is_default
        #: id(root) -> (root, {top-level element: {entry: bytes}})
        self._trees: dict[int, tuple[etree._Element, dict[etree._Element, dict[etree._Element, bytes]]]] = {}

    def _cache(self, root: etree._Element) -> dict[etree._Element, dict[etree._Element, bytes]]:
        known = self._trees.get(id(root))
        if known is None or known[0] is not root:
            known = self._trees[id(root)] = (root, {})
        return known[1]

    def forget(self, root: etree._Element) -> None:
        """``root`` is no longer a datastore tree (or changed as a whole)."""
        known = self._trees.get(id(root))
        if known is not None and known[0] is root:
            for top in list(known[1]):
                _drop(known[1], top)
            del self._trees[id(root)]

    def invalidate(self, root: etree._Element, top: etree._Element, entry: etree._Element | None) -> None:
        """``entry`` (a child of the top-level element ``top``) changed; None: all of ``top``."""
        cache = self._trees.get(id(root))
        if cache is None or cache[0] is not root:
            return
        entries = cache[1].get(top)
        if entries is None:
            return
        if entry is None:
            _drop(cache[1], top)
        else:
            entries.pop(entry, None)

    def serialize(self, root: etree._Element) -> bytes:
        """The document of ``root`` (a `<data>` element) without default nodes or marks."""
        cache = self._cache(root)
        seen = set()
        parts = [b"<?xml version='1.0' encoding='UTF-8'?>\n", _start_tag(root)]
        for top in root:
            if not isinstance(top.tag, str) or self._is_default(top):
                continue
            seen.add(top)
            if len(top) == 0:
                parts.append(self._explicit(top))
                continue
            # a fresh map each time: entries removed since the last save fall out of it
            entries, kept = cache.get(top, {}), {}
            parts.append(_start_tag(top))
            for entry in top:
                data = entries.get(entry)
                if data is None:
                    data = self._explicit(entry)
                kept[entry] = data
                parts.append(data)
            parts.append(_end_tag(top))
            cache[top] = kept
        parts.append(_end_tag(root))
        for gone in [t for t in cache if t not in seen]:
            _drop(cache, gone)
        return b"".join(parts)

    def _explicit(self, element: etree._Element) -> bytes:
        if not isinstance(element.tag, str) or self._is_default(element):
            return b""
        copy_ = copy.deepcopy(element)
        copy_.tail = None
        marked = [node for node in copy_.iter() if node is not copy_ and self._is_default(node)]
        for node in marked:
            parent = node.getparent()
            if parent is not None:
                parent.remove(node)
        # the internal namespace goes; other declarations stay (identityref values use them)
        etree.cleanup_namespaces(copy_, keep_ns_prefixes=[p for p, ns in copy_.nsmap.items()
                                                          if p is not None and ns != INTERNAL])
        return etree.tostring(copy_, encoding="UTF-8", xml_declaration=False)


def _drop(cache: dict[etree._Element, dict[etree._Element, bytes]], top: etree._Element) -> None:
    """Forget the entries of ``top`` while ``top`` itself is still referenced: lxml frees the
    proxies of a detached subtree cheaply only while its top has one (otherwise each freed
    proxy searches the whole subtree for the others: quadratic)."""
    cache[top].clear()
    del cache[top]


def _start_tag(element: etree._Element) -> bytes:
    qname = etree.QName(element)
    return f'<{qname.localname} xmlns="{qname.namespace}">'.encode() if qname.namespace else \
        f"<{qname.localname}>".encode()


def _end_tag(element: etree._Element) -> bytes:
    return f"</{etree.QName(element).localname}>".encode()
