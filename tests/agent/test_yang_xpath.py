"""YANG XPath on lxml: RFC 7950 sections 6.4 (context, prefixes, accessible tree) and 10 (functions)."""

from __future__ import annotations

import functools
import math
import tempfile
from pathlib import Path

import pytest
from lxml import etree

from agent.schema import Schema, XPathExpr, load_schema
from agent.xmlns import NC
from agent.yang_xpath import (
    BinaryOp,
    FunctionCall,
    LocationPath,
    YangXPath,
    YangXPathError,
    parse,
    string_value,
)

XT = "urn:test:xpath"
XL = "urn:test:xpath-lib"

XPATH_LIB = """module xpath-lib {
  yang-version 1.1;
  namespace "urn:test:xpath-lib";
  prefix xl;
  identity transport;
  identity ethernet { base transport; }
  identity fast-ethernet { base ethernet; }
}
"""

XPATH_MOD = """module xpath-test {
  yang-version 1.1;
  namespace "urn:test:xpath";
  prefix xt;
  import xpath-lib { prefix lib; }

  container ports {
    list port {
      key name;
      leaf name { type string; }
      leaf kind { type identityref { base lib:transport; } }
      leaf speed { type enumeration { enum slow { value 10; } enum fast { value 100; } } }
      leaf flags { type bits { bit up; bit learning; } }
    }
  }
  container uses {
    leaf port-ref { type leafref { path "/xt:ports/xt:port/xt:name"; } }
    leaf where { type instance-identifier; }
  }
}
"""


@functools.lru_cache(maxsize=None)
def schema() -> Schema:
    tmp = Path(tempfile.mkdtemp(prefix="yang-xpath-"))
    (tmp / "xpath-lib.yang").write_text(XPATH_LIB)
    (tmp / "xpath-test.yang").write_text(XPATH_MOD)
    return load_schema(["xpath-test", "xpath-lib"], [tmp])


def tree() -> etree._Element:
    return etree.fromstring(f"""
    <data xmlns="{NC}"><ports xmlns="{XT}" xmlns:lib="{XL}">
      <port><name>p1</name><kind>lib:fast-ethernet</kind><speed>fast</speed><flags>up learning</flags></port>
      <port><name>p2</name><kind>lib:transport</kind><speed>slow</speed><flags></flags></port>
    </ports>
    <uses xmlns="{XT}" xmlns:t="{XT}"><port-ref>p2</port-ref><where>/t:ports/t:port[t:name='p1']</where></uses>
    </data>""")


def expr(text: str) -> XPathExpr:
    return XPathExpr(text, {"xt": XT, "lib": XL}, XT)


def find(root: etree._Element, path: str) -> etree._Element:
    return root.xpath(path, namespaces={"x": XT})[0]


# --- parsing and printing --------------------------------------------------------------------


def test_unprefixed_names_belong_to_the_default_namespace() -> None:
    compiled = YangXPath().compile(XPathExpr("ports/port", {}, XT))
    root = tree()
    assert [string_value(p.find(f"{{{XT}}}name")) for p in compiled(root, root=root)] == ["p1", "p2"]


def test_prefixed_names_use_the_expression_prefixes() -> None:
    compiled = YangXPath().compile(XPathExpr("q:ports/q:port[q:name='p2']", {"q": XT}, None))
    root = tree()
    assert len(compiled(root, root=root)) == 1


def test_absolute_paths_start_at_the_datastore_element_not_the_document() -> None:
    root = tree()
    wrapper = etree.Element("rpc-reply")
    wrapper.append(root)                # the data root is not the document root any more
    compiled = YangXPath().compile(expr("count(/xt:ports/xt:port)"))
    port = find(root, "//x:port")
    assert compiled(port, root=root) == 2.0


def test_current_is_the_context_node_even_inside_predicates() -> None:
    root = tree()
    ref = find(root, "//x:port-ref")
    compiled = YangXPath().compile(expr("/xt:ports/xt:port[xt:name = current()]/xt:speed"))
    assert [string_value(n) for n in compiled(ref, root=root)] == ["slow"]


def test_current_is_bound_per_evaluation() -> None:
    root = tree()
    compiled = YangXPath().compile(expr("/xt:ports/xt:port[xt:name = current()]/xt:speed = 'fast'"))
    names = root.xpath("//x:port/x:name", namespaces={"x": XT})
    assert [compiled(n, root=root) for n in names] == [True, False]


def test_compiled_expressions_are_cached_per_expression() -> None:
    engine = YangXPath()
    assert engine.compile(expr("count(xt:a)")) is engine.compile(expr("count(xt:a)"))
    assert engine.compile(expr("count(xt:a)")) is not engine.compile(expr("count(xt:b)"))


