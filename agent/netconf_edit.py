"""RFC 6241 operations that write or check whole configurations: edit-config (7.2),
copy-config (7.3), delete-config (7.4) and validate (8.6, :validate:1.1).

The handlers only read the request; the semantics live in :mod:`agent.edit_config` (what an
edit does to a tree) and :mod:`agent.datastore` (locks, validation, hooks, persistence).
"""

from __future__ import annotations

from lxml import etree

from agent.datastore import CANDIDATE, RUNNING, STARTUP, Datastores
from agent.errors import (ErrorTag, ErrorType, RpcError, RpcErrors, missing_element,
                          operation_not_supported)
from agent.rpc import RpcContext, operation
from agent.session import element_children
from agent.xmlns import NC, qn, split_qn

CONFIG_TAG = qn(NC, "config")
URL_TAG = qn(NC, "url")


def datastore_parameter(op: etree._Element, parameter: str, allowed: tuple[str, ...]) -> str | etree._Element:
    """The datastore named by `<target>` / `<source>`, or the inline `<config>` of a source.

    ``allowed`` lists the datastore names this operation accepts; ``config`` in it means an
    inline configuration is accepted too.
    """
    container = op.find(qn(NC, parameter))
    op_name = split_qn(op.tag)[1]
    if container is None:
        raise missing_element(parameter, f"<{op_name}> needs a <{parameter}>")
    choices = element_children(container)
    if len(choices) != 1:
        if not choices:
            raise missing_element(parameter, f"<{parameter}> of <{op_name}> names no datastore")
        raise RpcError(ErrorTag.BAD_ELEMENT, f"<{parameter}> of <{op_name}> names more than one datastore",
                       type=ErrorType.PROTOCOL, info=[("bad-element", parameter)])
    choice = choices[0]
    namespace, name = split_qn(choice.tag)
    if choice.tag == URL_TAG:
        raise operation_not_supported("url")
    if namespace == NC and name == "config" and "config" in allowed:
        return choice
    if namespace == NC and name in allowed:
        return name
    names = ", ".join(f"<{a}>" for a in allowed)
    raise RpcError(ErrorTag.INVALID_VALUE, f"<{op_name}> {parameter} must be one of {names}; "
                   f"<{name}> is not allowed", type=ErrorType.PROTOCOL, info=[("bad-element", name)])


def text_parameter(op: etree._Element, name: str, default: str) -> str:
    element = op.find(qn(NC, name))
    return default if element is None else (element.text or "").strip()


def datastores(ctx: RpcContext) -> Datastores:
    return ctx.server.datastores


@operation(qn(NC, "edit-config"))
def edit_config(ctx: RpcContext, op: etree._Element) -> None:
    """RFC 6241 7.2 on running (:writable-running) or candidate (:candidate)."""
    target = datastore_parameter(op, "target", (RUNNING, CANDIDATE))
    assert isinstance(target, str)
    config = op.find(CONFIG_TAG)
    if config is None:
        if op.find(URL_TAG) is not None:
            raise operation_not_supported("url")
        raise missing_element("config", "<edit-config> needs the <config> to apply")
    datastores(ctx).edit(
        target, config, session_id=ctx.session.id,
        default_operation=text_parameter(op, "default-operation", "merge"),
        error_option=text_parameter(op, "error-option", "stop-on-error"),
        test_option=text_parameter(op, "test-option", "test-then-set"),
    )


@operation(qn(NC, "copy-config"))
def copy_config(ctx: RpcContext, op: etree._Element) -> None:
    """RFC 6241 7.3: replace a whole datastore with another one or an inline `<config>`.

    A new running is validated in full and goes through the commit hooks; startup is saved.
    """
    target = datastore_parameter(op, "target", (RUNNING, CANDIDATE, STARTUP))
    source = datastore_parameter(op, "source", (RUNNING, CANDIDATE, STARTUP, "config"))
    assert isinstance(target, str)
    stores = datastores(ctx)
    if isinstance(source, str):
        if source == target:
            raise RpcError(ErrorTag.INVALID_VALUE, f"<copy-config> source and target are both {target}",
                           type=ErrorType.PROTOCOL, info=[("bad-element", "source")])
        new_root = stores.copy_of(source)
    else:
        new_root = stores.tree_from_config(source)
    stores.replace(target, new_root, session_id=ctx.session.id)


@operation(qn(NC, "delete-config"))
def delete_config(ctx: RpcContext, op: etree._Element) -> None:
    """RFC 6241 7.4: only startup can be deleted (running never; candidate: discard-changes)."""
    target = datastore_parameter(op, "target", (RUNNING, CANDIDATE, STARTUP))
    if target != STARTUP:
        raise RpcError(ErrorTag.OPERATION_NOT_SUPPORTED,
                       f"the {target} datastore cannot be deleted; only startup can",
                       type=ErrorType.PROTOCOL, info=[("bad-element", str(target))])
    datastores(ctx).delete_startup(session_id=ctx.session.id)


@operation(qn(NC, "validate"))
def validate(ctx: RpcContext, op: etree._Element) -> None:
    """RFC 6241 8.6 (:validate:1.1): check a datastore or an inline `<config>` completely."""
    source = datastore_parameter(op, "source", (RUNNING, CANDIDATE, STARTUP, "config"))
    stores = datastores(ctx)
    if isinstance(source, str):
        errors = stores.validate_datastore(source)
    else:
        errors = stores.validator.validate_full(stores.tree_from_config(source))
    if errors:
        raise RpcErrors(errors)
