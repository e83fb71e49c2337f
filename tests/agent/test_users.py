"""The users file (SPEC sections 4 and 6): hashed passwords, keys, groups, the bootstrap admin."""

from __future__ import annotations

import json
import stat

import asyncssh
import pytest

from agent import users
from agent.server import ServerConfig
from agent.users import (
    ADMIN_PASSWORD_ENV,
    ADMIN_PASSWORD_FILE,
    USERS_FILE,
    UsersError,
    UserStore,
    bootstrap_admin,
)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_users_file_has_mode_0600(tmp_path) -> None:
    store = UserStore(tmp_path)
    store.add("alice", password="correct horse")
    assert mode(tmp_path / USERS_FILE) == 0o600


def test_password_is_stored_only_as_a_salted_scrypt_hash(tmp_path) -> None:
    store = UserStore(tmp_path)
    store.add("alice", password="correct horse")
    text = (tmp_path / USERS_FILE).read_text()
    assert "correct horse" not in text
    entry = json.loads(text)["users"]["alice"]["password"]
    assert entry["scheme"] == "scrypt" and entry["salt"] and entry["hash"]


def test_right_password_verifies_and_wrong_one_does_not(tmp_path) -> None:
    store = UserStore(tmp_path)
    store.add("alice", password="correct horse")
    assert store.verify_password("alice", "correct horse")
    assert not store.verify_password("alice", "correct horse ")
    assert not store.verify_password("bob", "correct horse")


def test_repeated_correct_login_is_remembered_but_a_wrong_one_always_pays_scrypt(tmp_path, monkeypatch) -> None:
    store = UserStore(tmp_path)
    store.add("alice", password="correct horse")
    assert store.verify_password("alice", "correct horse")

    def no_scrypt(*args, **kwargs):
        raise AssertionError("scrypt was run")
    monkeypatch.setattr(users, "_scrypt", no_scrypt)
    assert store.verify_password("alice", "correct horse")
    with pytest.raises(AssertionError, match="scrypt was run"):
        store.verify_password("alice", "wrong guess")


def test_a_remembered_login_is_forgotten_when_the_password_changes(tmp_path) -> None:
    store = UserStore(tmp_path)
    store.add("alice", password="old")
    assert store.verify_password("alice", "old")
    UserStore(tmp_path).add("alice", password="new")   # e.g. `vsi-agent users add` meanwhile
    assert not store.verify_password("alice", "old")
    assert store.verify_password("alice", "new")


def test_no_password_material_but_the_scrypt_hash_reaches_disk(tmp_path) -> None:
    store = UserStore(tmp_path)
    store.add("alice", password="correct horse")
    store.verify_password("alice", "correct horse")
    entry = json.loads((tmp_path / USERS_FILE).read_text())["users"]["alice"]
    assert set(entry["password"]) == {"scheme", "n", "r", "p", "salt", "hash"}


def test_each_user_has_its_own_salt(tmp_path) -> None:
    store = UserStore(tmp_path)
    store.add("alice", password="same")
    store.add("bob", password="same")
    users = json.loads((tmp_path / USERS_FILE).read_text())["users"]
    assert users["alice"]["password"]["salt"] != users["bob"]["password"]["salt"]
    assert users["alice"]["password"]["hash"] != users["bob"]["password"]["hash"]


def test_key_only_user_cannot_log_in_with_a_password(tmp_path) -> None:
    store = UserStore(tmp_path)
    key = asyncssh.generate_private_key("ssh-ed25519")
    store.add("robot", key=key.export_public_key().decode())
    assert not store.verify_password("robot", "")
    assert store.accepts_key("robot", key.convert_to_public())
    assert not store.accepts_key("robot", asyncssh.generate_private_key("ssh-ed25519").convert_to_public())


def test_adding_to_an_existing_user_keeps_what_it_had(tmp_path) -> None:
    store = UserStore(tmp_path)
    key = asyncssh.generate_private_key("ssh-ed25519")
    store.add("alice", password="pw", groups=["ops"])
    store.add("alice", key=key.export_public_key().decode(), groups=["audit"])
    assert store.verify_password("alice", "pw")
    assert store.accepts_key("alice", key.convert_to_public())
    assert store.groups("alice") == ["ops", "audit"]


@pytest.mark.parametrize("name", ["", "has space", "a/b", "x" * 65, "-dash-first"])
def test_invalid_user_name_is_refused_and_nothing_is_written(tmp_path, name: str) -> None:
    store = UserStore(tmp_path)
    with pytest.raises(UsersError):
        store.add(name, password="pw")
    assert not (tmp_path / USERS_FILE).exists()


@pytest.mark.parametrize("key", ["not a key", "ssh-ed25519 AAAAnotbase64", "PRIVATE"])
def test_bad_public_key_is_refused_and_nothing_is_written(tmp_path, key: str) -> None:
    if key == "PRIVATE":
        key = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
    store = UserStore(tmp_path)
    with pytest.raises(UsersError):
        store.add("alice", key=key)
    assert not (tmp_path / USERS_FILE).exists()


