"""RFC 7950 sections 7.14 and 7.15: the module's rpcs and actions, run on the dataplane.

The NETCONF encoding of an action (RFC 7950 7.15.2) is the operation
``<action xmlns="urn:ietf:params:xml:ns:yang:1">`` holding *one* path of data nodes from a
top-level node down to the action: every container and list on the way, every key of every
list, and, in the innermost node, the action element with its input parameters.  The reply
is ``<ok/>`` for an action without output, else the output leaves as children of
``<rpc-reply>`` (in the module's namespace, in schema order).  An rpc (7.14.2) is simply the
rpc's element inside ``<rpc>`` with its input parameters as children.

Everything in a request is checked before anything runs, so a refused request changes
nothing:

==================================================  ========================================
what is wrong                                       rpc-error (RFC 6241 Appendix A, 7950 15)
==================================================  ========================================
``<action>`` empty                                  missing-element (protocol)
more than one path / more than one action           bad-element (protocol), RFC 7950 7.15.2
element of no module's namespace                    unknown-namespace
element that is not a schema node there             unknown-element
list entry without all its keys                     missing-element, bad-element = the key
key value not of the key's type                     invalid-value, error-path at the key
the path reaches a leaf, leaf-list, notification    bad-element: not on a path to an action
 or an rpc (rpcs are invoked without ``<action>``)
the path ends without an action                     missing-element, naming the actions there
input parameter the action/rpc does not define      unknown-element (RFC 7950 8.3.1)
input value not of its type                         invalid-value (RFC 7950 8.3.1)
leafref input without its instance                  data-missing / instance-required (15.5)
the action's target instance does not exist         data-missing, error-path = the target
the dataplane refuses (unknown VSI, switchover)     operation-failed, error-path = the target
==================================================  ========================================

Where the target must exist: RFC 7950 7.15 ties an action to "a specific container or list
data node", and NMDA (RFC 8342 section 6.1) makes the operational state datastore the tree
that actions, and the XPath of rpc/action input, are evaluated against.  So an action's
target - and a leafref in an rpc's input - must exist in ``<operational>``.  Every action
and leafref of ``vsi-l2-multicast`` points at configuration list entries (a VSI, a PW); in
this agent such an entry is in ``<operational>`` exactly when it is in ``<running>``
(``<intended>`` is ``<running>``, and a commit the dataplane refuses changes neither), so the
lookup uses running's key index - one dict lookup among 10,000 VSIs - instead of building
the operational tree.  An entry that exists only in ``<candidate>`` is not there yet: the
answer is data-missing.  (libyang's ``yanglint -t nc-rpc -O`` makes the same check against
operational data, which the tests use as an oracle.)

Only what is defined in the module runs: each action has an implementation registered with
:func:`action_implementation` under its schema path; a schema action without one is
answered operation-not-supported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from agent.errors import AppTag, ErrorTag, ErrorType, RpcError, missing_element
from agent.instance import load_subtree
from agent.rpc import RpcContext, operation
from agent.schema import Schema, SchemaNode, XPathExpr
from agent.xmlns import VL2MC, VL2MC_PREFIX, YANG, element_children, qn, split_qn
from agent.yang_types import check_value, instance_path
from dataplane.device import UnknownVsiError
from dataplane.pw_redundancy import SwitchoverError

if TYPE_CHECKING:  # pragma: no cover
    from agent.dataplane_driver import Dataplane
    from agent.datastore import Datastore

__all__ = [
    "ACTION_TAG", "ActionImplementation", "Invocation", "action_implementation", "check_leafref_instances",
    "invoke_action", "output_leaf", "parse_action", "require_target", "reset_igmp_snooping_group",
    "reset_igmp_snooping_statistics",
]

#: an error-path and the prefixes it uses (None: the error has no path)
ErrorPath = tuple[str | None, dict[str, str]]

#: RFC 7950 7.15.2: the operation element of every action invocation.
ACTION_TAG = qn(YANG, "action")

_PATH_KEYWORDS = frozenset({"container", "list"})


@dataclass
class Invocation:
    """One checked action request: what an implementation needs, nothing it must re-check.

    ``element`` and ``target`` sit in a canonical copy of the request's path: its
    containers, its list entries with only their keys (canonical values), and the action
    element holding the loaded input parameters (canonical, defaults filled in).  So
    :func:`agent.yang_types.instance_path` of any element in it is the instance identifier
    of that node, with the values the datastore uses.
    """

    action: SchemaNode
    #: the action's element in ``path`` (its children are the input parameters)
    element: etree._Element
    #: the action's parent in ``path``: the container or list entry the action runs on
    target: etree._Element
    #: key values of every list entry on the path, by list name: {"vsi": ("iptv",), ...}
    keys: dict[str, tuple[str, ...]]
    #: the target's element in running once :func:`require_target` found it (None for a
    #: non-presence container the datastore holds no element for)
    instance: etree._Element | None = None

    def target_path(self, schema: Schema) -> tuple[str, dict[str, str]]:
        """Instance identifier (and its prefixes) of the node the action runs on."""
        return instance_path(self.target, schema)


#: ``implementation(ctx, invocation) -> output leaves (or None for <ok/>)``
ActionImplementation = Callable[[RpcContext, Invocation], list[etree._Element] | None]

_IMPLEMENTATIONS: dict[str, ActionImplementation] = {}


def action_implementation(schema_path: str) -> Callable[[ActionImplementation], ActionImplementation]:
    """Register the implementation of the action at ``schema_path`` (``/prefix:a/prefix:b``)."""

    def register(implementation: ActionImplementation) -> ActionImplementation:
        if _IMPLEMENTATIONS.get(schema_path, implementation) is not implementation:
            raise RuntimeError(f"two implementations registered for the action {schema_path}")
        _IMPLEMENTATIONS[schema_path] = implementation
        return implementation

    return register


# ------------------------------------------------------------------------------------------
# The <action> operation
# ------------------------------------------------------------------------------------------

@operation(ACTION_TAG)
def invoke_action(ctx: RpcContext, op: etree._Element) -> list[etree._Element] | None:
    """RFC 7950 7.15.2: check the whole request, find the target, then run the action."""
    schema = ctx.server.schema
    invocation = parse_action(schema, op)
    implementation = _IMPLEMENTATIONS.get(invocation.action.schema_path())
    if implementation is None:
        raise RpcError(ErrorTag.OPERATION_NOT_SUPPORTED,
                       f"the action {invocation.action.name} is defined but this server does not implement it",
                       type=ErrorType.APPLICATION, info=[("bad-element", invocation.action.name)])
    check_leafref_instances(ctx, invocation.element, invocation.action)
    invocation.instance = require_target(ctx, invocation)
    return implementation(ctx, invocation)


def parse_action(schema: Schema, op: etree._Element) -> Invocation:
    """The request's one path down to one action, checked and in canonical form.

    Raises the precise rpc-error of the first thing wrong (module docstring table).
    """
    paths = element_children(op)
    if not paths:
        raise missing_element("action", "the <action> element is empty: it must hold the path of data nodes "
                              "(every container and list, with all list keys) down to the action to invoke",
                              type=ErrorType.PROTOCOL)
    if len(paths) > 1:
        raise _more_than_one(paths[1], "an <action> holds exactly one path to one action (RFC 7950 7.15.2)")
    element = paths[0]
    node = _top_node(schema, element)
    keys: dict[str, tuple[str, ...]] = {}
    copy_parent: etree._Element | None = None
    while node.keyword != "action":
        copy = _copy_step(schema, node, element, copy_parent, keys)
        element, node = _next_step(schema, node, element)
        copy_parent = copy
    assert copy_parent is not None          # an action is never a top-level node
    loaded = load_subtree(schema, node.children["input"], element)
    action_copy = etree.SubElement(copy_parent, node.tag)
    action_copy.extend(list(loaded))
    return Invocation(action=node, element=action_copy, target=copy_parent, keys=keys)


def _top_node(schema: Schema, element: etree._Element) -> SchemaNode:
    node = schema.roots.get(element.tag)
    if node is not None:
        return _path_node(schema, node, element)
    rpc = schema.rpcs.get(element.tag)
    if rpc is not None:
        raise _not_on_a_path(schema, element, f"{rpc.name} is an rpc, not an action: invoke it directly "
                                              f"inside <rpc>, without <action>")
    raise _unknown(schema, element, "at the top level")


def _path_node(schema: Schema, node: SchemaNode, element: etree._Element) -> SchemaNode:
    """``node`` if it may stand on a path to an action, else the precise refusal."""
    if node.keyword in _PATH_KEYWORDS or node.keyword == "action":
        return node
    what = {"leaf-list": "a leaf-list", "anydata": "anydata", "anyxml": "anyxml",
            "notification": "a notification"}.get(node.keyword, f"a {node.keyword}")
    raise _not_on_a_path(schema, element, f"{node.name} is {what}, not an action or a container or list on "
                                          "the way to one; an <action> holds only containers, lists with "
                                          "their keys, and the action")


def _copy_step(schema: Schema, node: SchemaNode, element: etree._Element, parent: etree._Element | None,
               keys: dict[str, tuple[str, ...]]) -> etree._Element:
    """Append the canonical copy of one container or list entry (keys only) to the path copy."""
    copy = etree.Element(node.tag, nsmap={None: node.namespace}) if parent is None \
        else etree.SubElement(parent, node.tag)
    if node.keyword == "list":
        values = _key_values(schema, node, element)
        keys[node.name] = values
        for key, value in zip(node.keys, values):
            etree.SubElement(copy, qn(node.namespace, key)).text = value
    return copy


def _key_values(schema: Schema, node: SchemaNode, element: etree._Element) -> tuple[str, ...]:
    """Every key of the list entry, once each and of its type (RFC 7950 7.15.2, 8.3.1)."""
    values: list[str] = []
    for key in node.keys:
        key_tag = qn(node.namespace, key)
        found = element.findall(key_tag)
        if not found:
            path, nsmap = _entry_path(schema, node, element)
            raise RpcError(ErrorTag.MISSING_ELEMENT,
                           f"the {node.name} entry on the path to the action lacks its key '{key}'; "
                           f"an <action> must give every key of every list ({', '.join(node.keys)})",
                           type=ErrorType.APPLICATION, path=path, path_nsmap=nsmap, info=[("bad-element", key)])
        if len(found) > 1:
            raise _not_on_a_path(schema, found[1], f"the key '{key}' of {node.name} is given more than "
                                                   "once; a leaf has one instance")
        key_node = node.children[key_tag]
        assert key_node.type is not None
        try:
            values.append(check_value(key_node.type, found[0].text or "", found[0].nsmap, name=key))
        except RpcError as exc:
            exc.path, exc.path_nsmap = instance_path(found[0], schema)
            raise
    return tuple(values)


def _entry_path(schema: Schema, node: SchemaNode, element: etree._Element) -> tuple[str, dict[str, str]]:
    """Path of a list entry whose keys are incomplete: its parent's instance identifier and
    the list's name, without predicates it cannot have yet."""
    parent = element.getparent()
    # a top-level list's parent is the <action> element itself, which is on no path
    base, nsmap = instance_path(parent, schema) if parent is not None and node.parent is not None else ("", {})
    nsmap = {**nsmap, node.prefix: node.namespace}
    return f"{base.rstrip('/')}/{node.prefix}:{node.name}", nsmap


