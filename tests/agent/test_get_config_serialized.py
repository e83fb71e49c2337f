"""The unfiltered get-config of running in the basic mode is served from the bytes the
datastore keeps for its saved file (`agent.netconf_get.explicit_running`).  It must equal, node
for node, what the general path (copy, with-defaults "explicit", serialise) gives, after every
kind of change to running."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from agent.netconf_get import explicit_running, retrieve
from agent.server import Server, ServerConfig
from agent.xmlns import NC, VL2MC
from tests.conftest import compiled_schema


def c14n(xml: bytes | etree._Element) -> bytes:
    element = etree.fromstring(xml) if isinstance(xml, bytes) else xml
    return etree.tostring(element, method="c14n")


def general_path(server: Server) -> bytes:
    root = server.datastores.running.root
    return c14n(retrieve([t for t in root if isinstance(t.tag, str)], None, None, server.schema, root=root))


def config(body: str) -> etree._Element:
    return etree.fromstring(f'<config xmlns="{NC}" xmlns:nc="{NC}">{body}</config>')


def vsi(name: str, *, description: str | None = None, query_interval: int | None = None,
        operation: str | None = None) -> str:
    attr = f' nc:operation="{operation}"' if operation else ""
    parts = [f"<name>{name}</name>"]
    if description is not None:
        parts.append(f"<description>{description}</description>")
    if query_interval is not None:
        parts.append(f"<igmp-snooping><query-interval>{query_interval}</query-interval></igmp-snooping>")
    return f'<vsis xmlns="{VL2MC}"><vsi{attr}>{"".join(parts)}</vsi></vsis>'


NAMES = st.sampled_from(["a", "b", "c", "d"])
EDITS = st.one_of(
    st.builds(lambda n, d: ("merge", vsi(n, description=d)), NAMES, st.sampled_from(["x", "y"])),
    st.builds(lambda n, q: ("merge", vsi(n, query_interval=q)), NAMES, st.sampled_from([30, 60, 90])),
    st.builds(lambda n: ("replace", vsi(n, operation="replace")), NAMES),
    st.builds(lambda n: ("remove", vsi(n, operation="remove")), NAMES),
    st.builds(lambda n, d: ("candidate", vsi(n, description=d)), NAMES, st.sampled_from(["p", "q"])),
    st.just(("remove-all", f'<vsis xmlns="{VL2MC}" nc:operation="remove"/>')),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(EDITS, min_size=1, max_size=12))
def test_serialised_running_equals_the_general_path_after_every_change(tmp_path_factory, edits) -> None:
    state: Path = tmp_path_factory.mktemp("state")
    server = Server(ServerConfig(state_dir=state, port=0, admin_password="pw"), schema=compiled_schema())
    datastores = server.datastores
    for kind, body in edits:
        if kind == "candidate":
            datastores.edit("candidate", config(body), session_id=1)
            datastores.commit()
        else:
            datastores.edit("running", config(body), session_id=1)
        assert c14n(explicit_running(server)) == general_path(server)


def test_unfiltered_get_config_over_netconf_equals_a_filter_selecting_everything(nc) -> None:
    nc.edit_config(target="running", config=config(
        f'<l2-multicast xmlns="{VL2MC}"><igmp-snooping-enable>true</igmp-snooping-enable></l2-multicast>'
        + vsi("a", description="first", query_interval=30)))
    nc.edit_config(target="running", config=config(vsi("b")))
    served = nc.get_config(source="running").data_ele
    everything = (f'<filter xmlns="{NC}" type="subtree"><l2-multicast xmlns="{VL2MC}"/>'
                  f'<vsis xmlns="{VL2MC}"/></filter>')
    filtered = nc.get_config(source="running", filter=etree.fromstring(everything)).data_ele
    assert c14n(served) == c14n(filtered)
    assert served.find(f".//{{{VL2MC}}}query-interval").text == "30"
