"""RFC 8526 get-data / edit-data over SSH: every datastore, every get-data parameter, origin."""

from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from agent.xmlns import DATASTORES, MONITORING, NC, NMDA, ORIGIN, VL2MC, WD_ATTR
from agent.state_provider import StateSelection, VsiParts
from tests.agent.test_get import (CONFIG, NAME, ONE_GROUP_SUBTREE, ONE_GROUP_XPATH, VSI, VSIS, RecordingProvider,
                                  vsi_names)

V = VL2MC
OR = f"{{{ORIGIN}}}origin"


def get_data(nc, datastore: str, body: str = "") -> etree._Element:
    reply = nc.dispatch(etree.fromstring(
        f'<get-data xmlns="{NMDA}" xmlns:ds="{DATASTORES}" xmlns:or="{ORIGIN}">'
        f'<datastore>ds:{datastore}</datastore>{body}</get-data>'))
    root = etree.fromstring(reply.xml.encode())
    data = root.find(f"{{{NMDA}}}data")
    assert data is not None, reply.xml
    return data


def edit_data(nc, datastore: str, config: str, default_operation: str | None = None):
    op = f"<default-operation>{default_operation}</default-operation>" if default_operation else ""
    return nc.dispatch(etree.fromstring(
        f'<edit-data xmlns="{NMDA}" xmlns:ds="{DATASTORES}"><datastore>ds:{datastore}</datastore>{op}'
        f'<config>{config}</config></edit-data>'))


@pytest.fixture
def configured(nc):
    nc.edit_config(target="running", config=CONFIG)
    return nc


@pytest.fixture
def provider(agent_server):
    recording = RecordingProvider()
    agent_server.run(lambda: setattr(agent_server.server, "state", recording))
    return recording


# --- datastores -----------------------------------------------------------------------------------

def test_get_data_running_returns_configuration_only(configured, provider):
    data = get_data(configured, "running")
    assert vsi_names(data) == ["a", "b", "c"]
    assert not list(data.iter(f"{{{V}}}oper-status"))
    assert data.find(f"{{{MONITORING}}}netconf-state") is None


def test_get_data_intended_equals_running(configured):
    assert etree.tostring(get_data(configured, "intended")) == etree.tostring(get_data(configured, "running"))


def test_get_data_candidate_shows_uncommitted_changes(configured):
    edit_data(configured, "candidate", f'<vsis xmlns="{V}"><vsi><name>cand</name></vsi></vsis>')
    assert "cand" in vsi_names(get_data(configured, "candidate"))
    assert "cand" not in vsi_names(get_data(configured, "running"))


def test_get_data_startup_reads_startup(configured):
    assert vsi_names(get_data(configured, "startup")) == []


def test_get_data_operational_merges_config_and_state(configured, provider):
    data = get_data(configured, "operational")
    assert vsi_names(data) == ["a", "b", "c"]
    assert [e.text for e in data.iter(f"{{{V}}}oper-status")] == ["up", "down"]
    assert data.find(f"{{{MONITORING}}}netconf-state") is not None


def test_unknown_datastore_is_invalid_value(configured):
    with pytest.raises(RPCError) as err:
        get_data(configured, "nonsense")
    assert err.value.tag == "invalid-value"
    assert "ds:nonsense" in err.value.message


def test_datastore_identity_in_a_foreign_namespace_is_invalid_value(configured):
    with pytest.raises(RPCError) as err:
        configured.dispatch(etree.fromstring(
            f'<get-data xmlns="{NMDA}" xmlns:x="urn:example:x"><datastore>x:running</datastore></get-data>'))
    assert err.value.tag == "invalid-value"


def test_missing_datastore_is_missing_element(configured):
    with pytest.raises(RPCError) as err:
        configured.dispatch(etree.fromstring(f'<get-data xmlns="{NMDA}"/>'))
    assert err.value.tag == "missing-element"


# --- filters --------------------------------------------------------------------------------------

def test_subtree_filter_selects_one_vsi(configured):
    data = get_data(configured, "running",
                    f'<subtree-filter><vsis xmlns="{V}"><vsi><name>b</name></vsi></vsis></subtree-filter>')
    assert vsi_names(data) == ["b"]


def test_xpath_filter_uses_prefixes_in_scope_on_the_leaf(configured):
    data = get_data(configured, "running",
                    f'<xpath-filter xmlns:v="{V}">/v:vsis/v:vsi[v:name=\'c\']</xpath-filter>')
    assert vsi_names(data) == ["c"]