def _next_step(schema: Schema, node: SchemaNode, element: etree._Element) -> tuple[etree._Element, SchemaNode]:
    """The one child of ``element`` that continues the path (keys aside), and its node."""
    key_tags = {qn(node.namespace, k) for k in node.keys}
    steps: list[tuple[etree._Element, SchemaNode]] = []
    for child in element_children(element):
        if child.tag in key_tags:
            continue
        child_node = node.children.get(child.tag)
        if child_node is None:
            raise _unknown(schema, child, f"in {node.keyword} {node.name}")
        steps.append((child, _path_node(schema, child_node, child)))
    if not steps:
        raise _no_action(schema, node, element)
    if len(steps) > 1:
        raise _more_than_one(steps[1][0], f"{node.name} holds more than one path; an <action> invokes "
                                          "exactly one action on one node (RFC 7950 7.15.2)")
    return steps[0]


def _actions_below(node: SchemaNode) -> Iterator[str]:
    """Relative schema paths of the actions at or below ``node`` (for messages)."""
    for child in node.children.values():
        if child.keyword == "action":
            yield child.name
        elif child.keyword in _PATH_KEYWORDS:
            yield from (f"{child.name}/{below}" for below in _actions_below(child))


# --- errors of the path ---------------------------------------------------------------------

