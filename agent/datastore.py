"""The configuration datastores (RFC 6241 5.1, 8.3, 8.7; RFC 8342): running, candidate, startup.

Each datastore is one lxml ``{NC}data`` element holding the top-level data nodes, with schema
defaults instantiated and marked (docs/ARCHITECTURE.md, "Datastore trees").  This module owns
what happens *to* those trees as a whole: locks, loading and atomic persistence, and moving
changes between candidate and running.

Commits are incremental.  The candidate remembers the :class:`~agent.validate.Change` records
and the touched data paths since it last equalled running.  A commit validates only those
changes, then the candidate tree *becomes* running (a reference swap) and the touched
subtrees are copied into the old running tree, which becomes the new candidate: the cost
is proportional to the change, not to the 10k VSIs around it.  Discard-changes copies the
touched subtrees back from running.  Only when running was changed behind a dirty
candidate's back (a direct edit of running, copy-config) does a commit fall back to full
validation and a whole-tree copy.

Running and candidate are *tracked* by the validator (:meth:`Validator.track`): it keeps the
value indexes that make a global rule such as "an interface belongs to one AC or PW" a few
dictionary lookups.  The promise that comes with it is kept here, in one place per way a
tree can change: every edit's changes reach :meth:`Validator.validate` or
:meth:`Validator.notice` (also after the edit is taken back, so the index re-reads what the
undo restored); subtrees copied between the trees (commit, discard-changes, a clean candidate
following running) are reported as the changes :func:`sync_paths` returns; a tree that
replaces another one as a whole (load, copy-config, confirmed-commit rollback, a diverged
commit or discard) goes through :meth:`Datastores._install`, which tracks it afresh and
forgets the tree it replaces.

running.xml holds the explicit configuration only (the loader fills the defaults in again).
Its bytes are kept per entry (:class:`agent.persist.ExplicitForm`) and the same touched paths
that drive the replay name the entries to serialise again, so a save costs the changed
entries plus joining the others' bytes.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path

from lxml import etree

from agent.edit_config import (DataPath, EditResult, EntryIndex, apply_edit, attach, detach, find_step,
                               is_default, step_of)
from agent.errors import (ErrorTag, ErrorType, RpcError, RpcErrors, in_use, lock_denied, reply_errors)
from agent.persist import TEMP_PREFIX, ExplicitForm, atomic_write, is_temp_file, remove_durably
from agent.schema import Schema, SchemaNode
from agent.validate import Change, Validator
from agent.xmlns import DEFAULT_MARK, INTERNAL, NC, is_within, qn

log = logging.getLogger(__name__)

DATA_TAG = qn(NC, "data")
CONFIG_TAG = qn(NC, "config")
RUNNING, CANDIDATE, STARTUP = "running", "candidate", "startup"
NAMES: tuple[str, ...] = (RUNNING, CANDIDATE, STARTUP)
TEST_OPTIONS: frozenset[str] = frozenset({"test-then-set", "set", "test-only"})

#: ``hook(new_root, changes)``: called after validation and before running is replaced; raise
#: :class:`RpcError` to refuse (nothing changes).  The dataplane push lives behind this.  A
#: hook may also have an ``abort()`` method: it is called when the change it accepted does
#: not happen after all (a later hook refused it, or running could not be saved), and must
#: undo what the hook's last call did.
CommitHook = Callable[[etree._Element, list[Change]], None]
#: ``listener(changes)``: called after running changed and was saved (RFC 6470
#: netconf-config-change); it cannot refuse, and an exception in it is logged, not raised.
CommitListener = Callable[[list[Change]], None]
#: ``listener(datastore, changes)``: the same for every datastore whose change is reported
#: (RFC 6470: running and startup).
ChangeListener = Callable[[str, list[Change]], None]


class DatastoreLoadError(Exception):
    """A saved datastore file cannot be loaded: the server must not start on it."""


def empty_root() -> etree._Element:
    """An empty datastore tree (the defaults are filled in by :func:`agent.defaults`)."""
    return etree.Element(DATA_TAG, nsmap={None: NC})


def strip_internal(element: etree._Element) -> etree._Element:
    """Remove the agent's bookkeeping attributes (``DEFAULT_MARK`` ...) in place, for output.

    Callers pass a copy they own; the internal namespace never reaches the wire.
    """
    attr_prefix = "{" + INTERNAL + "}"
    for node in element.xpath("descendant-or-self::*[@*[namespace-uri()=$ns]]", ns=INTERNAL):
        for name in [a for a in node.attrib if a.startswith(attr_prefix)]:
            del node.attrib[name]
    etree.cleanup_namespaces(element)
    return element



def drop_default_nodes(element: etree._Element) -> None:
    """Remove every node marked as a default (a saved file is re-defaulted on load)."""
    for node in element.xpath("descendant::*[@*[namespace-uri()=$ns]]", ns=INTERNAL):
        if node.get(DEFAULT_MARK) == "1":
            parent = node.getparent()
            if parent is not None:
                parent.remove(node)


class Datastore:
    """One configuration datastore: its tree, the tree's list index, and its lock (RFC 6241 7.5)."""

    def __init__(self, name: str, root: etree._Element) -> None:
        self.name = name
        #: session-id of the lock holder, None when unlocked
        self.lock_holder: int | None = None
        #: when the lock was granted (RFC 6022 locked-time), None when unlocked
        self.locked_time: datetime | None = None
        self._root = root
        self.index = EntryIndex()

    @property
    def root(self) -> etree._Element:
        return self._root

    @root.setter
    def root(self, root: etree._Element) -> None:
        """A new tree brings a new (empty, lazily built) index."""
        self._root = root
        self.index = EntryIndex()

    def adopt(self, root: etree._Element, index: EntryIndex) -> None:
        """Take over another datastore's tree together with its index (commit swap)."""
        self._root = root
        self.index = index


