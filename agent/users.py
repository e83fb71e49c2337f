"""The agent's users: scrypt-hashed passwords, SSH authorized keys, NACM groups.

One JSON file, ``STATE_DIR/users.json``, mode 0600, written atomically (`agent.persist`:
temporary file, fsync, rename) so a crash never leaves half a users file.  It is read again at every
authentication, so ``vsi-agent users add`` takes effect on a running agent without a restart.

Passwords are never stored: each user has a random salt and the scrypt hash of the password
(RFC 7914, via :func:`hashlib.scrypt`), with its cost parameters stored beside it so they can
be raised later without breaking existing users.  Comparison is constant-time, and an unknown
user costs the same scrypt work as a known one, so response time does not reveal who exists.

scrypt is slow on purpose (tens of milliseconds), which would make every NETCONF connection of
an automation script pay it again.  So a *successful* check is remembered in memory only: a
keyed HMAC (random per-process key) of the password, valid while the user's stored hash is
unchanged.  A repeated correct login skips scrypt; a wrong password always pays full scrypt,
so guessing stays as expensive as before, and nothing faster than scrypt ever reaches disk.

SPEC section 6: on first start (no users file yet) the user ``admin`` is created with the
password from ``VSI_AGENT_ADMIN_PASSWORD``, or a random one saved to ``STATE_DIR/admin-password``
(mode 0600).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

from agent.persist import atomic_write

USERS_FILE = "users.json"
ADMIN_PASSWORD_FILE = "admin-password"
ADMIN_USER = "admin"
#: NACM group (RFC 8341) the bootstrap admin belongs to.
ADMIN_GROUP = "admin"
ADMIN_PASSWORD_ENV = "VSI_AGENT_ADMIN_PASSWORD"

#: scrypt cost: N=2^14, r=8, p=1 (about 16 MiB and tens of milliseconds per check).
SCRYPT_N = 1 << 14
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_HASH_BYTES = 32
_FORMAT_VERSION = 1
#: user names become NACM user-names and SSH user names: keep them simple.
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


class UsersError(Exception):
    """The users file or a requested change is invalid; the message says what to fix."""


@dataclass(frozen=True)
class PasswordHash:
    """A salted scrypt hash and the parameters that produced it."""

    salt: bytes
    digest: bytes
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P

    @classmethod
    def of(cls, password: str) -> "PasswordHash":
        salt = secrets.token_bytes(_SALT_BYTES)
        return cls(salt, _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P))

    def matches(self, password: str) -> bool:
        return hmac.compare_digest(self.digest, _scrypt(password, self.salt, self.n, self.r, self.p))

    def to_json(self) -> dict[str, Any]:
        return {
            "scheme": "scrypt", "n": self.n, "r": self.r, "p": self.p,
            "salt": base64.b64encode(self.salt).decode(),
            "hash": base64.b64encode(self.digest).decode(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PasswordHash":
        if data.get("scheme") != "scrypt":
            raise UsersError(f"unsupported password scheme {data.get('scheme')!r}")
        return cls(
            salt=base64.b64decode(data["salt"]), digest=base64.b64decode(data["hash"]),
            n=int(data["n"]), r=int(data["r"]), p=int(data["p"]),
        )


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=256 * 1024 * 1024, dklen=_HASH_BYTES)


#: Compared against when the user does not exist, so that case costs a real scrypt too.
_DUMMY_HASH = PasswordHash(salt=b"\0" * _SALT_BYTES, digest=b"\0" * _HASH_BYTES)


@dataclass
class User:
    name: str
    password: PasswordHash | None = None
    #: OpenSSH public key lines ("ssh-ed25519 AAAA... comment")
    authorized_keys: list[str] = field(default_factory=list)
    #: NACM groups (RFC 8341 section 2.5)
    groups: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "password": self.password.to_json() if self.password else None,
            "authorized_keys": list(self.authorized_keys),
            "groups": list(self.groups),
        }

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> "User":
        password = data.get("password")
        return cls(
            name=name,
            password=PasswordHash.from_json(password) if password else None,
            authorized_keys=[str(k) for k in data.get("authorized_keys", [])],
            groups=[str(g) for g in data.get("groups", [])],
        )

    def accepts_key(self, key: asyncssh.SSHKey) -> bool:
        """True if ``key`` is one of this user's authorized keys."""
        wanted = key.public_data
        for line in self.authorized_keys:
            try:
                if asyncssh.import_public_key(line).public_data == wanted:
                    return True
            except (asyncssh.KeyImportError, ValueError):
                continue   # validated on add; a hand-edited bad line only disables itself
        return False


