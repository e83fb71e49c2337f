"""Cost of a one-leaf edit-config + commit with 1k and 10k VSIs present (in-process).

Rows: ``query-interval`` (a leaf only its own VSI's constraints read), ``interface`` (a new
AC: its interface is read by the global "interface used once" must, answered by the
validator's value index of the tracked candidate), and ``remove all`` (one `remove` of the
whole VSI list + commit; ``release`` is the time to free everything afterwards, which was
the shutdown stall).

SPEC section 7: netconfd needs 11.2 s for this with 10k VSIs.  Our commit is incremental,
so everything except writing running.xml (O(tree) bytes, fsync'ed) should stay in the low
milliseconds whatever the number of VSIs.  Run: ``.venv/bin/python -m bench.bench_commit``.

Phases reported (median of the repetitions, milliseconds):

* ``edit``      - edit-config on the candidate (find the entry, type-check, record the change)
* ``validate``  - incremental validation of the pending changes
* ``dataplane`` - the commit hook that pushes the change into the device (as in the agent:
  a standalone simulated device holding every VSI; only the touched VSI is translated)
* ``apply``     - the rest of the commit: swap candidate/running, replay into the other tree
* ``persist``   - serialise running and write it atomically (write, fsync, rename, fsync dir)
* ``commit``    - the whole Datastores.commit() (validate + apply + persist)
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from pathlib import Path

from lxml import etree

from agent.dataplane_commit import DataplaneCommit
from agent.dataplane_driver import SimDataplane, standalone_mac
from agent.datastore import Datastores
from agent.schema import load_schema
from agent.validate import Validator
from agent.xmlns import NC, VL2MC

CONFIG = f"{{{NC}}}config"


def populated(n_vsis: int, schema, state_dir: Path) -> Datastores:
    """Datastores whose running holds ``n_vsis`` VSIs (one AC each, snooping on)."""
    stores = Datastores(schema, Validator(schema), state_dir)
    stores.load()
    push = DataplaneCommit(SimDataplane.standalone("bench", standalone_mac("bench")), schema)
    push.load(stores.running.root)
    stores.commit_hooks.append(push)
    config = etree.Element(CONFIG, nsmap={None: NC})
    l2 = etree.SubElement(config, f"{{{VL2MC}}}l2-multicast", nsmap={None: VL2MC})
    etree.SubElement(l2, f"{{{VL2MC}}}igmp-snooping-enable").text = "true"
    vsis = etree.SubElement(config, f"{{{VL2MC}}}vsis", nsmap={None: VL2MC})
    for i in range(n_vsis):
        vsi = etree.SubElement(vsis, f"{{{VL2MC}}}vsi")
        etree.SubElement(vsi, f"{{{VL2MC}}}name").text = f"vsi{i}"
        ac = etree.SubElement(etree.SubElement(vsi, f"{{{VL2MC}}}acs"), f"{{{VL2MC}}}ac")
        etree.SubElement(ac, f"{{{VL2MC}}}interface").text = f"ac{i}"
        snooping = etree.SubElement(vsi, f"{{{VL2MC}}}igmp-snooping")
        etree.SubElement(snooping, f"{{{VL2MC}}}enable").text = "true"
    stores.replace("running", stores.tree_from_config(config), session_id=0)
    return stores


def interface_edit(vsi: str, value: int) -> etree._Element:
    """A new AC on ``vsi``: its interface leaf is read by the global "interface used once" must
    (re-checked through the validator's value index; ``value`` must be unique per call)."""
    config = etree.Element(CONFIG, nsmap={None: NC})
    vsis = etree.SubElement(config, f"{{{VL2MC}}}vsis", nsmap={None: VL2MC})
    entry = etree.SubElement(vsis, f"{{{VL2MC}}}vsi")
    etree.SubElement(entry, f"{{{VL2MC}}}name").text = vsi
    ac = etree.SubElement(etree.SubElement(entry, f"{{{VL2MC}}}acs"), f"{{{VL2MC}}}ac")
    etree.SubElement(ac, f"{{{VL2MC}}}interface").text = f"extra{value}"
    return config


def remove_all_vsis() -> etree._Element:
    """One `remove` of the whole VSI list (the shutdown / GC-stall scenario)."""
    config = etree.Element(CONFIG, nsmap={None: NC})
    vsis = etree.SubElement(config, f"{{{VL2MC}}}vsis", nsmap={None: VL2MC})
    vsis.set(f"{{{NC}}}operation", "remove")
    return config


def one_leaf_edit(vsi: str, value: int) -> etree._Element:
    config = etree.Element(CONFIG, nsmap={None: NC})
    vsis = etree.SubElement(config, f"{{{VL2MC}}}vsis", nsmap={None: VL2MC})
    entry = etree.SubElement(vsis, f"{{{VL2MC}}}vsi")
    etree.SubElement(entry, f"{{{VL2MC}}}name").text = vsi
    snooping = etree.SubElement(entry, f"{{{VL2MC}}}igmp-snooping")
    etree.SubElement(snooping, f"{{{VL2MC}}}query-interval").text = str(value)
    return config


class PhaseTimer:
    """Wraps the validator and the persistence of a Datastores to time each phase."""

    def __init__(self, stores: Datastores) -> None:
        self.times: dict[str, list[float]] = {"edit": [], "validate": [], "dataplane": [], "persist": [],
                                              "commit": [], "apply": []}
        validate, persist = stores.validator.validate, stores.persist_running
        hooks = list(stores.commit_hooks)

        def timed_hooks(root, changes) -> None:
            start = time.perf_counter()
            try:
                for hook in hooks:
                    hook(root, changes)
            finally:
                self.times["dataplane"].append(time.perf_counter() - start)

        stores.commit_hooks[:] = [timed_hooks]

        def timed_validate(root, changes):
            start = time.perf_counter()
            try:
                return validate(root, changes)
            finally:
                self.times["validate"].append(time.perf_counter() - start)

        def timed_persist() -> None:
            start = time.perf_counter()
            try:
                persist()
            finally:
                self.times["persist"].append(time.perf_counter() - start)

        stores.validator.validate = timed_validate          # type: ignore[method-assign]
        stores.persist_running = timed_persist              # type: ignore[method-assign]


EDITS = {
    "query-interval": lambda vsi, i: one_leaf_edit(vsi, 30 + i % 50),
    "interface": interface_edit,
}


def run(n_vsis: int, repeat: int, schema, edit: str = "query-interval") -> dict[str, float]:
    with tempfile.TemporaryDirectory() as state_dir:
        stores = populated(n_vsis, schema, Path(state_dir))
        timer = PhaseTimer(stores)
        for i in range(repeat):
            config = EDITS[edit](f"vsi{(i * 7919) % n_vsis}", i)
            start = time.perf_counter()
            stores.edit("candidate", config, session_id=1)
            timer.times["edit"].append(time.perf_counter() - start)
            start = time.perf_counter()
            stores.commit()
            timer.times["commit"].append(time.perf_counter() - start)
        for v, d, p, c in zip(timer.times["validate"], timer.times["dataplane"], timer.times["persist"],
                              timer.times["commit"]):
            timer.times["apply"].append(c - v - d - p)
        size = stores.running_file.stat().st_size
    result = {phase: statistics.median(values) * 1000 for phase, values in timer.times.items() if values}
    result["file_kib"] = size / 1024
    return result


def run_remove_all(n_vsis: int, schema) -> dict[str, float]:
    """Remove every VSI with one edit + commit, then drop the datastores (``release``: the
    time lxml needs to free what the commit left behind - the shutdown stall)."""
    with tempfile.TemporaryDirectory() as state_dir:
        stores = populated(n_vsis, schema, Path(state_dir))
        timer = PhaseTimer(stores)
        start = time.perf_counter()
        stores.edit("candidate", remove_all_vsis(), session_id=1)
        timer.times["edit"].append(time.perf_counter() - start)
        start = time.perf_counter()
        stores.commit()
        timer.times["commit"].append(time.perf_counter() - start)
        result = {phase: values[0] * 1000 for phase, values in timer.times.items() if values}
        start = time.perf_counter()
        del stores, timer
        gc.collect()
        result["release"] = (time.perf_counter() - start) * 1000
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    schema = load_schema()
    print(f"{'edit':>15} {'VSIs':>7} {'edit':>8} {'validate':>9} {'dataplane':>9} {'apply':>8} {'persist':>8} "
          f"{'commit':>8}  (ms, median)  running.xml")
    for edit in EDITS:
        for n in args.sizes:
            r = run(n, args.repeat, schema, edit)
            print(f"{edit:>15} {n:>7} {r['edit']:8.3f} {r['validate']:9.3f} {r['dataplane']:9.3f} {r['apply']:8.3f} "
                  f"{r['persist']:8.3f} {r['commit']:8.3f}  {r['file_kib']:10.0f} KiB")
    for n in args.sizes:
        r = run_remove_all(n, schema)
        print(f"{'remove all':>15} {n:>7} {r['edit']:8.3f} {r['validate']:9.3f} {r['dataplane']:9.3f} {'':>8} "
              f"{r['persist']:8.3f} "
              f"{r['commit']:8.3f}  then dropping the references: {r['release']:.1f} ms")


if __name__ == "__main__":
    main()