def _unknown(schema: Schema, element: etree._Element, where: str) -> RpcError:
    ns, local = split_qn(element.tag)
    path, nsmap = instance_path(element, schema)
    if ns not in schema.namespaces:
        return RpcError(
            ErrorTag.UNKNOWN_NAMESPACE,
            f"element '{local}' is in the namespace '{ns}', which is not one of this server's modules"
            if ns else f"element '{local}' has no namespace; the path to an action is made of the "
                       "module's data nodes, in the module's namespace",
            type=ErrorType.APPLICATION, path=path, path_nsmap=nsmap,
            info=[("bad-element", local), ("bad-namespace", ns)])
    return RpcError(ErrorTag.UNKNOWN_ELEMENT, f"'{local}' is not a data node {where}",
                    type=ErrorType.APPLICATION, path=path, path_nsmap=nsmap, info=[("bad-element", local)])


def _not_on_a_path(schema: Schema, element: etree._Element, message: str) -> RpcError:
    path, nsmap = instance_path(element, schema)
    return RpcError(ErrorTag.BAD_ELEMENT, message, type=ErrorType.APPLICATION, path=path, path_nsmap=nsmap,
                    info=[("bad-element", split_qn(element.tag)[1])])


def _more_than_one(element: etree._Element, message: str) -> RpcError:
    """RFC 7950 7.15.2: "If more than one action appears ... bad-element"."""
    return RpcError(ErrorTag.BAD_ELEMENT, message, type=ErrorType.PROTOCOL,
                    info=[("bad-element", split_qn(element.tag)[1])])