def test_parse_keeps_operator_precedence() -> None:
    tree_ = parse("a or b and c = 1")
    assert isinstance(tree_, BinaryOp) and tree_.op == "or"
    assert isinstance(tree_.right, BinaryOp) and tree_.right.op == "and"


def test_parse_reads_current_and_paths() -> None:
    tree_ = parse("current()/../x")
    assert not isinstance(tree_, LocationPath)
    assert isinstance(parse("current()"), FunctionCall)


@pytest.mark.parametrize("text", ["a[", "count(", "a ==", "/a/b]", "1 +"])
def test_invalid_xpath_is_rejected_with_the_expression_named(text: str) -> None:
    with pytest.raises(YangXPathError) as info:
        YangXPath().compile(expr(text))
    assert repr(text) in str(info.value)


def test_unknown_prefix_is_rejected() -> None:
    with pytest.raises(YangXPathError):
        YangXPath().compile(XPathExpr("nope:a", {}, XT))


def test_three_way_unions_keep_absolute_paths() -> None:
    root = tree()
    compiled = YangXPath().compile(expr("count(/xt:ports | /xt:uses | /xt:ports/xt:port)"))
    assert compiled(root, root=root) == 4.0


def test_literals_with_quotes_survive_printing() -> None:
    root = tree()
    compiled = YangXPath().compile(expr("concat(\"it's\", ' \"x\"')"))
    assert compiled(root, root=root) == "it's \"x\""


# --- YANG 1.1 functions (RFC 7950 section 10) ----------------------------------------------


def test_re_match_uses_xsd_regular_expressions_anchored() -> None:
    engine = YangXPath(schema())
    root = tree()
    assert engine.compile(expr("re-match('1.22.333', '\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}')"))(root, root=root) is True
    assert engine.compile(expr("re-match('a1.22.333', '\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}')"))(root, root=root) is False
    assert engine.compile(expr("re-match('abc', '\\i\\c*')"))(root, root=root) is True


def test_deref_follows_a_leafref_to_its_target() -> None:
    engine = YangXPath(schema())
    root = tree()
    ref = find(root, "//x:port-ref")
    compiled = engine.compile(expr("deref(.)/../xt:speed"))
    assert [string_value(n) for n in compiled(ref, root=root)] == ["slow"]


def test_deref_follows_an_instance_identifier() -> None:
    engine = YangXPath(schema())
    root = tree()
    where = find(root, "//x:where")
    compiled = engine.compile(expr("deref(.)/xt:speed"))
    assert [string_value(n) for n in compiled(where, root=root)] == ["fast"]


def test_deref_of_a_dangling_leafref_is_empty() -> None:
    engine = YangXPath(schema())
    root = tree()
    ref = find(root, "//x:port-ref")
    ref.text = "p9"
    assert engine.compile(expr("count(deref(.))"))(ref, root=root) == 0.0


def test_derived_from_follows_the_identity_hierarchy() -> None:
    engine = YangXPath(schema())
    root = tree()
    p1, p2 = root.xpath("//x:port", namespaces={"x": XT})
    derived = engine.compile(expr("derived-from(xt:kind, 'lib:ethernet')"))
    assert derived(p1, root=root) is True     # fast-ethernet derives from ethernet
    assert derived(p2, root=root) is False    # transport is ethernet's base, not derived from it
    strict = engine.compile(expr("derived-from(xt:kind, 'lib:fast-ethernet')"))
    assert strict(p1, root=root) is False     # an identity is not derived from itself


def test_derived_from_or_self_includes_the_identity_itself() -> None:
    engine = YangXPath(schema())
    root = tree()
    p1 = find(root, "//x:port")
    assert engine.compile(expr("derived-from-or-self(xt:kind, 'lib:fast-ethernet')"))(p1, root=root) is True


def test_enum_value_is_the_enum_integer() -> None:
    engine = YangXPath(schema())
    root = tree()
    p1, p2 = root.xpath("//x:port", namespaces={"x": XT})
    compiled = engine.compile(expr("enum-value(xt:speed)"))
    assert (compiled(p1, root=root), compiled(p2, root=root)) == (100.0, 10.0)
    assert math.isnan(engine.compile(expr("enum-value(xt:name)"))(p1, root=root))


def test_bit_is_set_reads_a_bits_value() -> None:
    engine = YangXPath(schema())
    root = tree()
    p1, p2 = root.xpath("//x:port", namespaces={"x": XT})
    compiled = engine.compile(expr("bit-is-set(xt:flags, 'learning')"))
    assert (compiled(p1, root=root), compiled(p2, root=root)) == (True, False)


def test_schema_node_of_a_datastore_element() -> None:
    engine = YangXPath(schema())
    root = tree()
    node = engine.schema_node_of(find(root, "//x:speed"))
    assert node is not None and node.name == "speed" and node.type is not None and node.type.enums