class Candidate(Datastore):
    """The candidate (RFC 6241 8.3), with what it has done since it last equalled running."""

    def __init__(self, name: str, root: etree._Element) -> None:
        super().__init__(name, root)
        #: changes since the candidate last equalled running, in order
        self.pending: list[Change] = []
        #: data paths those changes touched (replayed into the other tree on commit / discard)
        self.touched: list[DataPath] = []
        #: sessions whose edits are among the pending changes (lock rule of RFC 6241 8.3.5.1)
        self.modified_by: set[int] = set()
        #: True when running changed under a dirty candidate: ``pending`` no longer describes
        #: the difference, so the next commit validates and copies the whole tree
        self.diverged = False

    @property
    def dirty(self) -> bool:
        return bool(self.touched) or self.diverged

    def mark_clean(self) -> None:
        self.pending = []
        self.touched = []
        self.modified_by = set()
        self.diverged = False


class Datastores:
    """running, candidate and startup, their locks, persistence and commit."""

    def __init__(self, schema: Schema, validator: Validator, state_dir: Path) -> None:
        self.schema = schema
        self.validator = validator
        self.state_dir = Path(state_dir)
        self.running = Datastore(RUNNING, self._with_defaults(empty_root()))
        self.candidate = Candidate(CANDIDATE, copy.deepcopy(self.running.root))
        self.startup = Datastore(STARTUP, self._with_defaults(empty_root()))
        validator.track(self.running.root)
        validator.track(self.candidate.root)
        #: whether startup.xml exists (delete-config removes it)
        self.startup_saved = False
        self.commit_hooks: list[CommitHook] = []
        self.commit_listeners: list[CommitListener] = []
        #: told of changes to startup (copy-config, delete-config), with the datastore's name
        self.startup_listeners: list[ChangeListener] = []
        #: running.xml's bytes without defaults, kept per tree and entry (see persist_running)
        self.explicit = ExplicitForm(is_default)
        #: the pending confirmed commit state (agent.confirmed_commit.ConfirmedCommits), made on first use
        self.confirmed_commits: object | None = None

    # ----- whole trees and the validator's value indexes --------------------------------

    def _install(self, store: Datastore, root: etree._Element) -> None:
        """``root`` becomes ``store``'s whole tree (module docstring, "tracked").

        Running and candidate trees are tracked afresh (their value indexes are rebuilt from
        the new tree when first needed); the replaced tree is forgotten unless the other
        datastore holds it now.
        """
        old = store.root
        store.root = root
        if store is not self.startup:
            self.validator.track(root)
        if old is not self.running.root and old is not self.candidate.root:
            self.validator.forget(old)
            self.explicit.forget(old)

    def _entries_changed(self, store: Datastore, paths: Iterable[DataPath]) -> None:
        """The saved form of the entries (children of top-level nodes) on ``paths`` in
        ``store``'s tree is out of date: the paths an edit or a replay touched name every
        entry it can change (an entry it creates is new, so not in the saved form yet)."""
        root = store.root
        for path in paths:
            top_schema = self.schema.root(path[0][0])
            top = None if top_schema is None else find_step(root, top_schema, path[0], store.index)
            if top is None or top_schema is None:
                continue
            if len(path) == 1:
                self.explicit.invalidate(root, top, None)
                continue
            entry_schema = top_schema.child(path[1][0])
            entry = None if entry_schema is None else find_step(top, entry_schema, path[1], store.index)
            if entry is not None:
                self.explicit.invalidate(root, top, entry)

    # ----- files ------------------------------------------------------------------------

    @property
    def running_file(self) -> Path:
        return self.state_dir / "running.xml"

    @property
    def startup_file(self) -> Path:
        return self.state_dir / "startup.xml"

    @property
    def rollback_file(self) -> Path:
        """Running as it was before a pending confirmed commit (RFC 6241 8.4.1: a reboot
        before the confirming commit restores it)."""
        return self.state_dir / "confirmed-commit-rollback.xml"

    def save_rollback_point(self, root: etree._Element) -> None:
        atomic_write(self.rollback_file, self.serialize(root))

    def drop_rollback_point(self) -> None:
        remove_durably(self.rollback_file)

    def load(self) -> None:
        """Start-up: running comes from startup.xml if saved, else from the rollback point of a
        confirmed commit that was pending when the server stopped, else running.xml, else empty.

        A file that does not parse or does not validate raises :class:`DatastoreLoadError`
        naming the file and its first errors: the server refuses to start rather than
        silently coming up with an empty configuration.
        """
        self._remove_leftover_temp_files()
        if self.startup_file.exists():
            self._install(self.startup, self._load_file(self.startup_file))
            self.startup_saved = True
            self._install(self.running, copy.deepcopy(self.startup.root))
            self.persist_running()
        elif self.rollback_file.exists():
            log.warning("a confirmed commit was never confirmed before the restart; "
                        "running goes back to %s", self.rollback_file)
            self._install(self.running, self._load_file(self.rollback_file))
            self.persist_running()
        elif self.running_file.exists():
            self._install(self.running, self._load_file(self.running_file))
        self.drop_rollback_point()
        self._install(self.candidate, copy.deepcopy(self.running.root))
        self.candidate.mark_clean()

    def _remove_leftover_temp_files(self) -> None:
        """Temporary files are what a crash mid-write leaves; the real files are intact."""
        if not self.state_dir.is_dir():
            return
        for path in self.state_dir.iterdir():
            if is_temp_file(path) and path.name[len(TEMP_PREFIX):].startswith(
                    ("running.xml", "startup.xml", self.rollback_file.name)):
                log.warning("removing %s, left over from an interrupted write", path)
                path.unlink(missing_ok=True)

    def _load_file(self, path: Path) -> etree._Element:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True,
                                 huge_tree=True)
        try:
            document = etree.parse(str(path), parser).getroot()
        except (etree.XMLSyntaxError, OSError) as exc:
            raise DatastoreLoadError(f"{path}: not a readable XML document: {exc}") from exc
        if document.tag not in (DATA_TAG, CONFIG_TAG):
            raise DatastoreLoadError(f"{path}: the document element is {document.tag}, expected "
                                     f"{DATA_TAG} or {CONFIG_TAG}")
        drop_default_nodes(document)
        try:
            root = self.tree_from_config(document)
        except (RpcError, RpcErrors) as exc:
            raise DatastoreLoadError(_describe(path, reply_errors(exc))) from exc
        errors = self.validator.validate_full(root)
        if errors:
            raise DatastoreLoadError(_describe(path, errors))
        return root

    def tree_from_config(self, config: etree._Element) -> etree._Element:
        """A datastore tree from a whole `<config>`/`<data>` document (type-checked, defaults).

        Used for copy-config with an inline source and for loading files; raises RpcError(s)
        for anything the schema does not allow (unknown elements, bad values, state data).
        """
        from agent.instance import load_instance
        # defaults are filled here, with the validator's `when` test (a default guarded by a
        # false `when` does not exist, RFC 7950 7.6.1); error-paths start below `config`
        # even while it is still inside the request (agent.yang_types.instance_path)
        return self._with_defaults(load_instance(self.schema, config, fill_defaults=False))

    def _with_defaults(self, root: etree._Element) -> etree._Element:
        from agent import defaults
        defaults.fill_tree_defaults(root, self.schema, self.validator.when_holds)
        return root

    def serialize(self, root: etree._Element) -> bytes:
        """The bytes saved for startup and the rollback point: the tree as held, default marks
        included (one C-level serialisation of a tree saved once; the loader drops marked
        nodes and instantiates defaults afresh)."""
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def persist_running(self) -> None:
        """Save running without its defaults (re-filled on load), re-serialising only the
        entries changed since the last save (:class:`agent.persist.ExplicitForm`)."""
        atomic_write(self.running_file, self.explicit.serialize(self.running.root))

    def persist_startup(self) -> None:
        atomic_write(self.startup_file, self.serialize(self.startup.root))
        self.startup_saved = True

    # ----- access -----------------------------------------------------------------------

    def get(self, name: str) -> Datastore:
        if name == RUNNING:
            return self.running
        if name == CANDIDATE:
            return self.candidate
        if name == STARTUP:
            return self.startup
        raise RpcError(ErrorTag.INVALID_VALUE, f"unknown datastore '{name}'", type=ErrorType.PROTOCOL,
                       info=[("bad-element", name)])

    def root(self, name: str) -> etree._Element:
        """The live tree of a datastore (read-only for callers: copy before changing)."""
        return self.get(name).root

    # ----- locks (RFC 6241 7.5, 7.6, 8.3.5.1) -------------------------------------------

    def holder(self, name: str) -> int | None:
        return self.get(name).lock_holder

    def lock(self, name: str, session_id: int) -> None:
        """Grant the lock or raise lock-denied carrying the holder's session-id."""
        store = self.get(name)
        if store.lock_holder is not None:
            raise lock_denied(store.lock_holder, name)
        if store is self.candidate and self.candidate.dirty:
            others = sorted(self.candidate.modified_by - {session_id})
            if others or self.candidate.diverged:
                holder = others[0] if others else 0
                err = lock_denied(holder, name)
                err.message = (f"the candidate has uncommitted changes (made by session {holder}); "
                               "commit or discard them before locking it")
                raise err
        store.lock_holder = session_id
        store.locked_time = datetime.now(timezone.utc)

    def unlock(self, name: str, session_id: int) -> None:
        """Release a lock this session holds; unlocking the candidate discards its changes."""
        store = self.get(name)
        if store.lock_holder is None:
            # no session-id: 0 would mean "locked by something outside NETCONF" (RFC 6241 7.5)
            raise RpcError(ErrorTag.OPERATION_FAILED, f"the {name} datastore is not locked",
                           type=ErrorType.PROTOCOL)
        if store.lock_holder != session_id:
            raise RpcError(ErrorTag.OPERATION_FAILED,
                           f"the {name} datastore is locked by session {store.lock_holder}, not by this session",
                           type=ErrorType.PROTOCOL, info=[("session-id", str(store.lock_holder))])
        store.lock_holder = None
        store.locked_time = None
        if store is self.candidate and self.candidate.dirty:
            self.discard_changes()

    def release_session(self, session_id: int) -> list[str]:
        """A session ended: drop its locks (a held candidate lock discards its changes)."""
        released = []
        for name in NAMES:
            store = self.get(name)
            if store.lock_holder == session_id:
                self.unlock(name, session_id)
                released.append(name)
        return released

    def check_writable(self, name: str, session_id: int) -> None:
        """A datastore locked by another session cannot be changed by this one."""
        holder = self.get(name).lock_holder
        if holder is not None and holder != session_id:
            raise in_use(name, holder, "it is locked")

    # ----- edit-config ------------------------------------------------------------------

    def edit(self, name: str, config: etree._Element, *, session_id: int, default_operation: str = "merge",
             error_option: str = "stop-on-error", test_option: str = "test-then-set") -> EditResult:
        """RFC 6241 7.2 on running or candidate.

        running: the edit is validated incrementally (with every test-option: running is
        always valid), the commit hooks run, and the file is rewritten; any failure leaves
        running unchanged.
        candidate: the edit is type-checked now and validated at commit (RFC 6241 8.3).
        Under continue-on-error the errors of the skipped nodes are raised after the rest
        has been applied.
        """
        if test_option not in TEST_OPTIONS:
            raise RpcError(ErrorTag.INVALID_VALUE, f"test-option '{test_option}' is not one of "
                           "test-then-set, set, test-only", type=ErrorType.PROTOCOL,
                           info=[("bad-element", "test-option")])
        if name not in (RUNNING, CANDIDATE):
            raise RpcError(ErrorTag.INVALID_VALUE, f"edit-config cannot target the {name} datastore; "
                           "use copy-config for startup", type=ErrorType.PROTOCOL,
                           info=[("bad-element", name)])
        self.check_writable(name, session_id)
        store = self.get(name)
        result = apply_edit(self.schema, store.root, config, default_operation=default_operation,
                            error_option=error_option, index=store.index, when_ok=self.validator.when_holds)
        self._entries_changed(store, result.touched)
        try:
            if name == RUNNING:
                self._settle_running_edit(result, test_option)
            else:
                self._settle_candidate_edit(result, test_option, session_id)
        except BaseException:
            self._take_back(store, result)
            raise
        if result.errors:
            raise RpcErrors(result.errors)
        return result

    def _take_back(self, store: Datastore, result: EditResult) -> None:
        """Undo an applied edit; the validator re-reads every node its changes name."""
        changes = list(result.changes)
        result.rollback()
        self.validator.notice(store.root, changes)

    def _settle_running_edit(self, result: EditResult, test_option: str) -> None:
        # test-option "set" (RFC 6241 8.6.5) would skip this; running is validated anyway:
        # the dataplane behind the commit hooks and the incremental validator (which assumes
        # the tree before each change was valid) both rely on running always being valid.
        errors = self.validator.validate(self.running.root, result.changes)
        if errors:
            raise RpcErrors(errors)
        if test_option == "test-only":
            self._take_back(self.running, result)
            return
        if not result.changes and not result.touched:
            return
        self._run_commit_hooks(self.running.root, result.changes)
        try:
            self.persist_running()
        except BaseException:
            # the caller takes the edit back: what the hooks pushed must go back too
            self._abort_commit_hooks(self.commit_hooks)
            raise
        self._follow_running(result.touched)
        self._committed(result.changes)

    def _settle_candidate_edit(self, result: EditResult, test_option: str, session_id: int) -> None:
        if test_option == "test-only":
            errors = self.validator.validate(self.candidate.root, self._live_pending(result.changes))
            self._take_back(self.candidate, result)
            if errors:
                raise RpcErrors(errors)
            return
        # validated at commit; the value indexes follow the tree now
        self.validator.notice(self.candidate.root, result.changes)
        if result.touched:
            self.candidate.pending.extend(result.changes)
            self.candidate.touched.extend(result.touched)
            self.candidate.modified_by.add(session_id)

    def _follow_running(self, touched: list[DataPath]) -> None:
        """After running changed directly: a clean candidate follows it, a dirty one diverges."""
        if self.candidate.dirty:
            self.candidate.diverged = True
        else:
            self._sync(self.running, self.candidate, touched)

    def _sync(self, source: Datastore, target: Datastore, touched: list[DataPath]) -> list[Change]:
        """:func:`sync_paths`, with the copied subtrees reported to the validator and the
        saved form; returns the changes it made to ``target``."""
        self._entries_changed(target, touched)      # before: the entries are still in the tree
        changes = sync_paths(self.schema, source, target, touched)
        self.validator.notice(target.root, changes)
        return changes

    # ----- commit and discard (RFC 6241 8.3.4) ------------------------------------------

    def commit(self) -> list[Change]:
        """Make running equal to the candidate: validate, run the hooks, swap, persist.

        Returns the changes that were committed.  Raises with nothing changed when the
        candidate is invalid or a hook refuses.
        """
        candidate = self.candidate
        if not candidate.dirty:
            return []
        if candidate.diverged:
            return self._commit_whole_tree()
        changes = self._live_pending(candidate.pending)
        errors = self.validator.validate(candidate.root, changes)
        if errors:
            raise RpcErrors(errors)
        self._run_commit_hooks(candidate.root, changes)
        old_root, old_index = self.running.root, self.running.index
        # both trees stay tracked: the value indexes follow them through the swap
        self.running.adopt(candidate.root, candidate.index)
        candidate.adopt(old_root, old_index)
        # replaying the touched paths onto the old running gives the net change: edits the
        # candidate went through and undid (create then delete) are not in it (RFC 6470)
        net = self._sync(self.running, candidate, candidate.touched)
        candidate.mark_clean()
        self.persist_running()
        self._committed(net)
        return changes

    def _commit_whole_tree(self) -> list[Change]:
        new_root = self.candidate.root
        errors = self.validator.validate_full(new_root)
        if errors:
            raise RpcErrors(errors)
        changes = diff_trees(self.schema, self.running.root, new_root)
        self._run_commit_hooks(new_root, changes)
        self._install(self.running, new_root)
        self._install(self.candidate, copy.deepcopy(new_root))
        self.candidate.mark_clean()
        self.persist_running()
        self._committed(changes)
        return changes

    def discard_changes(self) -> None:
        """RFC 6241 8.3.4.2: the candidate becomes the current running again."""
        candidate = self.candidate
        if candidate.diverged:
            self._install(candidate, copy.deepcopy(self.running.root))
        elif candidate.touched:
            self._sync(self.running, candidate, candidate.touched)
        candidate.mark_clean()

    def validate_datastore(self, name: str) -> list[RpcError]:
        """RFC 6241 8.6 on a datastore: the candidate checks what changed since it equalled
        running (running itself is always valid); the others are checked in full."""
        if name == CANDIDATE and not self.candidate.diverged:
            return self.validator.validate(self.candidate.root, self._live_pending(self.candidate.pending))
        return self.validator.validate_full(self.get(name).root)

    def _live_pending(self, changes: Iterable[Change]) -> list[Change]:
        """Drop changes whose nodes a later edit removed again: they describe nothing now."""
        root = self.candidate.root
        return [c for c in changes
                if is_within(c.parent, root) and (c.element is None or is_within(c.element, root))]

    def _run_commit_hooks(self, root: etree._Element, changes: list[Change]) -> None:
        done: list[CommitHook] = []
        try:
            for hook in list(self.commit_hooks):
                hook(root, changes)
                done.append(hook)
        except BaseException:
            self._abort_commit_hooks(done)
            raise

    @staticmethod
    def _abort_commit_hooks(hooks: list[CommitHook]) -> None:
        """Tell the hooks that accepted a change that it is not happening, last first."""
        for hook in reversed(hooks):
            abort = getattr(hook, "abort", None)
            if abort is None:
                continue
            try:
                abort()
            except Exception:
                log.exception("commit hook %r failed to undo its change", hook)

    def _committed(self, changes: list[Change]) -> None:
        """Tell the commit listeners; running has changed whatever they do."""
        for listener in list(self.commit_listeners):
            try:
                listener(changes)
            except Exception:
                log.exception("commit listener %r failed", listener)

    # ----- whole-tree replacement (copy-config, delete-config, rollback) ----------------

    def replace(self, name: str, new_root: etree._Element, *, session_id: int) -> None:
        """copy-config: ``new_root`` (owned by the datastore from now on) becomes ``name``.

        Running is validated in full and passes through the commit hooks first.
        """
        self.check_writable(name, session_id)
        if name == RUNNING:
            self.replace_running(new_root)
        elif name == CANDIDATE:
            self._install(self.candidate, new_root)
            self.candidate.pending = []
            self.candidate.touched = []
            self.candidate.diverged = True
            self.candidate.modified_by.add(session_id)
        elif name == STARTUP:
            old = self.startup.root
            self._install(self.startup, new_root)
            self.persist_startup()
            self._startup_changed(diff_trees(self.schema, old, new_root))
        else:
            self.get(name)

    def replace_running(self, new_root: etree._Element, *, validate: bool = True) -> list[Change]:
        """Running becomes ``new_root`` (validated in full, hooks run, persisted)."""
        if validate:
            errors = self.validator.validate_full(new_root)
            if errors:
                raise RpcErrors(errors)
        changes = diff_trees(self.schema, self.running.root, new_root)
        self._run_commit_hooks(new_root, changes)
        self._install(self.running, new_root)
        self.persist_running()
        if self.candidate.dirty:
            self.candidate.diverged = True
        else:
            self._install(self.candidate, copy.deepcopy(new_root))
        self._committed(changes)
        return changes

    def restore_running(self, snapshot: etree._Element) -> list[Change]:
        """Confirmed-commit rollback: running becomes a tree it held before (already valid).

        The commit hooks see the restoring change like any other, and the file is rewritten.
        """
        return self.replace_running(snapshot, validate=False)

    def delete_startup(self, *, session_id: int) -> None:
        """delete-config on startup: the saved configuration is gone, startup is empty."""
        self.check_writable(STARTUP, session_id)
        old = self.startup.root
        self._install(self.startup, self._with_defaults(empty_root()))
        remove_durably(self.startup_file)
        self.startup_saved = False
        self._startup_changed(diff_trees(self.schema, old, self.startup.root))

    def _startup_changed(self, changes: list[Change]) -> None:
        for listener in list(self.startup_listeners):
            try:
                listener(STARTUP, changes)
            except Exception:
                log.exception("startup listener %r failed", listener)

    def copy_of(self, name: str) -> etree._Element:
        """A private deep copy of a datastore tree (copy-config source, rollback snapshot)."""
        return copy.deepcopy(self.root(name))


