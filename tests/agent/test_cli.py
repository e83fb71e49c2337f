"""SPEC section 6: the `vsi-agent` command lines."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import asyncssh
import pytest
from ncclient import manager

from agent import cli
from agent.server import ServerConfig, default_port
from agent.users import ADMIN_PASSWORD_ENV, ADMIN_PASSWORD_FILE, UserStore

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AgentProcess:
    """`python -m agent serve ...` as a user runs it, read until it says it is listening."""

    def __init__(self, state_dir: Path, env_password: str | None, extra: tuple[str, ...] = ()) -> None:
        env = {k: v for k, v in os.environ.items() if k != ADMIN_PASSWORD_ENV}
        if env_password is not None:
            env[ADMIN_PASSWORD_ENV] = env_password
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent", "serve", "--port", str(self.port), "--state-dir", str(state_dir), *extra],
            cwd=REPO, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )
        self.lines: list[str] = []
        while True:
            line = self.proc.stderr.readline()
            if not line:
                raise AssertionError("the agent exited before listening:\n" + "".join(self.lines))
            self.lines.append(line)
            if "NETCONF over SSH on" in line:
                break

    def connect(self, password: str) -> manager.Manager:
        return manager.connect(host="127.0.0.1", port=self.port, username="admin", password=password,
                               hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=30)

    def stop(self, sig: int) -> int:
        self.proc.send_signal(sig)
        try:
            rest = self.proc.communicate(timeout=30)[1]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self.lines.append(rest)
        return self.proc.returncode


@pytest.fixture
def agent_process():
    started: list[AgentProcess] = []

    def start(state_dir: Path, env_password: str | None = None, *extra: str) -> AgentProcess:
        process = AgentProcess(state_dir, env_password, extra)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


# --- serve ------------------------------------------------------------------------------------

def test_first_serve_without_env_password_prints_the_generated_password_file(agent_process, tmp_path) -> None:
    state = tmp_path / "state"
    agent = agent_process(state)
    password_file = state / ADMIN_PASSWORD_FILE
    assert any(str(password_file) in line for line in agent.lines)
    nc = agent.connect(password_file.read_text().strip())
    nc.close_session()
    assert agent.stop(signal.SIGTERM) == 0


def test_first_serve_with_env_password_uses_it_and_writes_no_file(agent_process, tmp_path) -> None:
    state = tmp_path / "state"
    agent = agent_process(state, env_password="s3cret-from-env")
    assert not (state / ADMIN_PASSWORD_FILE).exists()
    nc = agent.connect("s3cret-from-env")
    nc.close_session()
    assert agent.stop(signal.SIGINT) == 0


def test_sigterm_stops_the_agent_cleanly_with_sessions_open(agent_process, tmp_path) -> None:
    agent = agent_process(tmp_path / "state", env_password="pw")
    nc = agent.connect("pw")
    assert agent.stop(signal.SIGTERM) == 0
    assert "Traceback" not in "".join(agent.lines)
    del nc


def test_second_start_keeps_the_users_and_prints_no_new_password(agent_process, tmp_path) -> None:
    state = tmp_path / "state"
    agent_process(state, env_password="first").stop(signal.SIGTERM)
    again = agent_process(state, env_password="other")
    again.connect("first").close_session()
    assert not any(ADMIN_PASSWORD_FILE in line for line in again.lines)
    assert again.stop(signal.SIGTERM) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="the linux dataplane opens AF_PACKET and netlink sockets: needs root")
def test_serve_with_the_linux_dataplane_reports_a_missing_interface_as_down(agent_process, tmp_path) -> None:
    """No interface of this machine is touched: the configured one does not exist."""
    agent = agent_process(tmp_path / "state", "pw", "--dataplane", "linux", "--router-id", "10.0.0.3")
    vl2mc = "urn:vsi-multicast-agent:yang:vsi-l2-multicast"
    with agent.connect("pw") as nc:
        nc.edit_config(target="running", config=f"""
          <config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><vsis xmlns="{vl2mc}"><vsi>
            <name>v1</name><acs><ac><interface>vsiabsent0</interface></ac></acs></vsi></vsis></config>""")
        data = nc.get(filter=("subtree", f'<vsis xmlns="{vl2mc}"><vsi><name>v1</name><acs/></vsi></vsis>')).data
        assert data.findtext(f".//{{{vl2mc}}}ac/{{{vl2mc}}}oper-status") == "down"
    assert agent.stop(signal.SIGTERM) == 0


def test_serve_refuses_a_router_id_that_is_not_an_ipv4_address(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--router-id", "10.0.0.300", "--state-dir", str(tmp_path)])
    assert exited.value.code == 2
    assert "'10.0.0.300' is not an IPv4 address" in capsys.readouterr().err


def test_serve_on_a_port_in_use_is_a_clear_error(tmp_path, capsys) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = cli.main(["serve", "--port", str(port), "--state-dir", str(tmp_path)])
    assert code == 2
    assert f"cannot listen on 127.0.0.1 port {port}" in capsys.readouterr().err


def test_serve_with_a_corrupt_saved_datastore_refuses_to_start_and_names_the_file(tmp_path, capsys) -> None:
    (tmp_path / "running.xml").write_text("<data><not-closed>")
    assert cli.main(["serve", "--port", str(free_port()), "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cannot start the agent" in err and "running.xml" in err
    assert (tmp_path / "running.xml").read_text() == "<data><not-closed>"


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_bad_port_is_refused(port: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["serve", "--port", port])
    assert exit_.value.code == 2


def test_default_port_is_830_for_root_and_8830_otherwise(monkeypatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert default_port() == 830 and ServerConfig().port == 830
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert default_port() == 8830 and ServerConfig().port == 8830


def test_default_state_dir_is_the_env_variable_or_dot_state(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("VSI_AGENT_STATE_DIR", str(tmp_path / "from-env"))
    assert ServerConfig().state_dir == tmp_path / "from-env"
    monkeypatch.delenv("VSI_AGENT_STATE_DIR")
    assert ServerConfig().state_dir == Path("state")


# --- users add --------------------------------------------------------------------------------

def test_users_add_reads_the_password_from_stdin(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("op-password\n"))
    assert cli.main(["users", "add", "operator", "--password-stdin", "--group", "ops",
                     "--state-dir", str(tmp_path)]) == 0
    store = UserStore(tmp_path)
    assert store.verify_password("operator", "op-password")
    assert store.groups("operator") == ["ops"]


def test_users_add_uses_the_state_dir_from_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("VSI_AGENT_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(sys, "stdin", io.StringIO("pw\n"))
    assert cli.main(["users", "add", "operator", "--password-stdin"]) == 0
    assert UserStore(tmp_path).verify_password("operator", "pw")


def test_users_add_authorizes_a_key_file(tmp_path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id.pub"
    key_file.write_bytes(key.export_public_key())
    assert cli.main(["users", "add", "robot", "--key", str(key_file), "--group", "a", "--group", "b",
                     "--state-dir", str(tmp_path)]) == 0
    store = UserStore(tmp_path)
    assert store.accepts_key("robot", key.convert_to_public())
    assert store.groups("robot") == ["a", "b"]


def test_users_add_needs_exactly_one_credential(tmp_path) -> None:
    for argv in (["users", "add", "x"], ["users", "add", "x", "--password-stdin", "--key", "f"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main(argv + ["--state-dir", str(tmp_path)])
        assert exit_.value.code == 2
    assert not UserStore(tmp_path).exists()


def test_users_add_with_an_empty_stdin_is_refused(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert cli.main(["users", "add", "x", "--password-stdin", "--state-dir", str(tmp_path)]) == 2
    assert "no password" in capsys.readouterr().err
    assert not UserStore(tmp_path).exists()


def test_users_add_with_an_unreadable_or_bad_key_file_is_refused(tmp_path, capsys) -> None:
    assert cli.main(["users", "add", "x", "--key", str(tmp_path / "missing.pub"),
                     "--state-dir", str(tmp_path)]) == 2
    bad = tmp_path / "bad.pub"
    bad.write_text("ssh-rsa garbage")
    assert cli.main(["users", "add", "x", "--key", str(bad), "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cannot read key file" in err and "not an SSH public key" in err
    assert not UserStore(tmp_path).exists()


# --- the README stays true ---------------------------------------------------------------------

def test_readme_quick_start_runs_against_a_fresh_agent(agent_process, tmp_path, monkeypatch, capsys) -> None:
    """The README's ncclient example, as written, against `vsi-agent serve` on a fresh state dir."""
    readme = (REPO / "README.md").read_text()
    [quick_start] = [block for block in readme.split("```python\n")[1:]]
    code = quick_start.split("```")[0]
    assert "port=8830" in code
    agent = agent_process(tmp_path / "state")
    monkeypatch.chdir(tmp_path)   # the example reads state/admin-password
    exec(compile(code.replace("port=8830", f"port={agent.port}"), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "<name>iptv</name>" in out and "<backup-report-forward>true</backup-report-forward>" in out
    assert agent.stop(signal.SIGTERM) == 0


def test_users_add_before_the_first_serve_creates_the_state_dir_owner_only(monkeypatch, tmp_path) -> None:
    """The state directory holds password hashes and the host key: never 0755."""
    import stat

    state = tmp_path / "state"
    monkeypatch.setattr(sys, "stdin", io.StringIO("pw\n"))
    old_umask = os.umask(0o022)
    try:
        assert cli.main(["users", "add", "operator", "--password-stdin", "--state-dir", str(state)]) == 0
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700


@pytest.mark.parametrize("argv, message", [
    (["lab", "--querier-interval", "ten"], "'ten' is not a whole number of seconds"),
    (["lab", "--querier-interval", "1"], "1 s is outside 2..65535 s"),
    (["lab", "--rate", "0"], "0 frames per second is outside (0, 10000] frames per second"),
    (["lab", "--rate", "fast"], "'fast' is not a number of frames per second"),
])
def test_lab_options_out_of_range_are_refused_with_the_reason(argv, message, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([*argv, "--state-dir", str(tmp_path)])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_lab_base_port_without_room_for_three_agents_is_refused(tmp_path, capsys) -> None:
    assert cli.main(["lab", "--base-port", "65534", "--state-dir", str(tmp_path)]) == 2
    assert "the lab needs 3 ports from there" in capsys.readouterr().err
    assert not (tmp_path / "UPE").exists()      # nothing was built


def test_lab_on_ports_in_use_is_a_clear_error(tmp_path, capsys) -> None:
    from tests.conftest import free_consecutive_ports

    base = free_consecutive_ports(3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 1))          # SPE1's port
        taken.listen()
        code = cli.main(["lab", "--base-port", str(base), "--state-dir", str(tmp_path)])
    assert code == 2
    assert f"cannot start the lab on ports {base}-{base + 2}" in capsys.readouterr().err
