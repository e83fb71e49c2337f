"""Differential validation: libyang, yangson and our validator judge the same configurations.

Hypothesis builds configurations of `vsi-l2-multicast` three ways:

* ``valid_configs`` — built to satisfy every rule of the module (VSIs, ACs and PWs on
  distinct interfaces, roles in pairs, feature flags only where snooping is on, ...);
* ``broken_configs`` — a valid configuration with exactly one named rule broken;
* ``free_configs`` — anything within a small vocabulary: interfaces that clash across VSIs,
  any role mix, any switch combination, values out of range, bad names.

The first two have a known answer, so both oracles are held to it; on the third only
agreement is asserted.  Our validator (``agent.instance`` + ``agent.validate``) must give the
oracles' verdict on all three.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.agent.yang_oracles import YANGLINT, Tree, both_oracles, to_xml

pytestmark = pytest.mark.skipif(YANGLINT is None, reason="yanglint (libyang2-tools) is not installed")

EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- vocabulary

VSI_NAMES = ["iptv", "vsi-1", "VSI_2", "a.b", "x" * 31, "0"]
BAD_VSI_NAMES = ["bad name", "x" * 32, "a/b", "é"]
#: interface names the valid strategy hands out without repetition
INTERFACES = [f"ge0.{i}" for i in range(12)] + [f"pw-{i}" for i in range(12)]
PEERS = ["10.0.0.1", "10.0.0.2", "192.0.2.9"]
GROUPS = ["239.1.1.1", "224.0.1.1", "232.0.0.1", "239.255.255.255"]
BAD_GROUPS = ["224.0.0.1", "224.0.0.255", "10.1.1.1", "240.0.0.1", "239.1.1"]
SOURCES = ["0.0.0.0", "192.0.2.1", "10.9.9.9"]
BAD_SOURCES = ["239.0.0.1", "255.255.255.255"]
UNICAST_MACS = ["02:00:00:00:00:01", "00:00:5e:00:53:01"]

booleans = st.sampled_from(["true", "false"])


# --------------------------------------------------------------------------- valid configurations


@st.composite
def snooping_timers(draw: st.DrawFn) -> Tree:
    """query-interval / max-response-time that keep max-response-time < query-interval."""
    timers: Tree = {}
    if draw(st.booleans()):
        query_interval = draw(st.integers(2, 65535))
        timers["query-interval"] = str(query_interval)
        if query_interval <= 10 or draw(st.booleans()):
            timers["max-response-time"] = str(draw(st.integers(1, min(25, query_interval - 1))))
    elif draw(st.booleans()):
        timers["max-response-time"] = str(draw(st.integers(1, 25)))
    for leaf, low, high in (("version", 1, 3), ("robustness", 2, 5), ("last-member-query-interval", 1, 5),
                            ("router-aging-time", 1, 1000), ("limit-max-entry", 1, 100000)):
        if draw(st.booleans()):
            timers[leaf] = str(draw(st.integers(low, high)))
    return timers


@st.composite
def valid_snooping(draw: st.DrawFn, global_on: bool, interfaces: list[str]) -> Tree:
    """igmp-snooping of one VSI that obeys every must/when given the global switch."""
    snooping: Tree = {"enable": "true" if global_on and draw(st.booleans()) else "false"}
    for feature in ("query", "report"):
        forward = "true" if snooping["enable"] == "true" and draw(st.booleans()) else "false"
        if forward == "true" or draw(st.booleans()):
            snooping[f"backup-{feature}-forward"] = forward
        if forward == "true" and draw(st.booleans()):
            snooping[f"backup-{feature}-source-mac-replace"] = draw(booleans)
    if draw(st.booleans()):
        snooping["pw-fast-control"] = draw(booleans)
        if snooping["pw-fast-control"] == "true" and draw(st.booleans()):
            snooping["pw-fast-control-holdtime"] = str(draw(st.integers(5, 120)))
    for leaf in ("immediately-leave", "querier-enable", "router-port-learning"):
        if draw(st.booleans()):
            snooping[leaf] = draw(booleans)
    snooping.update(draw(snooping_timers()))
    if interfaces:
        routers = draw(st.lists(st.sampled_from(interfaces), unique=True, max_size=2))
        if routers:
            snooping["static-router-port"] = routers
        groups = draw(st.lists(st.tuples(st.sampled_from(GROUPS), st.sampled_from(SOURCES),
                                         st.sampled_from(interfaces)), unique=True, max_size=3))
        if groups:
            snooping["static-group"] = [
                {"group-address": g, "source-address": s, "interface": i} for g, s, i in groups
            ]
    return snooping


@st.composite
def valid_pws(draw: st.DrawFn, interfaces: list[str]) -> list[Tree]:
    """PWs on the given interfaces, roles only as primary, or primary + backup."""
    keys = draw(st.lists(st.tuples(st.sampled_from(PEERS), st.integers(1, 4294967295)),
                         min_size=len(interfaces), max_size=len(interfaces), unique=True))
    pws = [{"peer-address": peer, "vc-id": str(vc_id), "interface": interface}
           for (peer, vc_id), interface in zip(keys, interfaces)]
    roles = draw(st.sampled_from([(), ("primary",), ("primary", "backup"), ("backup", "primary")]))
    for pw, role in zip(pws, roles[: len(pws)] if "primary" in roles[: len(pws)] else ()):
        pw["role"] = role
    for pw in pws:
        if draw(st.booleans()):
            pw["keepalive-interval"] = str(draw(st.integers(10, 10000)))
            pw["keepalive-multiplier"] = str(draw(st.integers(2, 255)))
        if draw(st.booleans()):
            pw["revertive"] = draw(booleans)
            pw["wtr-time"] = str(draw(st.integers(0, 3600)))
    return pws


@st.composite
def valid_configs(draw: st.DrawFn) -> Tree:
    global_on = draw(st.booleans())
    tree: Tree = {"l2-multicast": {"igmp-snooping-enable": "true" if global_on else "false"}}
    if draw(st.booleans()):
        tree["l2-multicast"]["device-mac"] = draw(st.sampled_from(UNICAST_MACS))
    names = draw(st.lists(st.sampled_from(VSI_NAMES), unique=True, max_size=3))
    free_interfaces = draw(st.permutations(INTERFACES))
    vsis = []
    for name in names:
        n_acs, n_pws = draw(st.integers(0, 3)), draw(st.integers(0, 3))
        acs, pw_interfaces = free_interfaces[:n_acs], free_interfaces[n_acs:n_acs + n_pws]
        free_interfaces = free_interfaces[n_acs + n_pws:]
        vsi: Tree = {"name": name}
        if draw(st.booleans()):
            vsi["unknown-multicast-action"] = draw(st.sampled_from(["flood", "drop"]))
        if acs:
            vsi["acs"] = {"ac": [{"interface": interface} for interface in acs]}
        if pw_interfaces:
            vsi["pws"] = {"pw": draw(valid_pws(pw_interfaces))}
        vsi["igmp-snooping"] = draw(valid_snooping(global_on, [*acs, *pw_interfaces]))
        vsis.append(vsi)
    if vsis:
        tree["vsis"] = {"vsi": vsis}
    return tree


# --------------------------------------------------------------------------- one rule broken


def _vsi(tree: Tree) -> Tree:
    """The first VSI, created if there is none (name outside the generated vocabulary)."""
    vsis = tree.setdefault("vsis", {}).setdefault("vsi", [])
    if not vsis:
        vsis.append({"name": "mutant"})
    return vsis[0]


def _snooping(tree: Tree) -> Tree:
    return _vsi(tree).setdefault("igmp-snooping", {})


def _add_pw(tree: Tree, interface: str, role: str | None = None, vc_id: str = "4000") -> Tree:
    pw: Tree = {"peer-address": "198.51.100.1", "vc-id": vc_id, "interface": interface}
    if role:
        pw["role"] = role
    _vsi(tree).setdefault("pws", {}).setdefault("pw", []).append(pw)
    return pw


def _snooping_on_without_global(tree: Tree) -> None:
    tree["l2-multicast"]["igmp-snooping-enable"] = "false"
    _snooping(tree)["enable"] = "true"


def _global_switch_absent(tree: Tree) -> None:
    tree.pop("l2-multicast")
    _snooping(tree)["enable"] = "true"


def _forward_without_snooping(feature: str) -> Callable[[Tree], None]:
    def mutate(tree: Tree) -> None:
        _snooping(tree).update({"enable": "false", f"backup-{feature}-forward": "true"})
    return mutate


def _replace_without_forward(feature: str) -> Callable[[Tree], None]:
    def mutate(tree: Tree) -> None:
        snooping = _snooping(tree)
        snooping[f"backup-{feature}-forward"] = "false"
        snooping[f"backup-{feature}-source-mac-replace"] = "false"
    return mutate


def _holdtime_without_fast_control(tree: Tree) -> None:
    _snooping(tree).update({"pw-fast-control": "false", "pw-fast-control-holdtime": "30"})


def _holdtime_out_of_range(tree: Tree) -> None:
    _snooping(tree).update({"pw-fast-control": "true", "pw-fast-control-holdtime": "121"})


def _backup_without_primary(tree: Tree) -> None:
    for pw in _vsi(tree).get("pws", {}).get("pw", []):
        pw.pop("role", None)
    _add_pw(tree, "mut-pw0", "backup")


def _two_primaries(tree: Tree) -> None:
    for pw in _vsi(tree).get("pws", {}).get("pw", []):
        pw.pop("role", None)
    _add_pw(tree, "mut-pw0", "primary", "4000")
    _add_pw(tree, "mut-pw1", "primary", "4001")


def _foreign_static_router_port(tree: Tree) -> None:
    _snooping(tree).setdefault("static-router-port", []).append("nowhere")


def _foreign_static_group_port(tree: Tree) -> None:
    _snooping(tree).setdefault("static-group", []).append(
        {"group-address": "239.9.9.9", "source-address": "0.0.0.0", "interface": "nowhere"})


def _bad_static_group(tree: Tree) -> None:
    _vsi(tree).setdefault("acs", {}).setdefault("ac", []).append({"interface": "mut-ac"})
    _snooping(tree).setdefault("static-group", []).append(
        {"group-address": "224.0.0.22", "source-address": "0.0.0.0", "interface": "mut-ac"})


def _multicast_source(tree: Tree) -> None:
    _vsi(tree).setdefault("acs", {}).setdefault("ac", []).append({"interface": "mut-ac"})
    _snooping(tree).setdefault("static-group", []).append(
        {"group-address": "239.9.9.9", "source-address": "239.0.0.1", "interface": "mut-ac"})


def _max_response_not_below_query_interval(tree: Tree) -> None:
    _snooping(tree).update({"query-interval": "10", "max-response-time": "10"})


def _interface_clash_across_vsis(tree: Tree) -> None:
    first = _vsi(tree)
    first.setdefault("acs", {}).setdefault("ac", []).append({"interface": "shared0"})
    tree["vsis"]["vsi"].append({"name": "mutant-2", "pws": {"pw": [
        {"peer-address": "198.51.100.2", "vc-id": "9", "interface": "shared0"}]}})


def _ac_and_pw_on_one_interface(tree: Tree) -> None:
    _vsi(tree).setdefault("acs", {}).setdefault("ac", []).append({"interface": "shared1"})
    _add_pw(tree, "shared1")


def _bad_vsi_name(tree: Tree) -> None:
    tree.setdefault("vsis", {}).setdefault("vsi", []).append({"name": "bad name"})


def _vc_id_zero(tree: Tree) -> None:
    _add_pw(tree, "mut-pw0", vc_id="0")


def _keepalive_too_fast(tree: Tree) -> None:
    _add_pw(tree, "mut-pw0")["keepalive-interval"] = "9"


def _pw_without_interface(tree: Tree) -> None:
    _add_pw(tree, "mut-pw0").pop("interface")


def _state_node_in_config(tree: Tree) -> None:
    _vsi(tree).setdefault("acs", {}).setdefault("ac", []).append({"interface": "mut-ac", "oper-status": "up"})


def _multicast_device_mac(tree: Tree) -> None:
    tree["l2-multicast"]["device-mac"] = "01:00:5e:00:00:01"


BREAKERS: dict[str, Callable[[Tree], None]] = {
    "snooping-on-without-global-switch": _snooping_on_without_global,
    "global-switch-absent": _global_switch_absent,
    "backup-query-forward-without-snooping": _forward_without_snooping("query"),
    "backup-report-forward-without-snooping": _forward_without_snooping("report"),
    "query-mac-replace-without-forward": _replace_without_forward("query"),
    "report-mac-replace-without-forward": _replace_without_forward("report"),
    "holdtime-without-fast-control": _holdtime_without_fast_control,
    "holdtime-out-of-range": _holdtime_out_of_range,
    "backup-without-primary": _backup_without_primary,
    "two-primaries": _two_primaries,
    "foreign-static-router-port": _foreign_static_router_port,
    "foreign-static-group-port": _foreign_static_group_port,
    "link-local-static-group": _bad_static_group,
    "multicast-static-source": _multicast_source,
    "max-response-time-not-below-query-interval": _max_response_not_below_query_interval,
    "interface-clash-across-vsis": _interface_clash_across_vsis,
    "ac-and-pw-on-one-interface": _ac_and_pw_on_one_interface,
    "bad-vsi-name": _bad_vsi_name,
    "vc-id-zero": _vc_id_zero,
    "keepalive-too-fast": _keepalive_too_fast,
    "pw-without-interface": _pw_without_interface,
    "state-node-in-config": _state_node_in_config,
    "multicast-device-mac": _multicast_device_mac,
}


@st.composite
def broken_configs(draw: st.DrawFn) -> tuple[str, Tree]:
    """(rule broken, configuration): a valid configuration with one rule broken."""
    tree = copy.deepcopy(draw(valid_configs()))
    rule = draw(st.sampled_from(sorted(BREAKERS)))
    BREAKERS[rule](tree)
    return rule, tree


# --------------------------------------------------------------------------- anything goes

SMALL_INTERFACES = ["ac1", "ac2", "ac3", "ac4", "pw1", "pw2", "pw3", "pw4"]
BAD_INTERFACES = ["bad iface", "x" * 16]


def mostly(good: list[Any], bad: list[Any]) -> st.SearchStrategy[Any]:
    """Good values four times as often as bad ones, so that about half the configurations
    generated below are valid and both verdicts get exercised."""
    return st.sampled_from(good * 4 + bad)


def _maybe(draw: st.DrawFn, strategy: st.SearchStrategy[Any], percent_present: int = 50) -> Any:
    """A value from ``strategy`` ``percent_present`` % of the time, else None (node left out)."""
    return draw(strategy) if draw(st.integers(0, 99)) < percent_present else None


@st.composite
def free_pws(draw: st.DrawFn) -> list[Tree]:
    keys = draw(st.lists(st.tuples(st.sampled_from(PEERS), mostly(["1", "2", "3"], ["0"])),
                         unique=True, max_size=3))
    pws = []
    for peer, vc_id in keys:
        pw: Tree = {"peer-address": peer, "vc-id": vc_id}
        interface = _maybe(draw, mostly(SMALL_INTERFACES, BAD_INTERFACES), 90)
        if interface is not None:
            pw["interface"] = interface
        role = _maybe(draw, st.sampled_from(["primary", "backup"]), 30)
        if role is not None:
            pw["role"] = role
        pws.append(pw)
    return pws


@st.composite
def free_snooping(draw: st.DrawFn, own: list[str]) -> Tree:
    """igmp-snooping with any switch combination; static ports mostly among ``own``."""
    snooping: Tree = {}
    for leaf in ("enable", "backup-query-forward", "backup-query-source-mac-replace",
                 "backup-report-forward", "backup-report-source-mac-replace", "pw-fast-control"):
        value = _maybe(draw, booleans, 25 if "replace" in leaf else 60)
        if value is not None:
            snooping[leaf] = value
    for leaf, values in (("pw-fast-control-holdtime", mostly([5, 60, 120], [4, 121])),
                         ("query-interval", mostly([11, 60, 125], [0, 5, 10])),
                         ("max-response-time", mostly([1, 10], [25, 26]))):
        value = _maybe(draw, values, 30)
        if value is not None:
            snooping[leaf] = str(value)
    ports = mostly(own, ["ac1"]) if own else st.sampled_from(["ac1"])
    routers = draw(st.lists(ports, unique=True, max_size=2))
    if routers:
        snooping["static-router-port"] = routers
    groups = draw(st.lists(st.tuples(mostly(GROUPS, BAD_GROUPS), mostly(SOURCES, BAD_SOURCES),
                                     ports), unique=True, max_size=2))
    if groups:
        snooping["static-group"] = [{"group-address": g, "source-address": s, "interface": i}
                                    for g, s, i in groups]
    return snooping


@st.composite
def free_configs(draw: st.DrawFn) -> Tree:
    """Configurations from a small vocabulary where interfaces clash and any switch combines."""
    tree: Tree = {}
    switch = _maybe(draw, mostly(["true"], ["false"]), 80)
    if switch is not None:
        tree["l2-multicast"] = {"igmp-snooping-enable": switch}
    vsis = []
    for name in draw(st.lists(mostly(VSI_NAMES, BAD_VSI_NAMES), unique=True, max_size=3)):
        vsi: Tree = {"name": name}
        acs = draw(st.lists(mostly(SMALL_INTERFACES, BAD_INTERFACES), unique=True, max_size=2))
        if acs:
            vsi["acs"] = {"ac": [{"interface": i} for i in acs]}
        pws = draw(free_pws())
        if pws:
            vsi["pws"] = {"pw": pws}
        own = [*acs, *(pw["interface"] for pw in pws if "interface" in pw)]
        snooping = draw(free_snooping(own))
        if snooping:
            vsi["igmp-snooping"] = snooping
        vsis.append(vsi)
    if vsis:
        tree["vsis"] = {"vsi": vsis}
    return tree


# --------------------------------------------------------------------------- oracle vs oracle


def _verdicts(tree: Tree) -> dict[str, tuple[bool, str]]:
    return both_oracles(to_xml(tree))


@EXAMPLES
@given(valid_configs())
def test_generated_valid_configs_are_accepted_by_both_oracles(tree: Tree) -> None:
    verdicts = _verdicts(tree)
    assert all(ok for ok, _ in verdicts.values()), (verdicts, to_xml(tree))


@settings(EXAMPLES, max_examples=80)
@given(broken_configs())
def test_each_broken_rule_is_rejected_by_both_oracles(case: tuple[str, Tree]) -> None:
    rule, tree = case
    event(rule)
    verdicts = _verdicts(tree)
    assert not any(ok for ok, _ in verdicts.values()), (rule, verdicts, to_xml(tree))


@settings(EXAMPLES, max_examples=80)
@given(free_configs())
def test_oracles_agree_on_arbitrary_configs(tree: Tree) -> None:
    verdicts = _verdicts(tree)
    event(f"valid: {verdicts['yanglint'][0]}")  # --hypothesis-show-statistics shows the mix
    assert verdicts["yanglint"][0] == verdicts["yangson"][0], (verdicts, to_xml(tree))


# --------------------------------------------------------------------------- our validator



def our_verdict(tree: Tree) -> tuple[bool, str]:
    """Our validator's answer: the instance loads (types, names, config-only) and validates."""
    from agent.errors import RpcError, RpcErrors
    from agent.instance import load_instance
    from agent.validate import Validator

    schema = _schema()
    try:
        root = load_instance(schema, etree.fromstring(to_xml(tree).encode()))
    except (RpcError, RpcErrors) as exc:
        return False, repr(exc)
    errors = Validator(schema).validate_full(root)
    return not errors, "; ".join(repr(error) for error in errors)