# --------------------------------------------------------------------------- replay ---------

def sync_paths(schema: Schema, source: Datastore, target: Datastore,
               paths: Iterable[DataPath]) -> list[Change]:
    """Make ``target``'s tree equal ``source``'s at every path in ``paths`` (with subtrees).

    The two trees are equal everywhere else.  Paths under another listed path are covered
    by it; a path whose parent is missing in ``target`` is widened to the first missing
    ancestor.  Default marks on the ancestors are copied too.  Cost: one lookup per path
    step through the trees' list indexes, plus copying the changed subtrees.

    Returns what happened to ``target`` as changes (a replaced subtree is a delete of the old
    one and a create of the copy), for the validator's value indexes of ``target``.
    """
    changes: list[Change] = []
    done: set[DataPath] = set()
    for path in sorted(set(paths), key=lambda p: _document_order(schema, source, p)):
        if any(path[:i] in done for i in range(1, len(path) + 1)):
            continue
        path = _widen_to_existing_parent(schema, target, path)
        if any(path[:i] in done for i in range(1, len(path))):
            continue
        changes += _sync_one(schema, source, target, path)
        done.add(path)
    return changes


def _document_order(schema: Schema, source: Datastore, path: DataPath) -> tuple:
    """Sort key: paths gone from ``source`` first (shortest first), then the others in
    ``source`` document order - ancestors before descendants, and every node after the
    siblings that precede it, so placing each one after its predecessor rebuilds the order
    of user-ordered lists exactly."""
    chain = _walk(schema, source, path)
    if chain[-1] is None:
        return (0, len(path))
    positions = []
    for parent, child in zip(chain, chain[1:]):
        assert parent is not None and child is not None
        positions.append(parent.index(child))
    return (1, tuple(positions))