def test_empty_password_is_refused(tmp_path) -> None:
    with pytest.raises(UsersError):
        UserStore(tmp_path).add("alice", password="")


def test_corrupt_users_file_is_a_clear_error(tmp_path) -> None:
    (tmp_path / USERS_FILE).write_text("{not json")
    with pytest.raises(UsersError, match="not a valid users file"):
        UserStore(tmp_path).load()


# --- SPEC section 6: the bootstrap admin -------------------------------------------------------

def test_first_start_creates_admin_with_the_given_password_and_no_password_file(tmp_path) -> None:
    store = UserStore(tmp_path)
    assert bootstrap_admin(store, "from-env") is None
    assert store.verify_password("admin", "from-env")
    assert not (tmp_path / ADMIN_PASSWORD_FILE).exists()


def test_first_start_without_a_password_generates_one_into_a_0600_file(tmp_path) -> None:
    store = UserStore(tmp_path)
    path = bootstrap_admin(store, None)
    assert path == tmp_path / ADMIN_PASSWORD_FILE
    assert mode(path) == 0o600
    password = path.read_text().strip()
    assert len(password) >= 16
    assert store.verify_password("admin", password)


def test_admin_is_created_only_on_first_start(tmp_path) -> None:
    store = UserStore(tmp_path)
    bootstrap_admin(store, "first")
    assert bootstrap_admin(store, "second") is None
    assert store.verify_password("admin", "first")
    assert not store.verify_password("admin", "second")


def test_admin_belongs_to_the_admin_group(tmp_path) -> None:
    store = UserStore(tmp_path)
    bootstrap_admin(store, "pw")
    assert store.groups("admin") == ["admin"]


def test_server_config_takes_the_admin_password_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(ADMIN_PASSWORD_ENV, "env-secret")
    assert ServerConfig().admin_password == "env-secret"
    monkeypatch.delenv(ADMIN_PASSWORD_ENV)
    assert ServerConfig().admin_password is None


def test_agent_with_empty_state_dir_creates_admin_from_its_config(agent_server) -> None:
    assert agent_server.server.admin_password_file is None
    assert agent_server.server.users.verify_password("admin", agent_server.password)
    assert mode(agent_server.state_dir / USERS_FILE) == 0o600


def test_agent_without_admin_password_writes_and_reports_the_generated_one(make_agent) -> None:
    agent = make_agent(admin_password=None)
    path = agent.server.admin_password_file
    assert path == agent.state_dir / ADMIN_PASSWORD_FILE and mode(path) == 0o600
    nc = agent.connect(password=path.read_text().strip())
    nc.close_session()


# --- login flooding: failed password attempts per connection (like OpenSSH MaxAuthTries) -----

class _FakeConnection:
    """Stands in for an asyncssh connection: the policy only closes it and asks for the peer."""

    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1

    def get_extra_info(self, name: str) -> object:
        return ("192.0.2.7", 40000) if name == "peername" else None


def _server(tmp_path):
    from agent.server import Server
    from tests.conftest import compiled_schema

    return Server(ServerConfig(port=0, state_dir=tmp_path / "state", admin_password="pw"),
                  schema=compiled_schema())


def test_a_connection_is_closed_after_max_auth_tries_failed_passwords(tmp_path) -> None:
    from agent.server import MAX_AUTH_TRIES

    server, conn = _server(tmp_path), _FakeConnection()
    assert MAX_AUTH_TRIES == 6
    answers = [server.password_attempt_failed(conn) for _ in range(MAX_AUTH_TRIES)]
    assert answers == [False] * (MAX_AUTH_TRIES - 1) + [True]
    assert conn.closed == 1


def test_failed_passwords_are_counted_per_connection(tmp_path) -> None:
    from agent.server import MAX_AUTH_TRIES

    server, first, second = _server(tmp_path), _FakeConnection(), _FakeConnection()
    for _ in range(MAX_AUTH_TRIES - 1):
        assert not server.password_attempt_failed(first)
    assert not server.password_attempt_failed(second)
    assert (first.closed, second.closed) == (0, 0)
    assert server.password_attempt_failed(first)
    assert (first.closed, second.closed) == (1, 0)


def test_a_closed_connection_forgets_its_failed_attempts(tmp_path) -> None:
    from agent.server import MAX_AUTH_TRIES

    server, conn = _server(tmp_path), _FakeConnection()
    server.connection_opened(conn)
    for _ in range(MAX_AUTH_TRIES - 1):
        server.password_attempt_failed(conn)
    server.connection_closed(conn)
    assert conn.closed == 0
    # nothing left behind: the count starts again from zero for the same object
    assert [server.password_attempt_failed(conn) for _ in range(MAX_AUTH_TRIES)][-2:] == [False, True]
