"""RFC 6022 over SSH: /netconf-state (capabilities, datastores and locks, schemas, sessions,
statistics) and get-schema serving the module files' exact text."""

from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from agent.paths import yang_dir
from agent.xmlns import MONITORING, NC
from tests.agent.test_get import data_of

M = MONITORING


def netconf_state(nc, part: str) -> etree._Element:
    data = data_of(nc.get(filter=("subtree", f'<netconf-state xmlns="{M}"><{part}/></netconf-state>')))
    state = data.find(f"{{{M}}}netconf-state")
    assert state is not None
    return state.find(f"{{{M}}}{part}")


def test_capabilities_are_those_of_the_server_hello(nc):
    listed = [c.text for c in netconf_state(nc, "capabilities")]
    assert listed == list(nc.server_capabilities)


def test_every_conventional_datastore_is_listed_unlocked(nc):
    datastores = netconf_state(nc, "datastores")
    assert [d.findtext(f"{{{M}}}name") for d in datastores] == ["running", "candidate", "startup"]
    assert all(d.find(f"{{{M}}}locks") is None for d in datastores)


def test_a_global_lock_shows_the_holder_session_and_time(nc):
    with nc.locked("running"):
        running = netconf_state(nc, "datastores")[0]
        lock = running.find(f"{{{M}}}locks/{{{M}}}global-lock")
        assert lock.findtext(f"{{{M}}}locked-by-session") == str(nc.session_id)
        assert lock.findtext(f"{{{M}}}locked-time").endswith("Z")
    assert netconf_state(nc, "datastores")[0].find(f"{{{M}}}locks") is None


def test_schemas_list_our_module_with_revision_format_and_location(nc, agent_server):
    schemas = netconf_state(nc, "schemas")
    ours = [s for s in schemas if s.findtext(f"{{{M}}}identifier") == "vsi-l2-multicast"]
    assert len(ours) == 1
    module = agent_server.server.schema.modules["vsi-l2-multicast"]
    assert ours[0].findtext(f"{{{M}}}version") == module.revision
    fmt = ours[0].find(f"{{{M}}}format")
    prefix, _, local = fmt.text.rpartition(":")
    assert (fmt.nsmap[prefix or None], local) == (M, "yang")
    assert ours[0].findtext(f"{{{M}}}namespace") == module.namespace
    assert ours[0].findtext(f"{{{M}}}location") == "NETCONF"


def test_sessions_list_every_session_with_user_transport_and_counters(nc, nc_factory):
    other = nc_factory()
    sessions = {s.findtext(f"{{{M}}}session-id"): s for s in netconf_state(nc, "sessions")}
    assert {str(nc.session_id), str(other.session_id)} <= set(sessions)
    mine = sessions[str(nc.session_id)]
    assert mine.findtext(f"{{{M}}}username") == "admin"
    assert mine.findtext(f"{{{M}}}source-host") == "127.0.0.1"
    transport = mine.find(f"{{{M}}}transport")
    prefix, _, local = transport.text.rpartition(":")
    assert (transport.nsmap[prefix or None], local) == (M, "netconf-ssh")
    assert int(mine.findtext(f"{{{M}}}in-rpcs")) >= 1


def test_statistics_count_sessions_and_rpcs(nc):
    before = int(netconf_state(nc, "statistics").findtext(f"{{{M}}}in-rpcs"))
    stats = netconf_state(nc, "statistics")
    assert int(stats.findtext(f"{{{M}}}in-rpcs")) > before
    assert int(stats.findtext(f"{{{M}}}in-sessions")) >= 1
    assert stats.findtext(f"{{{M}}}netconf-start-time").endswith("Z")


# --- get-schema ---------------------------------------------------------------------------------

def test_get_schema_of_our_module_is_the_file_text(nc):
    reply = nc.get_schema("vsi-l2-multicast")
    text = etree.fromstring(reply.xml.encode()).findtext(f"{{{M}}}data")
    assert text == (yang_dir() / "vsi-l2-multicast.yang").read_text(encoding="utf-8")


def test_get_schema_with_version_and_format(nc, agent_server):
    module = agent_server.server.schema.modules["ietf-netconf-monitoring"]
    reply = nc.get_schema("ietf-netconf-monitoring", version=module.revision, format="yang")
    assert etree.fromstring(reply.xml.encode()).findtext(f"{{{M}}}data") == module.path.read_text(encoding="utf-8")


def test_get_schema_of_an_unknown_module_is_invalid_value(nc):
    with pytest.raises(RPCError) as err:
        nc.get_schema("no-such-module")
    assert err.value.tag == "invalid-value"
    assert "no-such-module" in err.value.message


def test_get_schema_of_an_unknown_version_is_invalid_value(nc):
    with pytest.raises(RPCError) as err:
        nc.get_schema("vsi-l2-multicast", version="1999-01-01")
    assert err.value.tag == "invalid-value"
    assert "1999-01-01" in err.value.message


def test_get_schema_in_an_unserved_format_is_invalid_value(nc):
    with pytest.raises(RPCError) as err:
        nc.get_schema("vsi-l2-multicast", format="xsd")
    assert err.value.tag == "invalid-value"
    assert "xsd" in err.value.message


def test_get_schema_without_identifier_is_missing_element(agent_server, raw_netconf):
    raw = raw_netconf()
    raw.hello()
    reply = raw.rpc(f'<get-schema xmlns="{M}"/>')
    assert reply.findtext(f".//{{{NC}}}error-tag") == "missing-element"