def test_xpath_filter_that_is_not_a_node_set_is_invalid_value(configured):
    with pytest.raises(RPCError) as err:
        get_data(configured, "running", f'<xpath-filter xmlns:v="{V}">count(/v:vsis/v:vsi)</xpath-filter>')
    assert err.value.tag == "invalid-value"
    assert "node-set" in err.value.message


def test_config_filter_true_drops_state(configured, provider):
    data = get_data(configured, "operational", "<config-filter>true</config-filter>")
    assert vsi_names(data) == ["a", "b", "c"]
    assert not list(data.iter(f"{{{V}}}oper-status"))
    assert data.find(f"{{{MONITORING}}}netconf-state") is None


def test_config_filter_false_keeps_only_state_with_ancestors_and_keys(configured, provider):
    data = get_data(configured, "operational",
                    f'<subtree-filter><vsis xmlns="{V}"><vsi><name>a</name></vsi></vsis></subtree-filter>'
                    "<config-filter>false</config-filter>")
    vsi = data.find(f"{VSIS}/{VSI}")
    assert [etree.QName(c).localname for c in vsi] == ["name", "acs", "igmp-snooping"]
    assert [etree.QName(c).localname for c in vsi.find(f"{{{V}}}acs")[0]] == ["interface", "oper-status"]
    assert [etree.QName(c).localname for c in vsi.find(f"{{{V}}}igmp-snooping")] == ["entries-count"]


def test_max_depth_one_returns_only_top_level_nodes(configured):
    data = get_data(configured, "running", "<max-depth>1</max-depth>")
    assert [etree.QName(c).localname for c in data] == ["l2-multicast", "vsis"]
    assert all(len(c) == 0 for c in data)


def test_max_depth_keeps_list_keys(configured):
    data = get_data(configured, "running", "<max-depth>2</max-depth>")
    assert [[etree.QName(c).localname for c in vsi] for vsi in data.iter(VSI)] == [["name"]] * 3


def test_bad_max_depth_is_invalid_value(configured):
    with pytest.raises(RPCError) as err:
        get_data(configured, "running", "<max-depth>0</max-depth>")
    assert err.value.tag == "invalid-value"


def test_with_defaults_in_the_nmda_namespace(configured):
    data = get_data(configured, "running", "<with-defaults>report-all</with-defaults>")
    assert data.findtext(f".//{VSI}/{{{V}}}unknown-multicast-action") == "flood"
    data = get_data(configured, "running", "<with-defaults>report-all-tagged</with-defaults>")
    assert data.find(f".//{VSI}/{{{V}}}unknown-multicast-action").get(f"{{{WD_ATTR}}}default") == "true"
    data = get_data(configured, "running")
    assert data.find(f".//{VSI}/{{{V}}}unknown-multicast-action") is None


def test_unknown_parameter_is_unknown_element(configured):
    with pytest.raises(RPCError) as err:
        get_data(configured, "running", "<depth>1</depth>")
    assert err.value.tag == "unknown-element"


# --- origin ---------------------------------------------------------------------------------------

def test_with_origin_marks_config_intended_defaults_default_and_state_learned(configured, provider):
    data = get_data(configured, "operational", "<with-origin/><with-defaults>report-all</with-defaults>")
    assert data.find(VSIS).get(OR) == "or:intended"
    vsi_a = data.find(f"{VSIS}/{VSI}")
    assert vsi_a.find(f"{{{V}}}unknown-multicast-action").get(OR) == "or:default"
    assert vsi_a.find(NAME).get(OR) is None  # inherited
    assert vsi_a.find(f"{{{V}}}acs/{{{V}}}ac/{{{V}}}oper-status").get(OR) == "or:learned"
    assert data.find(f"{{{MONITORING}}}netconf-state").get(OR) == "or:system"


def test_with_origin_reports_the_origin_the_provider_stated(configured, provider):
    data = get_data(configured, "operational", "<with-origin/>")
    counts = list(data.iter(f"{{{V}}}entries-count"))
    assert counts and all(c.get(OR) == "or:system" for c in counts)


def test_with_origin_on_a_conventional_datastore_is_invalid_value(configured):
    with pytest.raises(RPCError) as err:
        get_data(configured, "running", "<with-origin/>")
    assert err.value.tag == "invalid-value"


