"""RFC 8525 yang-library 1.1 over SSH, and content-id semantics in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

from lxml import etree

from agent.schema import load_schema
from agent.xmlns import DATASTORES, VL2MC, YANG_LIBRARY
from agent.yang_library import content_id
from tests.agent.test_get import data_of

Y = YANG_LIBRARY


def library(nc) -> etree._Element:
    data = data_of(nc.get(filter=("subtree", f'<yang-library xmlns="{Y}"/>')))
    lib = data.find(f"{{{Y}}}yang-library")
    assert lib is not None
    return lib


def test_module_set_lists_our_module_with_revision_and_namespace(nc, agent_server):
    lib = library(nc)
    modules = {m.findtext(f"{{{Y}}}name"): m for m in lib.iterfind(f"{{{Y}}}module-set/{{{Y}}}module")}
    ours = modules["vsi-l2-multicast"]
    assert ours.findtext(f"{{{Y}}}revision") == agent_server.server.schema.modules["vsi-l2-multicast"].revision
    assert ours.findtext(f"{{{Y}}}namespace") == VL2MC


def test_implemented_ietf_modules_are_modules_and_imports_are_import_only(nc):
    lib = library(nc)
    implemented = {m.findtext(f"{{{Y}}}name") for m in lib.iterfind(f"{{{Y}}}module-set/{{{Y}}}module")}
    imported = {m.findtext(f"{{{Y}}}name") for m in lib.iterfind(f"{{{Y}}}module-set/{{{Y}}}import-only-module")}
    assert {"ietf-netconf", "ietf-netconf-monitoring", "ietf-yang-library", "ietf-netconf-nmda"} <= implemented
    assert "ietf-yang-types" in imported and not implemented & imported


def test_features_of_ietf_netconf_are_listed(nc):
    lib = library(nc)
    netconf = [m for m in lib.iterfind(f"{{{Y}}}module-set/{{{Y}}}module") if m.findtext(f"{{{Y}}}name") == "ietf-netconf"]
    features = {f.text for f in netconf[0].iterfind(f"{{{Y}}}feature")}
    assert {"candidate", "xpath", "startup"} <= features and "url" not in features


def test_every_nmda_datastore_points_at_the_schema(nc):
    lib = library(nc)
    schemas = {s.findtext(f"{{{Y}}}name") for s in lib.iterfind(f"{{{Y}}}schema")}
    names = []
    for ds in lib.iterfind(f"{{{Y}}}datastore"):
        name = ds.find(f"{{{Y}}}name")
        prefix, _, local = name.text.partition(":")
        assert name.nsmap[prefix] == DATASTORES
        names.append(local)
        assert ds.findtext(f"{{{Y}}}schema") in schemas
    assert names == ["running", "candidate", "startup", "intended", "operational"]


def test_content_id_matches_the_hello_capability(nc):
    announced = [c for c in nc.server_capabilities if c.startswith("urn:ietf:params:netconf:capability:yang-library:1.1")]
    assert len(announced) == 1
    assert f"content-id={library(nc).findtext(f'{{{Y}}}content-id')}" in announced[0]


def test_legacy_modules_state_lists_conformance(nc):
    data = data_of(nc.get(filter=("subtree", f'<modules-state xmlns="{Y}"/>')))
    modules = {m.findtext(f"{{{Y}}}name"): m.findtext(f"{{{Y}}}conformance-type")
               for m in data.iterfind(f"{{{Y}}}modules-state/{{{Y}}}module")}
    assert modules["vsi-l2-multicast"] == "implement"
    assert modules["ietf-yang-types"] == "import"


def test_content_id_changes_when_a_module_text_changes(tmp_path: Path):
    from agent.paths import yang_dir

    copy_dir = tmp_path / "yang"
    copy_dir.mkdir()
    shutil.copy(yang_dir() / "vsi-l2-multicast.yang", copy_dir)
    before = content_id(load_schema(search_path=[copy_dir]))
    assert content_id(load_schema(search_path=[copy_dir])) == before
    path = copy_dir / "vsi-l2-multicast.yang"
    path.write_text(path.read_text().replace("{", "{\n  // edited: same revision, different text\n", 1))
    assert content_id(load_schema(search_path=[copy_dir])) != before
