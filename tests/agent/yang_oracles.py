"""Two independent YANG implementations as test oracles: libyang (``yanglint``) and yangson.

SPEC section 7: our validator must accept and reject what they do.  Both answer the same
question for an instance document — "is this a valid datastore of `vsi-l2-multicast`?" —
and return ``(ok, message)``: ``message`` is the oracle's own diagnostic (libyang's error
text, which carries our ``error-message``; yangson's ``{route} tag: message``, whose tag is
our ``error-app-tag``), so a test can also check *which* rule fired.

Instance documents are XML as the NETCONF server holds them: a ``<config>`` or ``<data>``
element in the NETCONF base namespace whose children are the top-level data nodes, or a
single top-level data node.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from lxml import etree

from agent.paths import YANG_DIR, pyang_module_dirs
from agent.xmlns import NC, VL2MC_MODULE

MODULE_FILE: Path = YANG_DIR / f"{VL2MC_MODULE}.yang"
YANGLINT: str | None = shutil.which("yanglint")

Datastore = Literal["config", "data"]

#: the wrapper elements an instance document may come in (edit-config / get replies)
_WRAPPERS = {f"{{{NC}}}config", f"{{{NC}}}data"}


def top_level_nodes(xml_text: str) -> list[etree._Element]:
    """The top-level data nodes of an instance document, wrapper removed."""
    root = etree.fromstring(xml_text.encode())
    return list(root) if root.tag in _WRAPPERS else [root]


def bare_data(xml_text: str) -> bytes:
    """The top-level data nodes serialised one after the other: libyang's data-file form."""
    return b"".join(etree.tostring(node) for node in top_level_nodes(xml_text))


# --------------------------------------------------------------------------- yanglint


def yanglint_validate(xml_text: str, *, datastore: Datastore = "config") -> tuple[bool, str]:
    """Validate with libyang's ``yanglint`` as a complete ``config`` (or ``data``) datastore.

    yanglint parses a data file as a sequence of top-level data nodes, so the NETCONF wrapper
    is stripped (libyang would look for a module owning the base namespace and fail).  ``-D``
    keeps the current directory out of the module search path; libyang has the IETF type
    modules built in, pyang's module directory is searched for anything else.
    """
    if YANGLINT is None:
        raise FileNotFoundError("yanglint (libyang2-tools) is not installed")
    body = bare_data(xml_text)
    # An empty datastore is valid YANG but an empty XML file is not valid input to
    # libyang; the empty JSON object is the same datastore.
    suffix, content = (".xml", body) if body else (".json", b"{}")
    with tempfile.NamedTemporaryFile(suffix=suffix) as data_file:
        data_file.write(content)
        data_file.flush()
        search = [arg for d in [YANG_DIR, *pyang_module_dirs()] for arg in ("-p", str(d))]
        proc = subprocess.run(
            [YANGLINT, "-D", *search, "-t", datastore, str(MODULE_FILE), data_file.name],
            capture_output=True,
            text=True,
            timeout=60,
        )
    return proc.returncode == 0, (proc.stderr + proc.stdout).strip()


# --------------------------------------------------------------------------- yangson


def _module_files() -> Iterator[tuple[str, str | None, str, bool]]:
    """(name, revision, namespace, implemented) of our module and everything it imports.

    pyang resolves the imports exactly as the agent's schema compiler does, so yangson sees
    the same revisions of ietf-yang-types and ietf-inet-types.
    """
    from pyang import context, repository

    path = ":".join(str(d) for d in [YANG_DIR, *pyang_module_dirs()])
    ctx = context.Context(repository.FileRepository(path, use_env=False))
    module = ctx.add_module(str(MODULE_FILE), MODULE_FILE.read_text())
    if module is None:
        raise RuntimeError(f"pyang could not read {MODULE_FILE}")
    ctx.validate()
    for (name, revision), stmt in ctx.modules.items():
        namespace = stmt.search_one("namespace")
        if namespace is not None:
            yield name, revision, namespace.arg, name == VL2MC_MODULE


def yang_library_json() -> str:
    """RFC 7895 ``modules-state`` for yangson: our module implemented, its imports imported."""
    modules = [
        {
            "name": name,
            "revision": revision or "",
            "namespace": namespace,
            "conformance-type": "implement" if implemented else "import",
        }
        for name, revision, namespace, implemented in _module_files()
    ]
    library = {"ietf-yang-library:modules-state": {"module-set-id": "vsi-l2-multicast-tests", "module": modules}}
    return json.dumps(library, indent=1)


