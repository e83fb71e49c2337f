"""Validation cost with 1k and 10k VSIs: full versus incremental (agent.validate).

    python -m bench.bench_validate [--sizes 1000 10000] [--repeat 21] [--json]

Each VSI has one AC, one PW (role primary), IGMP snooping on with a static router port, and
all defaults instantiated, as the agent keeps its datastores.  Rows:

* ``full``                      - validate_full of the whole tree (start-up, copy-config)
* ``description`` / ``query-interval`` - a one-leaf modify that (almost) nothing depends on:
  query-interval is read by one must of the same VSI (max-response-time < query-interval)
* ``pw interface``              - a modify of a PW's interface: the global "one interface, one
  AC or PW" must is keyed on the value, so only holders of the old and new value are re-checked
* ``create ac`` / ``delete ac``   - an AC entry added to / removed from one VSI

``tracked`` rows use the value indexes the validator maintains for a tracked tree
(``Validator.track``: the datastore promises to report every change); ``untracked`` rows
build the indexes a keyed must needs for the call itself (one scan of the tree each).
Times are the median of ``--repeat`` runs in milliseconds (the machine is shared and noisy).
Targets (docs/ARCHITECTURE.md): with 10k VSIs, well under 1 ms for a leaf nothing depends on
and well under 10 ms for an interface change.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from lxml import etree

from agent.instance import load_instance
from agent.schema import Schema, SchemaNode, load_schema
from agent.validate import Change, Validator
from agent.xmlns import DEFAULT_MARK, NC, VL2MC, qn

NS = {"v": VL2MC}


def config(vsis: int) -> etree._Element:
    body = "".join(
        f"<vsi><name>vsi-{i}</name><description>customer {i}</description>"
        f"<acs><ac><interface>ac{i}</interface></ac></acs>"
        f"<pws><pw><peer-address>10.0.0.1</peer-address><vc-id>{i + 1}</vc-id>"
        f"<interface>pw{i}</interface><role>primary</role></pw></pws>"
        f"<igmp-snooping><enable>true</enable><static-router-port>ac{i}</static-router-port>"
        f"</igmp-snooping></vsi>"
        for i in range(vsis))
    return etree.fromstring(
        f'<config xmlns="{NC}"><l2-multicast xmlns="{VL2MC}"><igmp-snooping-enable>true'
        f'</igmp-snooping-enable></l2-multicast><vsis xmlns="{VL2MC}">{body}</vsis></config>')


def node(schema: Schema, *names: str) -> SchemaNode:
    found = schema.roots[qn(VL2MC, names[0])]
    for name in names[1:]:
        found = found.children[qn(VL2MC, name)]
    return found


def median_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


class Scenario:
    """One tree and the edits measured on it (each edit is undone between runs)."""

    def __init__(self, schema: Schema, validator: Validator, vsis: int) -> None:
        self.schema = schema
        self.validator = validator
        self.root = load_instance(schema, config(vsis))
        self.middle = vsis // 2

    def _leaf(self, path: str) -> etree._Element:
        return self.root.xpath(f"v:vsis/v:vsi[v:name='vsi-{self.middle}']/{path}", namespaces=NS)[0]

    def modify(self, path: str, schema_path: tuple[str, ...], values: tuple[str, str]) -> Callable[[], object]:
        leaf = self._leaf(path)
        leaf_node = node(self.schema, *schema_path)
        state = {"i": 0}

        def run() -> object:
            old, new = values[state["i"] % 2], values[(state["i"] + 1) % 2]
            state["i"] += 1
            leaf.text = new
            leaf.attrib.pop(DEFAULT_MARK, None)
            errors = self.validator.validate(self.root, [Change("modify", leaf_node, leaf.getparent(), leaf, old, new)])
            assert not errors, errors
            return errors

        return run

    def create_delete_ac(self) -> tuple[Callable[[], object], Callable[[], object]]:
        acs = self._leaf("v:acs")
        ac_node = node(self.schema, "vsis", "vsi", "acs", "ac")
        held: dict[str, etree._Element] = {}

        def create() -> object:
            ac = etree.SubElement(acs, qn(VL2MC, "ac"))
            etree.SubElement(ac, qn(VL2MC, "interface")).text = "spare0"
            held["ac"] = ac
            errors = self.validator.validate(self.root, [Change("create", ac_node, acs, ac)])
            assert not errors, errors
            return errors

        def delete() -> object:
            ac = held.pop("ac")
            acs.remove(ac)
            errors = self.validator.validate(self.root, [Change("delete", ac_node, acs, None, old_element=ac)])
            assert not errors, errors
            return errors

        return create, delete


def measure(schema: Schema, vsis: int, repeat: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for mode in ("untracked", "tracked"):
        validator = Validator(schema)
        scenario = Scenario(schema, validator, vsis)
        if mode == "tracked":
            validator.track(scenario.root)
        start = time.perf_counter()
        assert validator.validate_full(scenario.root) == []
        full_ms = (time.perf_counter() - start) * 1000
        if mode == "untracked":
            rows.append({"vsis": vsis, "operation": "full", "mode": "-", "ms": full_ms})
        cases: list[tuple[str, Callable[[], object]]] = [
            ("description", scenario.modify("v:description", ("vsis", "vsi", "description"), ("a", "b"))),
            ("query-interval", scenario.modify("v:igmp-snooping/v:query-interval",
                                               ("vsis", "vsi", "igmp-snooping", "query-interval"), ("60", "61"))),
            ("pw interface", scenario.modify("v:pws/v:pw/v:interface", ("vsis", "vsi", "pws", "pw", "interface"),
                                             (f"pw{scenario.middle}", "spare1"))),
        ]
        for name, run in cases:
            rows.append({"vsis": vsis, "operation": name, "mode": mode, "ms": median_ms(run, repeat)})
        create, delete = scenario.create_delete_ac()
        create_times, delete_times = [], []
        for _ in range(repeat):
            create_times.append(median_ms(create, 1))
            delete_times.append(median_ms(delete, 1))
        rows.append({"vsis": vsis, "operation": "create ac", "mode": mode, "ms": statistics.median(create_times)})
        rows.append({"vsis": vsis, "operation": "delete ac", "mode": mode, "ms": statistics.median(delete_times)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    schema = load_schema()
    rows = [row for size in args.sizes for row in measure(schema, size, args.repeat)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'VSIs':>6}  {'operation':<16} {'mode':<10} {'ms':>10}")
    for row in rows:
        print(f"{row['vsis']:>6}  {row['operation']:<16} {row['mode']:<10} {row['ms']:>10.3f}")


if __name__ == "__main__":
    main()