_SCHEMA: list[Any] = []


def _schema() -> Any:
    """The compiled schema, once per test session (compiling takes a while)."""
    if not _SCHEMA:
        from agent.schema import load_schema

        _SCHEMA.append(load_schema())
    return _SCHEMA[0]


def _assert_same_verdict(tree: Tree, expected: bool | None = None) -> None:
    verdicts = _verdicts(tree)
    ours = our_verdict(tree)
    oracle = verdicts["yanglint"][0]
    if expected is not None:
        assert oracle == expected, (verdicts, to_xml(tree))
    assert ours[0] == oracle, {"ours": ours, **verdicts, "document": to_xml(tree)}


@EXAMPLES
@given(valid_configs())
def test_our_validator_accepts_what_the_oracles_accept(tree: Tree) -> None:
    _assert_same_verdict(tree, expected=True)


@settings(EXAMPLES, max_examples=80)
@given(broken_configs())
def test_our_validator_rejects_each_broken_rule(case: tuple[str, Tree]) -> None:
    _rule, tree = case
    _assert_same_verdict(tree, expected=False)


@settings(EXAMPLES, max_examples=80)
@given(free_configs())
def test_our_validator_agrees_with_the_oracles_on_arbitrary_configs(tree: Tree) -> None:
    _assert_same_verdict(tree)


@pytest.mark.parametrize("rule", sorted(BREAKERS))
def test_our_validator_rejects_every_breaker_on_the_lab_config(rule: str) -> None:
    """Every breaker at least once, whatever hypothesis draws: on the lab UPE."""
    from tests.agent.yang_oracles import upe_config

    tree = upe_config()
    BREAKERS[rule](tree)
    _assert_same_verdict(tree, expected=False)


@pytest.mark.parametrize("rule", sorted(BREAKERS))
def test_every_breaker_is_rejected_by_both_oracles_on_the_lab_config(rule: str) -> None:
    from tests.agent.yang_oracles import upe_config

    tree = upe_config()
    BREAKERS[rule](tree)
    verdicts = _verdicts(tree)
    assert not any(ok for ok, _ in verdicts.values()), (rule, verdicts)
