"""RFC 7950 section 9 (and RFC 6991 types): every value check and canonical form.

A small module (`type-zoo`) holds one leaf per type rule; it is compiled once per test run.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pytest
from lxml import etree

from agent.errors import ErrorTag, ErrorType, RpcError
from agent.schema import Schema, SchemaNode, load_schema
from agent.yang_types import check_value, instance_path, invalid_value, is_valid

ZOO = "urn:test:type-zoo"
VL2MC = "urn:vsi-multicast-agent:yang:vsi-l2-multicast"

ZOO_MODULE = r'''
module type-zoo {
  yang-version 1.1;
  namespace "urn:test:type-zoo";
  prefix tz;

  import ietf-inet-types { prefix inet; }
  import ietf-yang-types { prefix yang; }

  revision 2026-01-01 { description "Test types."; }

  identity animal;
  identity mammal { base animal; }
  identity cat { base mammal; }
  identity bird { base animal; }
  identity pet;
  identity pet-cat { base cat; base pet; }

  typedef percent {
    type uint8 { range "0..100"; }
    units "percent";
    default "50";
  }
  typedef small-percent {
    type percent { range "min..10"; }
    default "5";
  }
  typedef name-type {
    type string {
      length "1..8";
      pattern "[a-z]+";
    }
  }
  typedef short-name {
    type name-type {
      length "min..4" {
        error-message "names are at most 4 letters";
        error-app-tag "name-too-long";
      }
      pattern "x.*" {
        modifier invert-match;
      }
    }
  }
  typedef colour {
    type enumeration {
      enum red { value 10; }
      enum green;
      enum blue { value 3; }
    }
  }

  container zoo {
    leaf int8 { type int8; }
    leaf uint64 { type uint64; }
    leaf int64 { type int64 { range "-10..-1 | 1..10"; } }
    leaf percent { type percent; }
    leaf small { type small-percent; }
    leaf price {
      type decimal64 {
        fraction-digits 2;
        range "0 .. 99.99";
      }
    }
    leaf name { type name-type; }
    leaf short { type short-name; }
    leaf code {
      type string {
        pattern '\p{Lu}\d{2}';
        pattern '[A-Z-[X]].*';
      }
    }
    leaf flag { type boolean; }
    leaf present { type empty; }
    leaf colour { type colour; }
    leaf warm {
      type colour { enum red; enum green; }
    }
    leaf options {
      type bits {
        bit verbose { position 4; }
        bit debug { position 1; }
        bit trace;
      }
    }
    leaf blob { type binary { length "1..4"; } }
    leaf kind { type identityref { base animal; } }
    leaf pet-kind { type identityref { base cat; base pet; } }
    leaf choice-of {
      type union {
        type uint8;
        type enumeration { enum unlimited; }
        type string { pattern "[0-9]+%"; }
      }
    }
    leaf target { type instance-identifier; }
    leaf v4 { type inet:ipv4-address; }
    leaf v6 { type inet:ipv6-address; }
    leaf v4-prefix { type inet:ipv4-prefix; }
    leaf mac { type yang:mac-address; }
    leaf when-stamp { type yang:date-and-time; }
    leaf host { type inet:host; }
    leaf port { type inet:port-number; }
    leaf ref { type leafref { path "../port"; } }
    leaf port-or-none {
      type union {
        type enumeration { enum none; }
        type leafref { path "../port"; }
      }
    }
    leaf-list tags {
      type name-type;
      default "alpha";
      default "beta";
    }
  }
}
'''

_TMP = tempfile.TemporaryDirectory(prefix="type-zoo-")


@functools.cache
def zoo_schema() -> Schema:
    path = Path(_TMP.name) / "type-zoo.yang"
    path.write_text(ZOO_MODULE)
    return load_schema(["type-zoo"], [Path(_TMP.name)])


def leaf(name: str) -> SchemaNode:
    return zoo_schema().roots[f"{{{ZOO}}}zoo"].children[f"{{{ZOO}}}{name}"]


def ok(name: str, text: str, nsmap: dict | None = None) -> str:
    node = leaf(name)
    assert node.type is not None
    return check_value(node.type, text, nsmap, name=node.name)


def rejected(name: str, text: str, nsmap: dict | None = None) -> RpcError:
    with pytest.raises(RpcError) as info:
        ok(name, text, nsmap)
    err = info.value
    assert err.tag is ErrorTag.INVALID_VALUE
    assert err.type is ErrorType.APPLICATION
    return err


# --- integers (RFC 7950 9.2) ----------------------------------------------------------

def test_integer_out_of_range_names_the_range_and_the_leaf() -> None:
    assert rejected("percent", "170").message == "'170' is out of range 0..100 for percent"


def test_integer_canonical_form_has_no_sign_or_leading_zeros() -> None:
    assert ok("percent", "+007") == "7"
    assert ok("int8", "-0") == "0"
    assert ok("int8", "-008") == "-8"


def test_integer_builtin_bounds_apply_without_a_range() -> None:
    assert ok("int8", "-128") == "-128"
    rejected("int8", "128")
    assert ok("uint64", "18446744073709551615") == "18446744073709551615"
    rejected("uint64", "-1")


def test_integer_lexical_form_is_decimal_only() -> None:
    assert "is not an integer" in rejected("percent", "0x10").message
    rejected("percent", "1.0")
    rejected("percent", "")


def test_integer_surrounding_xml_whitespace_is_ignored() -> None:
    assert ok("percent", "\n  42\n") == "42"


def test_integer_range_with_several_intervals() -> None:
    assert ok("int64", "-5") == "-5"
    assert ok("int64", "10") == "10"
    assert rejected("int64", "0").message == "'0' is out of range -10..-1 | 1..10 for int64"


def test_typedef_range_restriction_narrows_the_base_range() -> None:
    assert rejected("small", "11").message == "'11' is out of range 0..10 for small"
    assert leaf("small").type.ranges == [(0, 10)]


# --- decimal64 (RFC 7950 9.3) ------------------------------------------------------------

def test_decimal64_canonical_form() -> None:
    assert ok("price", "01.50") == "1.5"
    assert ok("price", "3") == "3.0"
    assert ok("price", "0.05") == "0.05"
    assert ok("price", "+0.00") == "0.0"


def test_decimal64_rejects_more_fraction_digits_than_declared() -> None:
    assert "more than 2 fraction digits" in rejected("price", "1.234").message


def test_decimal64_range_is_exact() -> None:
    assert ok("price", "99.99") == "99.99"
    assert "out of range 0..99.99" in rejected("price", "100").message
    rejected("price", "-0.01")


def test_decimal64_lexical_form() -> None:
    rejected("price", "1e2")
    rejected("price", ".5")
    rejected("price", "NaN")


# --- string: length and pattern (RFC 7950 9.4) ------------------------------------------

def test_string_length_counts_characters() -> None:
    assert ok("name", "abcdefgh") == "abcdefgh"
    assert rejected("name", "abcdefghi").message == (
        "'abcdefghi' has length 9, outside the allowed length 1..8 for name")


def test_string_pattern_is_implicitly_anchored() -> None:
    assert ok("name", "abc") == "abc"
    assert rejected("name", "abc1").message == "'abc1' does not match the pattern '[a-z]+' for name"
    rejected("name", "1abc")


def test_string_pattern_invert_match_rejects_matching_values() -> None:
    assert ok("short", "abc") == "abc"
    assert rejected("short", "xab").message == "'xab' matches the forbidden pattern 'x.*' for short"


def test_derived_string_must_match_base_patterns_too() -> None:
    rejected("short", "AB")


def test_length_error_message_and_app_tag_come_from_the_module() -> None:
    err = rejected("short", "abcde")
    assert err.message == "names are at most 4 letters"
    assert err.app_tag == "name-too-long"


def test_xsd_pattern_unicode_category_escape_and_digit_class() -> None:
    assert ok("code", "A12") == "A12"
    rejected("code", "a12")
    rejected("code", "A1")


def test_xsd_pattern_character_class_subtraction() -> None:
    """XSD 1.0 `[A-Z-[X]]` is A..Z without X.  libxml2 (pyang's engine) agrees; libyang does
    not implement subtraction (it rejects every value), so this rule has no libyang case."""
    from pyang.types import XSDPattern

    libxml2 = XSDPattern("[A-Z-[X]].*", None, False)
    assert ok("code", "A12") == "A12" and libxml2("A12")
    rejected("code", "X12")
    assert not libxml2("X12")


def test_string_value_keeps_its_whitespace() -> None:
    rejected("name", " abc")


# --- boolean, empty, enumeration, bits, binary ------------------------------------------

def test_boolean_accepts_only_true_and_false() -> None:
    assert ok("flag", "true") == "true"
    assert ok("flag", "false") == "false"
    for bad in ("True", "1", "yes", " true"):
        assert "is not a boolean" in rejected("flag", bad).message


def test_empty_takes_no_value() -> None:
    assert ok("present", "") == ""
    assert "takes no value" in rejected("present", "x").message


def test_enumeration_accepts_only_its_names() -> None:
    assert ok("colour", "green") == "green"
    rejected("colour", " green")
    assert rejected("colour", "purple").message == "'purple' is not one of red, green, blue for colour"


def test_enumeration_values_are_explicit_or_follow_the_highest_so_far() -> None:
    assert leaf("colour").type.enums == {"red": 10, "green": 11, "blue": 3}


def test_derived_enumeration_keeps_base_values_and_removes_the_rest() -> None:
    assert leaf("warm").type.enums == {"red": 10, "green": 11}
    rejected("warm", "blue")


def test_bits_canonical_order_is_by_position() -> None:
    assert ok("options", "verbose  debug") == "debug verbose"
    assert ok("options", "trace verbose debug") == "debug verbose trace"
    assert ok("options", "") == ""
    assert leaf("options").type.bits == {"verbose": 4, "debug": 1, "trace": 5}


def test_bits_reject_unknown_and_repeated_names() -> None:
    assert "unknown bit 'loud'" in rejected("options", "debug loud").message
    assert "names a bit twice" in rejected("options", "debug debug").message


def test_binary_is_base64_and_length_counts_octets() -> None:
    assert ok("blob", "AQID") == "AQID"
    assert "is not base64" in rejected("blob", "***").message
    rejected("blob", "AQ ID")                     # RFC 4648 3.3: nothing outside the alphabet
    assert "length of 5" in rejected("blob", "AQIDBAU=").message


# --- identityref (RFC 7950 9.10) ------------------------------------------------------

def test_identityref_accepts_derived_identities_through_the_prefix_map() -> None:
    assert ok("kind", "z:cat", {"z": ZOO}) == "tz:cat"
    assert ok("kind", "bird", {None: ZOO}) == "tz:bird"


def test_identityref_rejects_the_base_itself() -> None:
    assert "not an identity derived" in rejected("kind", "tz:animal", {"tz": ZOO}).message


def test_identityref_rejects_an_undeclared_prefix() -> None:
    assert "undeclared prefix 'q'" in rejected("kind", "q:cat", {"tz": ZOO}).message


def test_identityref_with_several_bases_needs_all_of_them() -> None:
    assert ok("pet-kind", "tz:pet-cat", {"tz": ZOO}) == "tz:pet-cat"
    rejected("pet-kind", "tz:cat", {"tz": ZOO})
    assert leaf("pet-kind").type.identities == frozenset({f"{{{ZOO}}}pet-cat"})


def test_identityref_without_nsmap_reads_the_modules_own_prefixes() -> None:
    assert ok("kind", "tz:mammal") == "tz:mammal"


# --- union, leafref, instance-identifier ----------------------------------------------

def test_union_takes_the_first_member_type_that_matches() -> None:
    assert ok("choice-of", "+7") == "7"
    assert ok("choice-of", "unlimited") == "unlimited"
    assert ok("choice-of", "300%") == "300%"


def test_union_rejects_a_value_no_member_accepts() -> None:
    assert "matches none of the member types" in rejected("choice-of", "300").message


def test_leafref_value_is_checked_with_the_target_leafs_type() -> None:
    assert ok("ref", "+80") == "80"
    assert "out of range 0..65535" in rejected("ref", "70000").message


def test_union_member_leafref_uses_the_target_type() -> None:
    assert ok("port-or-none", "none") == "none"
    assert ok("port-or-none", "0080") == "80"
    rejected("port-or-none", "70000")


def test_instance_identifier_syntax_and_prefixes() -> None:
    nsmap = {"tz": ZOO}
    assert ok("target", "/tz:zoo/tz:port", nsmap) == "/tz:zoo/tz:port"
    assert ok("target", "/tz:a/tz:b[tz:k='x'][tz:j=\"y\"]/tz:c[.='v']/tz:d[2]", nsmap)
    rejected("target", "/zoo/port", nsmap)
    assert "undeclared prefix 'q'" in rejected("target", "/q:zoo", nsmap).message
    rejected("target", "", nsmap)


# --- RFC 6991 types --------------------------------------------------------------------

def test_ipv4_address() -> None:
    assert ok("v4", "10.0.0.1") == "10.0.0.1"
    assert ok("v4", "10.0.0.1%eth0") == "10.0.0.1%eth0"
    rejected("v4", "256.0.0.1")
    rejected("v4", "10.0.0")


def test_ipv6_address_canonical_form_is_rfc5952() -> None:
    assert ok("v6", "2001:DB8:0:0:0:0:0:1") == "2001:db8::1"
    rejected("v6", "2001:db8::1::2")


def test_ipv6_pattern_counted_repetitions_are_exact() -> None:
    rejected("v6", ":00000")          # five hex digits in a group (libxml2 gets this one wrong)


def test_ipv4_prefix_canonical_form_zeroes_host_bits() -> None:
    assert ok("v4-prefix", "10.1.2.3/8") == "10.0.0.0/8"
    rejected("v4-prefix", "10.0.0.0/33")


def test_mac_address_canonical_form_is_lowercase() -> None:
    assert ok("mac", "AA:BB:CC:DD:EE:0F") == "aa:bb:cc:dd:ee:0f"
    rejected("mac", "aa-bb-cc-dd-ee-ff")
    rejected("mac", "aa:bb:cc:dd:ee")


def test_date_and_time() -> None:
    assert ok("when-stamp", "2026-11-25T21:00:00Z") == "2026-11-25T21:00:00Z"
    assert ok("when-stamp", "2026-11-25T21:00:00.5+01:00")
    rejected("when-stamp", "2026-11-25 21:00:00")


def test_host_is_an_address_or_a_domain_name() -> None:
    assert ok("host", "192.0.2.1") == "192.0.2.1"
    assert ok("host", "example.com") == "example.com"


def test_port_number_range() -> None:
    assert rejected("port", "65536").message == "'65536' is out of range 0..65535 for port"


def test_is_valid_answers_without_building_an_error() -> None:
    assert is_valid(leaf("percent").type, "10")
    assert not is_valid(leaf("percent").type, "101")


# --- error paths -------------------------------------------------------------------------

@functools.cache
def vsi_schema() -> Schema:
    return load_schema()


def _datastore_with_query_interval() -> etree._Element:
    root = etree.fromstring(
        f'<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><vsis xmlns="{VL2MC}"><vsi>'
        "<name>a</name><igmp-snooping><query-interval>60</query-interval>"
        "<static-router-port>ac1</static-router-port></igmp-snooping>"
        "<pws><pw><peer-address>10.0.0.1</peer-address><vc-id>100</vc-id></pw></pws>"
        "</vsi></vsis></data>")
    return root


def test_instance_path_has_prefixes_and_key_predicates() -> None:
    root = _datastore_with_query_interval()
    qi = root.find(f".//{{{VL2MC}}}query-interval")
    path, nsmap = instance_path(qi, vsi_schema())
    assert path == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:igmp-snooping/vl2mc:query-interval"
    assert nsmap == {"vl2mc": VL2MC}


def test_instance_path_of_a_list_with_two_keys_follows_key_order() -> None:
    root = _datastore_with_query_interval()
    pw = root.find(f".//{{{VL2MC}}}pw")
    path, _ = instance_path(pw, vsi_schema())
    assert path.endswith("/vl2mc:pw[vl2mc:peer-address='10.0.0.1'][vl2mc:vc-id='100']")


def test_instance_path_of_a_leaf_list_entry_uses_its_value() -> None:
    root = _datastore_with_query_interval()
    port = root.find(f".//{{{VL2MC}}}static-router-port")
    path, _ = instance_path(port, vsi_schema())
    assert path.endswith("/vl2mc:igmp-snooping/vl2mc:static-router-port[.='ac1']")


def test_invalid_value_sets_the_error_path_of_the_element() -> None:
    schema = vsi_schema()
    root = _datastore_with_query_interval()
    qi = root.find(f".//{{{VL2MC}}}query-interval")
    node = schema.roots[f"{{{VL2MC}}}vsis"].children[f"{{{VL2MC}}}vsi"].children[
        f"{{{VL2MC}}}igmp-snooping"].children[f"{{{VL2MC}}}query-interval"]
    err = invalid_value(node, "70000", "is out of range 1..65535", qi, schema)
    assert err.message == "'70000' is out of range 1..65535 for query-interval"
    assert err.path == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:igmp-snooping/vl2mc:query-interval"
    assert err.path_nsmap == {"vl2mc": VL2MC}
    xml = etree.tostring(err.to_element()).decode()
    assert 'xmlns:vl2mc="urn:vsi-multicast-agent:yang:vsi-l2-multicast"' in xml


# --- differential: libyang (yanglint) must agree with every verdict above ----------------

#: (leaf, value) pairs on both sides of each rule; libyang's verdict is the reference.
DIFFERENTIAL_CASES = [
    ("int8", "-128"), ("int8", "128"), ("int8", " 5 "), ("int8", "0x10"), ("uint64", "18446744073709551615"),
    ("uint64", "-1"), ("int64", "0"), ("int64", "-5"), ("percent", "+007"), ("percent", "101"),
    ("small", "11"), ("small", "10"), ("price", "99.99"), ("price", "100"), ("price", "1.234"),
    ("price", "01.50"), ("price", "1e2"), ("name", "abc"), ("name", "abc1"), ("name", "abcdefghi"),
    ("short", "xab"), ("short", "abcde"), ("short", "abcd"), ("code", "a12"), ("code", "A1"),
    ("flag", "true"), ("flag", "True"), ("flag", " true"), ("present", ""),
    ("present", "x"), ("colour", "blue"), ("colour", "purple"), ("warm", "blue"), ("warm", "red"),
    ("options", "verbose debug"), ("options", "debug debug"), ("options", "loud"), ("blob", "AQID"),
    ("blob", "AQ ID"), ("blob", "AQIDBAU="), ("kind", "tz:cat"), ("kind", "tz:animal"),
    ("pet-kind", "tz:pet-cat"), ("pet-kind", "tz:cat"), ("choice-of", "7"), ("choice-of", "300"),
    ("choice-of", "300%"), ("choice-of", "unlimited"), ("v4", "10.0.0.1%eth0"), ("v4", "256.0.0.1"),
    ("v6", "2001:DB8::1"), ("v6", ":00000"), ("v6", "2001:db8::1::2"), ("v4-prefix", "10.1.2.3/8"),
    ("v4-prefix", "10.0.0.0/33"), ("mac", "AA:BB:CC:DD:EE:0F"), ("mac", "aa-bb-cc-dd-ee-ff"),
    ("when-stamp", "2026-11-25T21:00:00Z"), ("when-stamp", "2026-11-25 21:00:00"),
    ("host", "example.com"), ("port", "65536"),
]


def _yanglint_accepts(leaf_name: str, value: str) -> bool:
    import shutil
    import subprocess
    from xml.sax.saxutils import escape

    from agent.paths import pyang_module_dirs

    yanglint = shutil.which("yanglint")
    if yanglint is None:
        pytest.skip("yanglint (libyang2-tools) is not installed: no libyang oracle")
    zoo_schema()                                  # writes the module file
    data = Path(_TMP.name) / f"case-{leaf_name}.xml"
    data.write_text(f'<zoo xmlns="{ZOO}" xmlns:tz="{ZOO}"><{leaf_name}>{escape(value)}</{leaf_name}></zoo>')
    search = [arg for d in pyang_module_dirs() for arg in ("-p", str(d))]
    proc = subprocess.run([yanglint, "-D", *search, "-t", "config", str(Path(_TMP.name) / "type-zoo.yang"),
                           str(data)], capture_output=True, text=True, timeout=60)
    return proc.returncode == 0


@pytest.mark.slow
def test_every_value_verdict_agrees_with_libyang() -> None:
    """SPEC section 7: libyang is an independent YANG implementation; our value checks must
    accept and reject what it does.  (libxml2's XSD engine, which pyang uses, is not a
    usable oracle: it wrongly matches ':00000' against inet:ipv6-address's pattern.)"""
    disagreements = []
    for name, value in DIFFERENTIAL_CASES:
        ours = is_valid(leaf(name).type, value, {"tz": ZOO})
        if ours != _yanglint_accepts(name, value):
            disagreements.append((name, value, "ours" if ours else "libyang"))
    assert disagreements == []