def test_origin_filter_keeps_matching_config_and_all_state(configured, provider):
    data = get_data(configured, "operational",
                    f'<subtree-filter><vsis xmlns="{V}"><vsi><name>a</name></vsi></vsis></subtree-filter>'
                    "<origin-filter>or:default</origin-filter><with-defaults>report-all</with-defaults>")
    vsi = data.find(f"{VSIS}/{VSI}")
    assert vsi.find(f"{{{V}}}description") is None          # intended: filtered out
    assert vsi.findtext(f"{{{V}}}unknown-multicast-action") == "flood"
    assert vsi.findtext(NAME) == "a"                         # the key stays
    assert [e.text for e in vsi.iter(f"{{{V}}}oper-status")] == ["up", "down"]  # state untouched


def test_negated_origin_filter_drops_matching_config(configured):
    data = get_data(configured, "operational",
                    "<negated-origin-filter>or:default</negated-origin-filter><with-defaults>report-all</with-defaults>")
    assert not list(data.iter(f"{{{V}}}unknown-multicast-action"))
    assert vsi_names(data) == ["a", "b", "c"]


def test_origin_filter_and_negated_origin_filter_together_are_refused(configured):
    with pytest.raises(RPCError) as err:
        get_data(configured, "operational",
                 "<origin-filter>or:intended</origin-filter><negated-origin-filter>or:default</negated-origin-filter>")
    assert err.value.tag == "bad-element"


def test_unknown_origin_identity_is_invalid_value(configured):
    with pytest.raises(RPCError) as err:
        get_data(configured, "operational", "<origin-filter>or:bogus</origin-filter>")
    assert err.value.tag == "invalid-value"


# --- edit-data ------------------------------------------------------------------------------------

def test_edit_data_merges_into_running(configured):
    edit_data(configured, "running", f'<vsis xmlns="{V}"><vsi><name>new</name></vsi></vsis>')
    assert vsi_names(get_data(configured, "running")) == ["a", "b", "c", "new"]


def test_edit_data_default_operation_replace(configured):
    edit_data(configured, "running",
              f'<l2-multicast xmlns="{V}"><igmp-snooping-enable>true</igmp-snooping-enable></l2-multicast>'
              f'<vsis xmlns="{V}"><vsi><name>only</name></vsi></vsis>', "replace")
    assert vsi_names(get_data(configured, "running")) == ["only"]


def test_edit_data_on_operational_is_invalid_value_and_changes_nothing(configured):
    with pytest.raises(RPCError) as err:
        edit_data(configured, "operational", f'<vsis xmlns="{V}"><vsi><name>x</name></vsi></vsis>')
    assert err.value.tag == "invalid-value"
    assert vsi_names(get_data(configured, "running")) == ["a", "b", "c"]


def test_edit_data_bad_default_operation_is_invalid_value(configured):
    with pytest.raises(RPCError) as err:
        edit_data(configured, "running", f'<vsis xmlns="{V}"><vsi><name>x</name></vsi></vsis>', "sideways")
    assert err.value.tag == "invalid-value"
    assert vsi_names(get_data(configured, "running")) == ["a", "b", "c"]


def test_edit_data_that_fails_leaves_running_unchanged(configured):
    with pytest.raises(RPCError):
        edit_data(configured, "running", f'<vsis xmlns="{V}"><vsi><name>ok</name></vsi>'
                                         f'<vsi><name>bad</name><unknown-multicast-action>sometimes'
                                         f'</unknown-multicast-action></vsi></vsis>')
    assert vsi_names(get_data(configured, "running")) == ["a", "b", "c"]


def test_edit_data_to_candidate_then_get_data_candidate(configured):
    edit_data(configured, "candidate", f'<vsis xmlns="{V}"><vsi><name>c2</name></vsi></vsis>')
    assert "c2" in vsi_names(get_data(configured, "candidate"))


def test_get_data_output_is_in_the_nmda_namespace(configured):
    reply = configured.dispatch(etree.fromstring(
        f'<get-data xmlns="{NMDA}" xmlns:ds="{DATASTORES}"><datastore>ds:running</datastore></get-data>'))
    root = etree.fromstring(reply.xml.encode())
    assert root.find(f"{{{NMDA}}}data") is not None and root.find(f"{{{NC}}}data") is None


def test_get_data_operational_asks_the_provider_only_for_the_group_rows_its_filter_names(configured, provider):
    one_row = StateSelection.of_vsis({"a"}, VsiParts(groups=frozenset({("239.1.2.3", None)}), mac_table=False),
                                     tags={VSIS})
    get_data(configured, "operational", f"<subtree-filter>{ONE_GROUP_SUBTREE}</subtree-filter>")
    assert provider.calls[-1] == one_row
    get_data(configured, "operational", f'<xpath-filter xmlns:v="{V}">{ONE_GROUP_XPATH}</xpath-filter>')
    assert provider.calls[-1] == one_row