def _no_action(schema: Schema, node: SchemaNode, element: etree._Element) -> RpcError:
    path, nsmap = instance_path(element, schema)
    below = sorted(_actions_below(node))
    hint = f"actions below it: {', '.join(below)}" if below else "it has no action below it"
    return RpcError(ErrorTag.MISSING_ELEMENT, f"the path ends at {node.keyword} {node.name} without naming "
                    f"an action ({hint})", type=ErrorType.APPLICATION, path=path, path_nsmap=nsmap,
                    info=[("bad-element", below[0].rpartition("/")[2] if below else node.name)])


# ------------------------------------------------------------------------------------------
# The target and the input's leafrefs: both looked up where they live (module docstring)
# ------------------------------------------------------------------------------------------

def require_target(ctx: RpcContext, invocation: Invocation) -> etree._Element | None:
    """The running element of the node the action runs on; data-missing if there is none.

    Non-presence containers exist whenever their parent does (RFC 7950 7.5.1), whether or
    not the datastore holds an element for them (None is returned for such a container
    without one); list entries and presence containers must be there.
    """
    schema = ctx.server.schema
    store = ctx.server.datastores.get("running")
    found: etree._Element | None = store.root
    for step in _path_steps(invocation):
        node = _step_node(schema, step)
        element = _find_child(store, found, node, step) if found is not None else None
        if element is None and (node.keyword == "list" or node.presence):
            raise _target_missing(schema, invocation, node, step)
        found = element
    return found


def _path_steps(invocation: Invocation) -> list[etree._Element]:
    steps: list[etree._Element] = []
    node: etree._Element | None = invocation.target
    while node is not None:
        steps.append(node)
        node = node.getparent()
    return steps[::-1]


def _step_node(schema: Schema, step: etree._Element) -> SchemaNode:
    parent = step.getparent()
    if parent is None:
        return schema.roots[step.tag]
    return _step_node(schema, parent).children[step.tag]