class UserStore:
    """The users file of one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / USERS_FILE
        self._login_key = secrets.token_bytes(32)
        #: user name -> (stored scrypt digest, HMAC of the password that matched it)
        self._verified: dict[str, tuple[bytes, bytes]] = {}

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> dict[str, User]:
        """All users; an absent file means no users yet."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(raw)
            return {name: User.from_json(name, entry) for name, entry in data["users"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UsersError(f"{self.path} is not a valid users file: {exc}") from exc

    def get(self, name: str) -> User | None:
        return self.load().get(name)

    def save(self, users: dict[str, User]) -> None:
        """Write the whole file atomically with mode 0600."""
        data = {"version": _FORMAT_VERSION,
                "users": {name: user.to_json() for name, user in sorted(users.items())}}
        atomic_write(self.path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))

    def add(self, name: str, *, password: str | None = None, key: str | None = None,
            groups: list[str] | tuple[str, ...] = ()) -> User:
        """Create ``name`` or add credentials/groups to it.

        A password replaces the old one; a key and groups are added to the existing ones.
        """
        if not _NAME_RE.match(name):
            raise UsersError(f"invalid user name {name!r}: letters, digits, '_', '.', '-' (max 64)")
        if password is None and key is None and not groups:
            raise UsersError("nothing to add: give a password, a key or a group")
        if password is not None and not password:
            raise UsersError("the password is empty")
        key_line = _check_public_key(key) if key is not None else None
        users = self.load()
        user = users.setdefault(name, User(name))
        if password is not None:
            user.password = PasswordHash.of(password)
        if key_line is not None and key_line not in user.authorized_keys:
            user.authorized_keys.append(key_line)
        for group in groups:
            if group not in user.groups:
                user.groups.append(group)
        self.save(users)
        return user

    def verify_password(self, name: str, password: str) -> bool:
        """Constant-effort check: an unknown user or a key-only user costs one scrypt too."""
        if self.verified_before(name, password):
            return True
        user = self.get(name)
        stored = user.password if user and user.password else None
        ok = (stored or _DUMMY_HASH).matches(password) and stored is not None
        if ok and stored is not None:
            self._verified[name] = (stored.digest, self._login_tag(name, password))
        return ok

    def verified_before(self, name: str, password: str) -> bool:
        """True if this exact password was verified for ``name`` and is still the stored one.

        Cheap (no scrypt), so the SSH adapter calls it on the event loop before deciding to
        run the full check in a worker thread.
        """
        remembered = self._verified.get(name)
        if remembered is None:
            return False
        user = self.get(name)
        if user is None or user.password is None or user.password.digest != remembered[0]:
            self._verified.pop(name, None)
            return False
        return hmac.compare_digest(remembered[1], self._login_tag(name, password))

    def _login_tag(self, name: str, password: str) -> bytes:
        return hmac.new(self._login_key, f"{name}\0{password}".encode("utf-8"), hashlib.sha256).digest()

    def accepts_key(self, name: str, key: asyncssh.SSHKey) -> bool:
        user = self.get(name)
        return user is not None and user.accepts_key(key)

    def groups(self, name: str) -> list[str]:
        user = self.get(name)
        return list(user.groups) if user else []


def _check_public_key(text: str) -> str:
    """One OpenSSH public key line, normalised; rejects private keys and garbage."""
    line = text.strip()
    if "\n" in line:
        raise UsersError("give exactly one public key")
    try:
        asyncssh.import_public_key(line)
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise UsersError(f"not an SSH public key: {exc}") from exc
    return line


def bootstrap_admin(store: UserStore, password: str | None) -> Path | None:
    """SPEC section 6: create ``admin`` on first start (no users file).

    ``password`` is the value of ``VSI_AGENT_ADMIN_PASSWORD`` (None or empty when unset): it
    is used as given; otherwise a random password is generated and written to
    ``STATE_DIR/admin-password`` (0600), whose path is returned so the caller can print it.
    Returns None when nothing was generated (users existed already, or the password was given).
    """
    if store.exists():
        return None
    generated: Path | None = None
    if not password:
        password = secrets.token_urlsafe(18)
        generated = store.path.parent / ADMIN_PASSWORD_FILE
        atomic_write(generated, (password + "\n").encode("utf-8"))
    store.add(ADMIN_USER, password=password, groups=[ADMIN_GROUP])
    return generated
