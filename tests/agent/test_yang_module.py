"""The YANG module `vsi-l2-multicast` (SPEC section 3), proven by two implementations.

Each rule of the module gets a test with a valid and an invalid instance document, checked
by both libyang (yanglint) and yangson: the rule is in the module (not in our validator) when
two independent YANG engines enforce it.  Rejections must name the rule: yangson reports our
``error-app-tag``, libyang our ``error-message``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.paths import REPO_DIR, YANG_DIR, pyang_module_dirs
from tests.agent.yang_oracles import (
    MODULE_FILE,
    YANGLINT,
    Tree,
    bare_data,
    both_oracles,
    to_xml,
    upe_config,
    yanglint_validate,
    yangson_validate,
)

pytestmark = pytest.mark.skipif(YANGLINT is None, reason="yanglint (libyang2-tools) is not installed")

PYANG = [sys.executable, "-m", "pyang"]
TREE_FILE = REPO_DIR / "docs" / "vsi-l2-multicast.tree"


# --------------------------------------------------------------------------- helpers


def _flat(text: str) -> str:
    """Whitespace-normalised text: both engines re-wrap multi-line error messages."""
    return " ".join(text.split())


def _changed(change: Callable[[Tree], object]) -> Tree:
    """The UPE configuration with one change applied."""
    tree = upe_config()
    change(tree)
    return tree


def _vsi(tree: Tree, index: int = 0) -> Tree:
    return tree["vsis"]["vsi"][index]


def _snooping(tree: Tree) -> Tree:
    return _vsi(tree)["igmp-snooping"]


def _pw(tree: Tree, index: int) -> Tree:
    return _vsi(tree)["pws"]["pw"][index]


def assert_accepted(tree: Tree, *, datastore: str = "config") -> None:
    """Both engines accept the document."""
    verdicts = both_oracles(to_xml(tree), datastore=datastore)  # type: ignore[arg-type]
    assert all(ok for ok, _ in verdicts.values()), verdicts


def assert_rejected(tree: Tree, *, app_tag: str, message: str) -> None:
    """Both engines reject the document, each naming the rule that fired."""
    verdicts = both_oracles(to_xml(tree))
    lint_ok, lint_text = verdicts["yanglint"]
    yangson_ok, yangson_text = verdicts["yangson"]
    assert not lint_ok and not yangson_ok, verdicts
    assert _flat(message) in _flat(lint_text), verdicts
    assert app_tag in yangson_text, verdicts


# --------------------------------------------------------------------------- the module itself


def test_module_passes_pyang_lint_with_no_output() -> None:
    proc = subprocess.run(
        [*PYANG, "--lint", "-p", str(YANG_DIR), str(MODULE_FILE)], capture_output=True, text=True, check=False
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_module_loads_in_yanglint() -> None:
    assert YANGLINT is not None
    proc = subprocess.run(
        [YANGLINT, "-D", "-p", str(YANG_DIR), str(MODULE_FILE)], capture_output=True, text=True, check=False
    )
    assert (proc.returncode, proc.stderr.strip()) == (0, "")


def test_module_header_is_yang_1_1_with_the_contract_namespace_and_prefix() -> None:
    text = MODULE_FILE.read_text()
    assert re.search(r"^\s*yang-version 1\.1;", text, re.M)
    assert re.search(r'^\s*namespace "urn:vsi-multicast-agent:yang:vsi-l2-multicast";', text, re.M)
    assert re.search(r"^\s*prefix vl2mc;", text, re.M)
    assert re.search(r"^\s*revision 2026-11-25 \{", text, re.M)
    for statement in ("organization", "contact", "description"):
        assert re.search(rf"^  {statement}\b", text, re.M), statement


def test_tree_document_matches_the_module() -> None:
    proc = subprocess.run(
        [*PYANG, "-f", "tree", "-p", str(YANG_DIR), str(MODULE_FILE)], capture_output=True, text=True, check=True
    )
    assert TREE_FILE.read_text() == proc.stdout, "regenerate docs/vsi-l2-multicast.tree with pyang -f tree"


#: (tree marker, node name) for every name of SPEC section 3: rw config, ro state,
#: -x actions/rpcs, -n notifications.
SPEC_NAMES: list[tuple[str, str]] = [
    ("rw", "l2-multicast"), ("rw", "igmp-snooping-enable"), ("rw", "device-mac"),
    ("rw", "vsis"), ("rw", "vsi"), ("rw", "name"), ("rw", "description"), ("rw", "unknown-multicast-action"),
    ("rw", "acs"), ("rw", "ac"), ("rw", "interface"), ("ro", "oper-status"),
    ("rw", "pws"), ("rw", "pw"), ("rw", "peer-address"), ("rw", "vc-id"), ("rw", "role"),
    ("rw", "revertive"), ("rw", "wtr-time"), ("rw", "keepalive-interval"), ("rw", "keepalive-multiplier"),
    ("ro", "forwarding-state"), ("ro", "remote-status"), ("-x", "switchover"),
    ("rw", "igmp-snooping"), ("rw", "enable"), ("rw", "version"), ("rw", "query-interval"),
    ("rw", "max-response-time"), ("rw", "last-member-query-interval"), ("rw", "robustness"),
    ("rw", "router-aging-time"), ("rw", "router-port-learning"), ("rw", "immediately-leave"),
    ("rw", "querier-enable"), ("rw", "limit-max-entry"),
    ("rw", "backup-query-forward"), ("rw", "backup-query-source-mac-replace"),
    ("rw", "backup-report-forward"), ("rw", "backup-report-source-mac-replace"),
    ("rw", "pw-fast-control"), ("rw", "pw-fast-control-holdtime"),
    ("rw", "static-router-port"), ("rw", "static-group"), ("rw", "group-address"), ("rw", "source-address"),
    ("ro", "querier"), ("ro", "address"), ("ro", "is-self"), ("ro", "entries-count"),
    ("ro", "router-port"), ("ro", "type"), ("ro", "via-backup"), ("ro", "up-time"), ("ro", "expires"),
    ("ro", "group"), ("ro", "mac-address"), ("ro", "last-reporter"), ("ro", "port"), ("ro", "flag"),
    ("ro", "forwarding"), ("ro", "learned-on-backup"), ("ro", "statistics"), ("ro", "switchovers"),
    ("ro", "last-switchover"), ("-x", "clear-groups"),
    ("ro", "mac-table"), ("ro", "entry"), ("ro", "age"), ("ro", "mac-moves"),
    ("-x", "reset-igmp-snooping-group"), ("-x", "reset-igmp-snooping-statistics"), ("-w", "vsi-name"),
    ("-n", "pw-switchover"), ("ro", "vsi"), ("ro", "from-pw"), ("ro", "to-pw"),
    ("ro", "preinstalled-groups"), ("ro", "time"), ("-n", "group-limit-exceeded"), ("ro", "limit"),
]


@pytest.mark.parametrize(("marker", "name"), SPEC_NAMES, ids=[f"{m}-{n}" for m, n in SPEC_NAMES])
def test_tree_contains_every_spec_name(marker: str, name: str) -> None:
    assert re.search(rf"\+--{re.escape(marker)} {re.escape(name)}\b", TREE_FILE.read_text())


# --------------------------------------------------------------------------- the rules


def test_the_lab_upe_configuration_is_valid() -> None:
    assert_accepted(upe_config())


def test_empty_datastore_is_valid() -> None:
    assert_accepted({})


def _global_switch_off(tree: Tree) -> None:
    tree["l2-multicast"]["igmp-snooping-enable"] = "false"


def test_vsi_snooping_enable_needs_the_global_switch() -> None:
    def everything_off(tree: Tree) -> None:
        _global_switch_off(tree)
        _vsi(tree)["igmp-snooping"] = {"enable": "false"}

    assert_accepted(_changed(everything_off))
    assert_rejected(
        _changed(_global_switch_off),
        app_tag="igmp-snooping-disabled-globally",
        message="IGMP snooping cannot be enabled in a VSI while the global switch",
    )


def test_global_switch_defaults_to_off() -> None:
    assert_rejected(
        _changed(lambda t: t.pop("l2-multicast")),
        app_tag="igmp-snooping-disabled-globally",
        message="IGMP snooping cannot be enabled in a VSI while the global switch",
    )


def _without_report_feature(tree: Tree) -> None:
    for leaf in ("backup-report-forward", "backup-report-source-mac-replace"):
        _snooping(tree).pop(leaf)


def _without_query_feature(tree: Tree) -> None:
    for leaf in ("backup-query-forward", "backup-query-source-mac-replace"):
        _snooping(tree).pop(leaf)


def test_backup_query_forward_needs_snooping_enabled() -> None:
    def query_feature_only(tree: Tree) -> None:
        _without_report_feature(tree)
        _snooping(tree)["enable"] = "false"

    def query_feature_off(tree: Tree) -> None:
        query_feature_only(tree)
        _without_query_feature(tree)
        _snooping(tree)["backup-query-forward"] = "false"

    assert_accepted(_changed(query_feature_off))
    assert_rejected(
        _changed(query_feature_only),
        app_tag="igmp-snooping-not-enabled",
        message="backup-query-forward needs IGMP snooping enabled in the VSI.",
    )


def test_backup_report_forward_needs_snooping_enabled() -> None:
    def report_feature_only(tree: Tree) -> None:
        _without_query_feature(tree)
        _snooping(tree)["enable"] = "false"

    def report_feature_off(tree: Tree) -> None:
        report_feature_only(tree)
        _without_report_feature(tree)
        _snooping(tree)["backup-report-forward"] = "false"

    assert_accepted(_changed(report_feature_off))
    assert_rejected(
        _changed(report_feature_only),
        app_tag="igmp-snooping-not-enabled",
        message="backup-report-forward needs IGMP snooping enabled in the VSI.",
    )


@pytest.mark.parametrize(
    ("replace", "forward"),
    [
        ("backup-query-source-mac-replace", "backup-query-forward"),
        ("backup-report-source-mac-replace", "backup-report-forward"),
    ],
)
def test_source_mac_replace_exists_only_when_its_forward_is_on(replace: str, forward: str) -> None:
    def both_off(tree: Tree) -> None:
        _snooping(tree)[forward] = "false"
        del _snooping(tree)[replace]

    assert_accepted(_changed(both_off))
    for forward_off in (
        lambda t: _snooping(t).update({forward: "false"}),
        lambda t: _snooping(t).pop(forward),  # the default, false, counts the same
    ):
        assert_rejected(
            _changed(forward_off),
            app_tag="member-not-allowed",  # yangson's word for a false `when`
            message=f"When condition \"../vl2mc:{forward} = 'true'\" not satisfied.",
        )


def test_pw_fast_control_holdtime_exists_only_with_pw_fast_control() -> None:
    assert_accepted(_changed(lambda t: _snooping(t).pop("pw-fast-control-holdtime")))
    assert_rejected(
        _changed(lambda t: _snooping(t).update({"pw-fast-control": "false"})),
        app_tag="member-not-allowed",
        message="When condition \"../vl2mc:pw-fast-control = 'true'\" not satisfied.",
    )


@pytest.mark.parametrize(("value", "ok"), [("4", False), ("5", True), ("120", True), ("121", False)])
def test_pw_fast_control_holdtime_is_5_to_120_seconds(value: str, ok: bool) -> None:
    tree = _changed(lambda t: _snooping(t).update({"pw-fast-control-holdtime": value}))
    if ok:
        assert_accepted(tree)
    else:
        assert_rejected(tree, app_tag="invalid-type", message=f'value "{value}" is out of the allowed range')


def test_backup_pw_needs_a_primary_in_the_same_vsi() -> None:
    assert_accepted(_changed(lambda t: [_pw(t, i).pop("role") for i in (0, 1)]))
    assert_rejected(
        _changed(lambda t: _pw(t, 0).pop("role")),
        app_tag="backup-without-primary",
        message="A backup PW needs a primary PW in the same VSI.",
    )


def test_primary_of_another_vsi_does_not_count_for_a_backup() -> None:
    def split_pair(tree: Tree) -> None:
        primary = _vsi(tree)["pws"]["pw"].pop(0)
        _snooping(tree)["static-router-port"] = []
        tree["vsis"]["vsi"].append({"name": "other", "pws": {"pw": [primary]}})

    assert_rejected(
        _changed(split_pair), app_tag="backup-without-primary", message="A backup PW needs a primary PW"
    )


@pytest.mark.parametrize("role", ["primary", "backup"])
def test_a_vsi_has_at_most_one_pw_per_role(role: str) -> None:
    def third_pw(tree: Tree) -> None:
        _vsi(tree)["pws"]["pw"].append(
            {"peer-address": "10.0.0.9", "vc-id": "7", "interface": "pw-spe9", "role": role}
        )

    assert_rejected(
        _changed(third_pw), app_tag="duplicate-pw-role", message="A VSI has at most one primary and one backup PW."
    )
    def third_pw_without_role(tree: Tree) -> None:
        third_pw(tree)
        del _pw(tree, 2)["role"]

    assert_accepted(_changed(third_pw_without_role))


def test_static_router_port_names_an_ac_or_pw_of_its_vsi() -> None:
    assert_accepted(_changed(lambda t: _snooping(t).update({"static-router-port": ["ac2", "pw-spe2"]})))
    for stranger in ("eth9", "ac9"):
        assert_rejected(
            _changed(lambda t: _snooping(t)["static-router-port"].append(stranger)),
            app_tag="interface-not-in-vsi",
            message="A static router port must be an AC or PW interface of this VSI.",
        )


def test_static_router_port_of_another_vsi_is_refused() -> None:
    def other_vsi(tree: Tree) -> None:
        tree["vsis"]["vsi"].append({"name": "other", "acs": {"ac": [{"interface": "ac9"}]}})
        _snooping(tree)["static-router-port"].append("ac9")

    assert_rejected(_changed(other_vsi), app_tag="interface-not-in-vsi", message="A static router port must be")


def test_static_group_port_names_an_ac_or_pw_of_its_vsi() -> None:
    def group_on(interface: str) -> Callable[[Tree], object]:
        return lambda t: _snooping(t)["static-group"].append(
            {"group-address": "239.1.1.2", "source-address": "0.0.0.0", "interface": interface}
        )

    assert_accepted(_changed(group_on("pw-spe2")))
    assert_rejected(
        _changed(group_on("eth9")),
        app_tag="interface-not-in-vsi",
        message="A static group port must be an AC or PW interface of this VSI.",
    )


@pytest.mark.parametrize(
    ("group", "ok", "message"),
    [
        ("224.0.1.1", True, ""),
        ("239.255.255.255", True, ""),
        ("224.0.0.5", False, "Addresses in 224.0.0.0/24 (link-local control) are always flooded"),
        ("224.0.0.255", False, "Addresses in 224.0.0.0/24 (link-local control) are always flooded"),
        ("10.1.1.1", False, "A group address must be an IPv4 multicast address (224.0.0.0/4)."),
        ("240.0.0.1", False, "A group address must be an IPv4 multicast address (224.0.0.0/4)."),
    ],
)
def test_static_group_address_is_multicast_outside_224_0_0_0_24(group: str, ok: bool, message: str) -> None:
    tree = _changed(lambda t: _snooping(t)["static-group"][0].update({"group-address": group}))
    if ok:
        assert_accepted(tree)
    else:
        assert_rejected(tree, app_tag="invalid-group-address", message=message)


@pytest.mark.parametrize(
    ("source", "ok"), [("0.0.0.0", True), ("192.0.2.7", True), ("239.0.0.1", False), ("255.255.255.255", False)]
)
def test_static_group_source_is_unicast_or_0_0_0_0_for_any(source: str, ok: bool) -> None:
    tree = _changed(lambda t: _snooping(t)["static-group"][0].update({"source-address": source}))
    if ok:
        assert_accepted(tree)
    else:
        assert_rejected(
            tree,
            app_tag="invalid-source-address",
            message="A source address must be a unicast IPv4 address, or 0.0.0.0 for any source.",
        )


def test_static_group_key_is_group_source_and_interface() -> None:
    def same_group_two_sources_two_ports(tree: Tree) -> None:
        _snooping(tree)["static-group"] += [
            {"group-address": "239.1.1.1", "source-address": "192.0.2.1", "interface": "ac1"},
            {"group-address": "239.1.1.1", "source-address": "0.0.0.0", "interface": "ac2"},
        ]

    assert_accepted(_changed(same_group_two_sources_two_ports))


@pytest.mark.parametrize(("max_response", "query_interval", "ok"), [("9", "10", True), ("10", "10", False),
                                                                     ("25", "20", False)])
def test_max_response_time_is_less_than_query_interval(max_response: str, query_interval: str, ok: bool) -> None:
    tree = _changed(lambda t: _snooping(t).update(
        {"query-interval": query_interval, "max-response-time": max_response}))
    if ok:
        assert_accepted(tree)
    else:
        assert_rejected(tree, app_tag="max-response-time-too-large",
                        message="max-response-time must be less than query-interval.")


def test_default_max_response_time_is_checked_against_a_short_query_interval() -> None:
    assert_rejected(
        _changed(lambda t: _snooping(t).update({"query-interval": "10"})),
        app_tag="max-response-time-too-large",
        message="max-response-time must be less than query-interval.",
    )


IN_USE = "The interface is already used by another AC or PW (in this or another VSI)."


def test_an_interface_is_one_ac_across_all_vsis() -> None:
    tree = upe_config()
    tree["vsis"]["vsi"].append({"name": "other", "acs": {"ac": [{"interface": "ac3"}]}})
    assert_accepted(tree)
    tree["vsis"]["vsi"][1]["acs"]["ac"].append({"interface": "ac1"})
    assert_rejected(tree, app_tag="interface-in-use", message=IN_USE)


def test_an_interface_is_not_both_an_ac_and_a_pw() -> None:
    assert_rejected(
        _changed(lambda t: _pw(t, 1).update({"interface": "ac2"})), app_tag="interface-in-use", message=IN_USE
    )


def test_an_interface_carries_one_pw_across_all_vsis() -> None:
    def second_vsi_reuses_pw_port(tree: Tree) -> None:
        tree["vsis"]["vsi"].append({"name": "other", "pws": {"pw": [
            {"peer-address": "10.0.0.7", "vc-id": "200", "interface": "pw-spe1"}]}})

    assert_rejected(_changed(second_vsi_reuses_pw_port), app_tag="interface-in-use", message=IN_USE)


@pytest.mark.parametrize(
    ("name", "ok"),
    [("iptv", True), ("a", True), ("A.b_c-9", True), ("x" * 31, True), ("x" * 32, False), ("bad name", False),
     ("vsi/1", False)],
)
def test_vsi_name_is_1_to_31_letters_digits_dot_underscore_dash(name: str, ok: bool) -> None:
    tree = {"vsis": {"vsi": [{"name": name}]}}
    if ok:
        assert_accepted(tree)
    else:
        lint_ok, _ = yanglint_validate(to_xml(tree))
        yangson_ok, yangson_text = yangson_validate(to_xml(tree))
        assert not lint_ok and not yangson_ok and "invalid-type" in yangson_text


@pytest.mark.parametrize(
    ("leaf", "value", "ok"),
    [
        ("vc-id", "0", False), ("vc-id", "4294967295", True), ("vc-id", "4294967296", False),
        ("keepalive-interval", "9", False), ("keepalive-interval", "10", True),
        ("keepalive-interval", "10000", True), ("keepalive-interval", "10001", False),
        ("keepalive-multiplier", "1", False), ("keepalive-multiplier", "2", True),
        ("keepalive-multiplier", "255", True), ("wtr-time", "3601", False), ("wtr-time", "0", True),
        ("peer-address", "10.0.0.256", False), ("role", "standby", False), ("revertive", "yes", False),
    ],
)
def test_pw_leaves_have_their_ranges_and_types(leaf: str, value: str, ok: bool) -> None:
    tree = _changed(lambda t: _pw(t, 0).update({leaf: value}))
    if leaf in ("vc-id", "peer-address"):  # keys first, in key order
        pw = _pw(tree, 0)
        _vsi(tree)["pws"]["pw"][0] = {"peer-address": pw.pop("peer-address"), "vc-id": pw.pop("vc-id"), **pw}
    verdicts = both_oracles(to_xml(tree))
    assert [ok, ok] == [verdict for verdict, _ in verdicts.values()], verdicts


@pytest.mark.parametrize(
    ("leaf", "value", "ok"),
    [
        ("version", "0", False), ("version", "3", True), ("version", "4", False),
        ("query-interval", "0", False), ("max-response-time", "26", False), ("robustness", "1", False),
        ("robustness", "5", True), ("last-member-query-interval", "6", False), ("router-aging-time", "0", False),
        ("limit-max-entry", "0", False), ("limit-max-entry", "1", True), ("querier-source-address", "1.2.3", False),
    ],
)
def test_igmp_snooping_leaves_have_their_ranges_and_types(leaf: str, value: str, ok: bool) -> None:
    verdicts = both_oracles(to_xml(_changed(lambda t: _snooping(t).update({leaf: value}))))
    assert [ok, ok] == [verdict for verdict, _ in verdicts.values()], verdicts


def test_pw_interface_is_mandatory() -> None:
    verdicts = both_oracles(to_xml(_changed(lambda t: _pw(t, 0).pop("interface"))))
    assert not any(ok for ok, _ in verdicts.values()), verdicts
    assert "Mandatory node \"interface\"" in verdicts["yanglint"][1]
    assert "missing-data" in verdicts["yangson"][1]


def test_device_mac_is_unicast() -> None:
    assert_rejected(
        _changed(lambda t: t["l2-multicast"].update({"device-mac": "01:00:5e:00:00:01"})),
        app_tag="multicast-mac-address",
        message="The device MAC address must be a unicast address",
    )


def test_unknown_multicast_action_is_flood_or_drop() -> None:
    verdicts = both_oracles(to_xml(_changed(lambda t: _vsi(t).update({"unknown-multicast-action": "forward"}))))
    assert not any(ok for ok, _ in verdicts.values()), verdicts


@pytest.mark.parametrize(
    "place",
    [
        lambda t: _vsi(t)["acs"]["ac"][0].update({"oper-status": "up"}),
        lambda t: _pw(t, 0).update({"forwarding-state": "active"}),
        lambda t: _snooping(t).update({"entries-count": "3"}),
        lambda t: _vsi(t).update({"mac-table": {"mac-moves": "0"}}),
    ],
    ids=["ac-oper-status", "pw-forwarding-state", "entries-count", "mac-moves"],
)
def test_state_nodes_are_refused_in_a_config_datastore(place: Callable[[Tree], object]) -> None:
    verdicts = both_oracles(to_xml(_changed(place)))
    assert not any(ok for ok, _ in verdicts.values()), verdicts


def operational_upe() -> Tree:
    """The UPE with every kind of state node filled, as the operational datastore shows it."""
    tree = upe_config()
    vsi = _vsi(tree)
    for ac in vsi["acs"]["ac"]:
        ac["oper-status"] = "up"
    _pw(tree, 0).update({"oper-status": "down", "forwarding-state": "standby", "remote-status": "unknown"})
    _pw(tree, 1).update({"oper-status": "up", "forwarding-state": "active", "remote-status": "active"})
    counters = {f"{kind}-v{v}": "1" for kind in ("queries", "reports") for v in (1, 2, 3)} | {"leaves": "0"}
    _snooping(tree).update({
        "querier": {"address": "10.1.0.1", "is-self": "false"},
        "entries-count": "1",
        "router-port": [
            {"interface": "pw-spe1", "type": "static", "via-backup": "false", "up-time": "12"},
            {"interface": "pw-spe2", "type": "dynamic", "via-backup": "true", "up-time": "3", "expires": "177"},
        ],
        "group": [{
            "group-address": "239.1.1.1", "source-address": "0.0.0.0", "mac-address": "01:00:5e:01:01:01",
            "up-time": "40", "last-reporter": "192.168.1.10",
            "port": [
                {"interface": "ac1", "flag": "static", "up-time": "40", "forwarding": "true",
                 "learned-on-backup": "false"},
                {"interface": "pw-spe2", "flag": "dynamic", "up-time": "2", "expires": "258",
                 "forwarding": "true", "learned-on-backup": "true"},
            ],
        }],
        "statistics": {
            "discontinuity-time": "2026-11-25T21:00:00Z", "received": counters, "forwarded": counters,
            "standby-pw": {"queries-sent": "4", "queries-received": "4", "reports-sent": "2",
                           "reports-received": "2", "dropped": "0"},
            "source-macs-replaced": "6", "data": {"forwarded": "1000", "dropped-on-standby": "10",
                                                  "dropped-unknown": "0"},
            "invalid": {reason: "0" for reason in ("truncated", "bad-ip-header", "bad-ip-checksum",
                                                   "bad-igmp-checksum", "bad-length", "unknown-igmp-type")},
            "group-limit-refused": "0", "switchovers": "1", "last-switchover": "2026-11-25T21:05:00.25Z",
        },
    })
    vsi["mac-table"] = {"entry": [{"mac-address": "02:00:00:00:00:0a", "interface": "ac1", "age": "5"}],
                        "mac-moves": "0"}
    return tree


def test_state_beside_config_is_a_valid_operational_datastore() -> None:
    assert_accepted(operational_upe(), datastore="data")


def test_group_state_uses_the_group_address_rules() -> None:
    tree = operational_upe()
    _snooping(tree)["group"][0]["group-address"] = "224.0.0.1"
    verdicts = both_oracles(to_xml(tree), datastore="data")
    assert not any(ok for ok, _ in verdicts.values()), verdicts


# --------------------------------------------------------------------------- rpcs and notifications


def _yanglint_operation(kind: str, xml_text: str, tmp_path: Path, operational: Tree) -> tuple[bool, str]:
    """yanglint on an rpc/notification, with the datastore its leafrefs point into."""
    assert YANGLINT is not None
    op_file = tmp_path / "op.xml"
    data_file = tmp_path / "datastore.xml"
    op_file.write_text(xml_text)
    data_file.write_bytes(bare_data(to_xml(operational)))
    search = [arg for d in [YANG_DIR, *pyang_module_dirs()] for arg in ("-p", str(d))]
    proc = subprocess.run(
        [YANGLINT, "-D", *search, "-t", kind, "-O", str(data_file), str(MODULE_FILE), str(op_file)],
        capture_output=True, text=True, check=False,
    )
    return proc.returncode == 0, proc.stderr


NS = 'xmlns="urn:vsi-multicast-agent:yang:vsi-l2-multicast"'


@pytest.mark.parametrize("rpc", ["reset-igmp-snooping-group", "reset-igmp-snooping-statistics"])
def test_reset_rpc_vsi_name_must_name_an_existing_vsi(rpc: str, tmp_path: Path) -> None:
    for body, ok in ((f"<{rpc} {NS}/>", True), (f"<{rpc} {NS}><vsi-name>iptv</vsi-name></{rpc}>", True),
                     (f"<{rpc} {NS}><vsi-name>nope</vsi-name></{rpc}>", False)):
        verdict, text = _yanglint_operation("rpc", body, tmp_path, upe_config())
        assert verdict == ok, text


def test_notifications_carry_the_spec_fields(tmp_path: Path) -> None:
    switchover = (
        f"<pw-switchover {NS}><vsi>iptv</vsi>"
        "<from-pw><peer-address>10.0.0.1</peer-address><vc-id>100</vc-id><interface>pw-spe1</interface></from-pw>"
        "<to-pw><peer-address>10.0.0.2</peer-address><vc-id>100</vc-id><interface>pw-spe2</interface></to-pw>"
        "<preinstalled-groups>3</preinstalled-groups><time>2026-11-25T21:05:00Z</time></pw-switchover>"
    )
    limit = (f"<group-limit-exceeded {NS}><vsi>iptv</vsi><limit>100</limit>"
             "<group-address>239.1.1.9</group-address></group-limit-exceeded>")
    for body in (switchover, limit):
        ok, text = _yanglint_operation("notif", body, tmp_path, upe_config())
        assert ok, text
    ok, _ = _yanglint_operation("notif", limit.replace(">iptv<", ">gone<"), tmp_path, upe_config())
    assert not ok