@lru_cache(maxsize=1)
def yangson_model() -> Any:
    """The yangson ``DataModel`` of our module (built once: it takes a while)."""
    from yangson import DataModel

    search = [str(d) for d in [YANG_DIR, *pyang_module_dirs()]]
    return DataModel(yang_library_json(), search)


def yangson_validate(
    xml_or_json: str | dict[str, Any], *, datastore: Datastore = "config"
) -> tuple[bool, str]:
    """Validate with yangson: XML (a string starting with ``<``) or RFC 7951 JSON.

    Defaults are added before validation, as RFC 7950 section 7.6.1 requires must/when to see
    them; only defaults of the validated content type are added (a ``config`` datastore has no
    state, and yangson would reject the state containers it would otherwise create).
    """
    from yangson.enumerations import ContentType
    from yangson.exceptions import YangsonException

    model = yangson_model()
    ctype = ContentType.config if datastore == "config" else ContentType.all
    try:
        if isinstance(xml_or_json, str) and xml_or_json.lstrip().startswith("<"):
            wrapper = ET.Element("data")
            for node in top_level_nodes(xml_or_json):
                wrapper.append(ET.fromstring(etree.tostring(node)))
            instance = model.from_xml(wrapper)
        else:
            raw = json.loads(xml_or_json) if isinstance(xml_or_json, str) else xml_or_json
            instance = model.from_raw(raw)
        instance.add_defaults(ctype=ctype).validate(ctype=ctype)
    except YangsonException as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return True, ""


def both_oracles(xml_text: str, *, datastore: Datastore = "config") -> dict[str, tuple[bool, str]]:
    """Both verdicts, keyed by oracle name, for assertions that print both diagnostics."""
    return {
        "yanglint": yanglint_validate(xml_text, datastore=datastore),
        "yangson": yangson_validate(xml_text, datastore=datastore),
    }


# --------------------------------------------------------------------------- documents

#: A nested instance tree: a dict maps a local name (in our module's namespace) to a leaf
#: value (str), a leaf-list (list of str), a container (dict) or a list (list of dict, keys
#: first).  Plain Python data, so tests and hypothesis strategies can build and mutate it.
Tree = dict[str, Any]


def _append(parent: etree._Element, name: str, value: Any) -> None:
    from agent.xmlns import VL2MC

    if isinstance(value, list):
        for item in value:
            _append(parent, name, item)
        return
    child = etree.SubElement(parent, f"{{{VL2MC}}}{name}")
    if isinstance(value, dict):
        for sub_name, sub_value in value.items():
            _append(child, sub_name, sub_value)
    else:
        child.text = str(value)


def to_xml(tree: Tree) -> str:
    """The ``<config>`` document (NETCONF base namespace) holding ``tree``'s top-level nodes."""
    from agent.xmlns import VL2MC

    root = etree.Element(f"{{{NC}}}config", nsmap={None: NC, "vl2mc": VL2MC})
    for name, value in tree.items():
        _append(root, name, value)
    return etree.tostring(root, pretty_print=True).decode()


def upe_config() -> Tree:
    """A valid configuration of the lab's UPE (SPEC section 6) with the feature on.

    Every rule test starts from it and changes one thing, so a rejection can only come from
    that change.
    """
    return {
        "l2-multicast": {"igmp-snooping-enable": "true", "device-mac": "02:00:00:00:00:03"},
        "vsis": {
            "vsi": [
                {
                    "name": "iptv",
                    "unknown-multicast-action": "drop",
                    "acs": {"ac": [{"interface": "ac1"}, {"interface": "ac2"}]},
                    "pws": {
                        "pw": [
                            {"peer-address": "10.0.0.1", "vc-id": "100", "interface": "pw-spe1", "role": "primary"},
                            {"peer-address": "10.0.0.2", "vc-id": "100", "interface": "pw-spe2", "role": "backup"},
                        ]
                    },
                    "igmp-snooping": {
                        "enable": "true",
                        "backup-query-forward": "true",
                        "backup-query-source-mac-replace": "true",
                        "backup-report-forward": "true",
                        "backup-report-source-mac-replace": "true",
                        "pw-fast-control": "true",
                        "pw-fast-control-holdtime": "20",
                        "static-router-port": ["pw-spe1"],
                        "static-group": [
                            {"group-address": "239.1.1.1", "source-address": "0.0.0.0", "interface": "ac1"}
                        ],
                    },
                }
            ]
        },
    }