def _find_child(store: "Datastore", parent: etree._Element, node: SchemaNode,
                step: etree._Element) -> etree._Element | None:
    if node.keyword != "list":
        return parent.find(node.tag)
    values = tuple(step.findtext(qn(node.namespace, k)) or "" for k in node.keys)
    return store.index.find(parent, node, values)


def _target_missing(schema: Schema, invocation: Invocation, node: SchemaNode, step: etree._Element) -> RpcError:
    path, nsmap = invocation.target_path(schema)
    if node.keyword == "list":
        keys = ", ".join(f"{k} '{step.findtext(qn(node.namespace, k))}'" for k in node.keys)
        missing = f"there is no {node.name} with {keys}"
    else:
        missing = f"the container {node.name} does not exist"
    return RpcError(ErrorTag.DATA_MISSING, f"cannot run {invocation.action.name}: {missing} "
                    "(the action's target must exist in the operational datastore)",
                    type=ErrorType.APPLICATION, path=path, path_nsmap=nsmap)


def check_leafref_instances(ctx: RpcContext, params: etree._Element, operation_node: SchemaNode) -> None:
    """RFC 7950 9.9 / 15.5: every require-instance leafref in the input names an existing node.

    ``params`` holds the loaded (canonical) input parameters and sits in a copy of the
    request's path, so the error-path is the parameter's instance identifier.  Paths are
    evaluated with the operational configuration (running, see the module docstring) as the
    accessible tree's data.
    """
    schema = ctx.server.schema
    xpath = ctx.server.validator.xpath
    root = ctx.server.datastores.get("running").root
    for element, node in _input_leaves(params, operation_node.children["input"]):
        leafref = node.type
        if leafref is None or leafref.base != "leafref" or not leafref.require_instance \
                or leafref.leafref_path is None:
            continue
        path = leafref.leafref_path
        check = xpath.compile(XPathExpr(f"({path.text}) = current()", path.nsmap, path.default_ns))
        if not check.boolean(element, current=element, root=root):
            error_path, nsmap = instance_path(element, schema)
            raise RpcError(ErrorTag.DATA_MISSING,
                           f"{node.name} '{element.text}' refers to no existing {path.text} "
                           "(it must name an instance that exists)",
                           type=ErrorType.APPLICATION, app_tag=AppTag.INSTANCE_REQUIRED,
                           path=error_path, path_nsmap=nsmap)


def _input_leaves(element: etree._Element, node: SchemaNode) -> Iterator[tuple[etree._Element, SchemaNode]]:
    for child in element_children(element):
        child_node = node.children.get(child.tag)
        if child_node is None:
            continue
        if child_node.is_leaf:
            yield child, child_node
        else:
            yield from _input_leaves(child, child_node)


# ------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------

def output_leaf(operation_node: SchemaNode, name: str, value: str) -> etree._Element:
    """One output leaf of an rpc/action, checked against its type (a bad value is our bug).

    RFC 7950 7.15.2 / 7.14.4: output parameters are children of ``<rpc-reply>`` in the
    namespace of the module that defines them.
    """
    output = operation_node.children["output"]
    node = output.children[qn(operation_node.namespace, name)]
    assert node.type is not None
    leaf = etree.Element(node.tag, nsmap={None: node.namespace})
    leaf.text = check_value(node.type, value, name=name)
    return leaf


# ------------------------------------------------------------------------------------------
# The dataplane behind the module's actions and rpcs
# ------------------------------------------------------------------------------------------

def _refused(what: str, exc: Exception, hint: str, path: ErrorPath) -> RpcError:
    reason = exc.args[0] if exc.args else str(exc)
    return RpcError(ErrorTag.OPERATION_FAILED, f"{what} refused: {reason} ({hint})",
                    type=ErrorType.APPLICATION, path=path[0], path_nsmap=path[1])


def _unknown_vsi(vsi: str, path: ErrorPath) -> RpcError:
    return RpcError(ErrorTag.OPERATION_FAILED,
                    f"VSI '{vsi}' is configured but the dataplane does not have it (yet); "
                    "check that the last commit reached the dataplane, then retry",
                    type=ErrorType.APPLICATION, path=path[0], path_nsmap=path[1])