def _walk(schema: Schema, store: Datastore, path: DataPath) -> list[etree._Element | None]:
    """The elements along ``path`` in ``store`` (root first); None from the first missing step."""
    chain: list[etree._Element | None] = [store.root]
    node: etree._Element | None = store.root
    current: SchemaNode | None = None
    for step in path:
        current = schema.root(step[0]) if current is None else current.child(step[0])
        assert current is not None, step
        node = None if node is None else find_step(node, current, step, store.index)
        chain.append(node)
    return chain


def _widen_to_existing_parent(schema: Schema, target: Datastore, path: DataPath) -> DataPath:
    chain = _walk(schema, target, path[:-1])
    for depth, element in enumerate(chain[1:]):
        if element is None:
            return path[: depth + 1]
    return path


def _schema_at(schema: Schema, path: DataPath) -> SchemaNode:
    current: SchemaNode | None = None
    for step in path:
        current = schema.root(step[0]) if current is None else current.child(step[0])
        assert current is not None, step
    assert current is not None
    return current


def _sync_one(schema: Schema, source: Datastore, target: Datastore, path: DataPath) -> list[Change]:
    src_chain = _walk(schema, source, path)
    dst_chain = _walk(schema, target, path)
    for src, dst in zip(src_chain[1:-1], dst_chain[1:-1]):   # ancestors: copy the default mark
        if src is not None and dst is not None and is_default(src) != is_default(dst):
            if is_default(src):
                dst.set(DEFAULT_MARK, "1")
            else:
                del dst.attrib[DEFAULT_MARK]
    dst_parent, dst_node = dst_chain[-2], dst_chain[-1]
    src_parent, src_node = src_chain[-2], src_chain[-1]
    if dst_parent is None:
        return []
    node = _schema_at(schema, path)
    changes: list[Change] = []
    if dst_node is not None:
        detach(dst_parent, dst_node, target.index)
        changes.append(Change("delete", node, dst_parent, None, dst_node.text if node.is_leaf else None, None,
                              old_element=dst_node))
    if src_node is None:
        return changes
    assert src_parent is not None
    new = copy.deepcopy(src_node)
    _insert_like(schema, src_parent, src_node, dst_parent, new, target.index)
    changes.append(Change("create", node, dst_parent, new, None, new.text if node.is_leaf else None))
    return changes


