"""RFC 6241 section 4.3 / Appendix A: the one place that builds every `rpc-error`.

Every failure in the agent is raised as :class:`RpcError` (or :class:`RpcErrors` for
continue-on-error, which may report several) and turned into XML here, so error-type,
error-tag, error-app-tag, error-path and error-info are spelled consistently everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum

from lxml import etree

from agent.xmlns import NC, qn


class ErrorType(StrEnum):
    """RFC 6241 section 4.3, error-type: the layer where the error occurred."""

    TRANSPORT = "transport"
    RPC = "rpc"
    PROTOCOL = "protocol"
    APPLICATION = "application"


class ErrorTag(StrEnum):
    """RFC 6241 Appendix A, every error-tag."""

    IN_USE = "in-use"
    INVALID_VALUE = "invalid-value"
    TOO_BIG = "too-big"
    MISSING_ATTRIBUTE = "missing-attribute"
    BAD_ATTRIBUTE = "bad-attribute"
    UNKNOWN_ATTRIBUTE = "unknown-attribute"
    MISSING_ELEMENT = "missing-element"
    BAD_ELEMENT = "bad-element"
    UNKNOWN_ELEMENT = "unknown-element"
    UNKNOWN_NAMESPACE = "unknown-namespace"
    ACCESS_DENIED = "access-denied"
    LOCK_DENIED = "lock-denied"
    RESOURCE_DENIED = "resource-denied"
    ROLLBACK_FAILED = "rollback-failed"
    DATA_EXISTS = "data-exists"
    DATA_MISSING = "data-missing"
    OPERATION_NOT_SUPPORTED = "operation-not-supported"
    OPERATION_FAILED = "operation-failed"
    PARTIAL_OPERATION = "partial-operation"  # deprecated in RFC 6241, never raised here
    MALFORMED_MESSAGE = "malformed-message"


class AppTag(StrEnum):
    """RFC 7950 section 15 error-app-tags (and a few of RFC 6241's own)."""

    MUST_VIOLATION = "must-violation"
    INSTANCE_REQUIRED = "instance-required"
    MISSING_CHOICE = "missing-choice"
    MISSING_INSTANCE = "missing-instance"
    TOO_MANY_ELEMENTS = "too-many-elements"
    TOO_FEW_ELEMENTS = "too-few-elements"
    DATA_NOT_UNIQUE = "data-not-unique"


class RpcError(Exception):
    """One `rpc-error`.

    ``path`` is an instance identifier (RFC 7950 section 9.13) written with prefixes; the
    prefixes it uses must be in ``path_nsmap`` so the receiver can resolve them.  ``info`` holds
    error-info children in order: ``("bad-element", "vsi")``, ``("session-id", "7")``, ...;
    a key given as Clark notation (``{ns}name``) is emitted in that namespace, otherwise in
    the NETCONF base namespace.
    """

    def __init__(
        self,
        tag: ErrorTag | str,
        message: str,
        *,
        type: ErrorType | str = ErrorType.APPLICATION,
        app_tag: str | None = None,
        path: str | None = None,
        path_nsmap: Mapping[str, str] | None = None,
        info: Sequence[tuple[str, str]] | Mapping[str, str] = (),
        severity: str = "error",
    ) -> None:
        super().__init__(message)
        self.tag = ErrorTag(tag)
        self.type = ErrorType(type)
        self.message = message
        self.app_tag = app_tag
        self.path = path
        self.path_nsmap = dict(path_nsmap or {})
        self.info: list[tuple[str, str]] = list(info.items() if isinstance(info, Mapping) else info)
        self.severity = severity

    def __repr__(self) -> str:
        return (
            f"RpcError({self.type.value}/{self.tag.value}"
            f"{'/' + self.app_tag if self.app_tag else ''}: {self.message!r}"
            f"{' at ' + self.path if self.path else ''})"
        )

    def to_element(self) -> etree._Element:
        """The `<rpc-error>` element, in the NETCONF base namespace."""
        err = etree.Element(qn(NC, "rpc-error"), nsmap={None: NC})
        etree.SubElement(err, qn(NC, "error-type")).text = self.type.value
        etree.SubElement(err, qn(NC, "error-tag")).text = self.tag.value
        etree.SubElement(err, qn(NC, "error-severity")).text = self.severity
        if self.app_tag:
            etree.SubElement(err, qn(NC, "error-app-tag")).text = self.app_tag
        if self.path:
            nsmap = {p: ns for p, ns in self.path_nsmap.items() if p}
            path_el = etree.SubElement(err, qn(NC, "error-path"), nsmap=nsmap)
            path_el.text = self.path
        msg = etree.SubElement(err, qn(NC, "error-message"))
        msg.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        msg.text = self.message
        if self.info:
            info_el = etree.SubElement(err, qn(NC, "error-info"))
            for key, value in self.info:
                child_tag = key if key.startswith("{") else qn(NC, key)
                etree.SubElement(info_el, child_tag).text = value
        return err


class RpcErrors(Exception):
    """Several errors at once (continue-on-error, or validation reporting every violation)."""

    def __init__(self, errors: Iterable[RpcError]) -> None:
        self.errors = list(errors)
        if not self.errors:
            raise ValueError("RpcErrors needs at least one error")
        super().__init__("; ".join(e.message for e in self.errors))


# --- constructors for the errors every layer raises, so wording stays consistent -----------

def malformed_message(message: str) -> RpcError:
    """RFC 6241 section 3: not well-formed XML, or not a NETCONF message at all."""
    return RpcError(ErrorTag.MALFORMED_MESSAGE, message, type=ErrorType.RPC)


def operation_not_supported(op: str) -> RpcError:
    return RpcError(
        ErrorTag.OPERATION_NOT_SUPPORTED,
        f"operation '{op}' is not supported by this server",
        type=ErrorType.PROTOCOL,
        info=[("bad-element", op)],
    )


def missing_element(element: str, message: str | None = None, *, type: ErrorType = ErrorType.PROTOCOL) -> RpcError:
    return RpcError(
        ErrorTag.MISSING_ELEMENT,
        message or f"required element '{element}' is missing",
        type=type,
        info=[("bad-element", element)],
    )


def bad_element(element: str, message: str, *, type: ErrorType = ErrorType.PROTOCOL) -> RpcError:
    return RpcError(ErrorTag.BAD_ELEMENT, message, type=type, info=[("bad-element", element)])


def unknown_element(element: str, message: str | None = None, *, type: ErrorType = ErrorType.APPLICATION,
                    path: str | None = None, path_nsmap: Mapping[str, str] | None = None) -> RpcError:
    return RpcError(
        ErrorTag.UNKNOWN_ELEMENT,
        message or f"unknown element '{element}'",
        type=type,
        path=path,
        path_nsmap=path_nsmap,
        info=[("bad-element", element)],
    )


def lock_denied(holder_session_id: int, target: str) -> RpcError:
    """RFC 6241 section 7.5: error-info carries the session-id of the lock holder (0 = not a session)."""
    return RpcError(
        ErrorTag.LOCK_DENIED,
        f"the {target} datastore is locked by session {holder_session_id}",
        type=ErrorType.PROTOCOL,
        info=[("session-id", str(holder_session_id))],
    )


def in_use(target: str, holder_session_id: int, reason: str) -> RpcError:
    return RpcError(
        ErrorTag.IN_USE,
        f"the {target} datastore is in use by session {holder_session_id}: {reason}",
        type=ErrorType.PROTOCOL,
        info=[("session-id", str(holder_session_id))],
    )


def reply_errors(exc: RpcError | RpcErrors) -> list[RpcError]:
    """The list of errors an exception stands for, in order."""
    return exc.errors if isinstance(exc, RpcErrors) else [exc]