_VSI = f"/{VL2MC_PREFIX}:vsis/{VL2MC_PREFIX}:vsi"
_PW = f"{_VSI}/{VL2MC_PREFIX}:pws/{VL2MC_PREFIX}:pw"
_SNOOPING = f"{_VSI}/{VL2MC_PREFIX}:igmp-snooping"


@action_implementation(f"{_PW}/{VL2MC_PREFIX}:switchover")
def switchover(ctx: RpcContext, invocation: Invocation) -> None:
    """SPEC 2.1: make this PW the active member of its redundancy pair (manual switchover)."""
    path = invocation.target_path(ctx.server.schema)
    dataplane: Dataplane = ctx.server.dataplane
    (vsi,) = invocation.keys["vsi"]
    peer, vc_id = invocation.keys["pw"]
    try:
        dataplane.switchover(vsi, (peer, int(vc_id)))
    except UnknownVsiError:
        raise _unknown_vsi(vsi, path) from None
    except SwitchoverError as exc:
        raise _refused(f"switchover to PW {peer} vc-id {vc_id} in VSI '{vsi}'", exc,
                       _switchover_hint(invocation.instance), path) from None
    return None


def _switchover_hint(pw: etree._Element | None) -> str:
    """What the person can do about a refused switchover, read from the PW's configuration."""
    if pw is not None and pw.find(qn(VL2MC, "role")) is None:
        return "the PW has no role; only a PW with role primary or backup can be switched over"
    return "the PW must be up (oper-status up) to become active; repair its port or peer first"


@action_implementation(f"{_SNOOPING}/{VL2MC_PREFIX}:clear-groups")
def clear_groups(ctx: RpcContext, invocation: Invocation) -> list[etree._Element]:
    """Remove the VSI's dynamic group entries; answer how many went."""
    path = invocation.target_path(ctx.server.schema)
    dataplane: Dataplane = ctx.server.dataplane
    (vsi,) = invocation.keys["vsi"]
    try:
        cleared = dataplane.clear_groups(vsi)
    except UnknownVsiError:
        raise _unknown_vsi(vsi, path) from None
    return [output_leaf(invocation.action, "groups-cleared", str(cleared))]


@operation(qn(VL2MC, "reset-igmp-snooping-group"))
def reset_igmp_snooping_group(ctx: RpcContext, op: etree._Element) -> None:
    """Remove the dynamic group entries of one VSI (``vsi-name``) or of every VSI."""
    _for_vsi_name(ctx, op, ctx.server.dataplane.clear_groups)


@operation(qn(VL2MC, "reset-igmp-snooping-statistics"))
def reset_igmp_snooping_statistics(ctx: RpcContext, op: etree._Element) -> None:
    """Zero the IGMP snooping statistics of one VSI (``vsi-name``) or of every VSI."""
    _for_vsi_name(ctx, op, ctx.server.dataplane.reset_statistics)


def _for_vsi_name(ctx: RpcContext, op: etree._Element, reset: Callable[[str | None], object]) -> None:
    """Run a reset rpc's dataplane ``reset`` for its checked ``vsi-name`` (None: every VSI)."""
    vsi, path = _vsi_name_input(ctx, op)
    try:
        reset(vsi)
    except UnknownVsiError:
        raise _unknown_vsi(vsi or "", path) from None


def _vsi_name_input(ctx: RpcContext, op: etree._Element) -> tuple[str | None, ErrorPath]:
    """The checked ``vsi-name`` parameter (None: all VSIs) and the error-path to blame."""
    schema = ctx.server.schema
    rpc = schema.rpcs[op.tag]
    loaded = load_subtree(schema, rpc.children["input"], op)
    params = etree.Element(rpc.tag, nsmap={None: rpc.namespace})
    params.extend(list(loaded))
    check_leafref_instances(ctx, params, rpc)
    name = params.find(qn(VL2MC, "vsi-name"))
    if name is None:
        return None, (None, {})
    return name.text, instance_path(name, schema)