def _insert_like(schema: Schema, src_parent: etree._Element, src_node: etree._Element,
                 dst_parent: etree._Element, new: etree._Element, index: EntryIndex) -> None:
    """Insert ``new`` into ``dst_parent`` after the counterpart of ``src_node``'s nearest
    preceding sibling that ``dst_parent`` has (keeps ordered-by-user order identical)."""
    parent_schema = _schema_of_parent(schema, src_parent)
    sibling = src_node.getprevious()
    while sibling is not None:
        sibling_schema = schema.root(sibling.tag) if parent_schema is None else parent_schema.child(sibling.tag)
        if sibling_schema is not None:
            counterpart = find_step(dst_parent, sibling_schema, step_of(sibling, sibling_schema), index)
            if counterpart is not None:
                counterpart.addnext(new)
                index.inserted(dst_parent, new)
                return
        sibling = sibling.getprevious()
    attach(dst_parent, new, 0, index)


def _schema_of_parent(schema: Schema, element: etree._Element) -> SchemaNode | None:
    tags = []
    node: etree._Element | None = element
    while node is not None and node.getparent() is not None:
        tags.append(node.tag)
        node = node.getparent()
    current: SchemaNode | None = None
    for tag in reversed(tags):
        current = schema.root(tag) if current is None else current.child(tag)
    return current


