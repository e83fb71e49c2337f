"""Cost of a one-leaf edit-config + commit with 1k and 10k VSIs present (in-process).

SPEC section 7: netconfd needs 11.2 s for this with 10k VSIs.  Our commit is incremental,
so everything except writing running.xml (O(tree) bytes, fsync'ed) should stay in the low
milliseconds whatever the number of VSIs.  Run: ``.venv/bin/python -m bench.bench_commit``.

Phases reported (median of the repetitions, milliseconds):

* ``edit``      - edit-config on the candidate (find the entry, type-check, record the change)
* ``validate``  - incremental validation of the pending changes
* ``apply``     - commit hooks, swap candidate/running, replay into the other tree
* ``persist``   - serialise running and write it atomically (write, fsync, rename, fsync dir)
* ``commit``    - the whole Datastores.commit() (validate + apply + persist)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from lxml import etree

from agent.datastore import Datastores
from agent.schema import load_schema
from agent.validate import Validator
from agent.xmlns import NC, VL2MC

CONFIG = f"{{{NC}}}config"


def populated(n_vsis: int, schema, state_dir: Path) -> Datastores:
    """Datastores whose running holds ``n_vsis`` VSIs (one AC each, snooping on)."""
    stores = Datastores(schema, Validator(schema), state_dir)
    stores.load()
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
        self.times: dict[str, list[float]] = {"edit": [], "validate": [], "persist": [], "commit": [], "apply": []}
        validate, persist = stores.validator.validate, stores.persist_running

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


def run(n_vsis: int, repeat: int, schema) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as state_dir:
        stores = populated(n_vsis, schema, Path(state_dir))
        timer = PhaseTimer(stores)
        for i in range(repeat):
            config = one_leaf_edit(f"vsi{(i * 7919) % n_vsis}", 30 + i % 50)
            start = time.perf_counter()
            stores.edit("candidate", config, session_id=1)
            timer.times["edit"].append(time.perf_counter() - start)
            start = time.perf_counter()
            stores.commit()
            timer.times["commit"].append(time.perf_counter() - start)
        for v, p, c in zip(timer.times["validate"], timer.times["persist"], timer.times["commit"]):
            timer.times["apply"].append(c - v - p)
        size = stores.running_file.stat().st_size
    result = {phase: statistics.median(values) * 1000 for phase, values in timer.times.items() if values}
    result["file_kib"] = size / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    schema = load_schema()
    print(f"{'VSIs':>7} {'edit':>8} {'validate':>9} {'apply':>8} {'persist':>8} {'commit':>8}  (ms, median)  running.xml")
    for n in args.sizes:
        r = run(n, args.repeat, schema)
        print(f"{n:>7} {r['edit']:8.3f} {r['validate']:9.3f} {r['apply']:8.3f} {r['persist']:8.3f} "
              f"{r['commit']:8.3f}  {r['file_kib']:10.0f} KiB")


if __name__ == "__main__":
    main()