# --------------------------------------------------------------------------- diff -----------

def diff_trees(schema: Schema, old_root: etree._Element, new_root: etree._Element) -> list[Change]:
    """The changes that turn ``old_root`` into ``new_root`` (for hooks after whole-tree swaps)."""
    changes: list[Change] = []
    _diff_children(schema, None, old_root, new_root, changes)
    return changes


def _diff_children(schema: Schema, parent_schema: SchemaNode | None, old_parent: etree._Element,
                   new_parent: etree._Element, out: list[Change]) -> None:
    def index(parent: etree._Element) -> dict[tuple, tuple[etree._Element, SchemaNode]]:
        found = {}
        for child in parent:
            if not isinstance(child.tag, str):
                continue
            node = schema.root(child.tag) if parent_schema is None else parent_schema.child(child.tag)
            if node is not None:
                found[step_of(child, node)] = (child, node)
        return found

    old, new = index(old_parent), index(new_parent)
    for step, (element, node) in old.items():
        if step not in new:
            out.append(Change("delete", node, new_parent, None, element.text if node.is_leaf else None, None,
                              old_element=element))
    for step, (element, node) in new.items():
        before = old.get(step)
        if before is None:
            out.append(Change("create", node, new_parent, element, None, element.text if node.is_leaf else None))
        elif node.keyword == "leaf":
            if (before[0].text or "") != (element.text or ""):
                out.append(Change("modify", node, new_parent, element, before[0].text, element.text))
        elif node.keyword in ("container", "list"):
            _diff_children(schema, node, before[0], element, out)
        elif node.keyword in ("anydata", "anyxml"):
            if etree.tostring(before[0]) != etree.tostring(element):
                out.append(Change("modify", node, new_parent, element))


def _describe(path: Path, errors: list[RpcError], limit: int = 5) -> str:
    lines = [f"{path}: the saved configuration is not valid ({len(errors)} error(s)); "
             "fix or remove the file to start:"]
    for err in errors[:limit]:
        where = f" at {err.path}" if err.path else ""
        lines.append(f"  {err.tag.value}{'/' + err.app_tag if err.app_tag else ''}{where}: {err.message}")
    if len(errors) > limit:
        lines.append(f"  ... and {len(errors) - limit} more")
    return "\n".join(lines)
