"""Cost of retrieval with 10k VSIs configured (in-process, the handlers as the server runs them).

    python -m bench.bench_get [--vsis 10000] [--repeat 5]

Rows (median of the repetitions, milliseconds; "+wire" adds lxml serialisation of the reply):

* full get-config in the basic mode (explicit) and in report-all, and a full get (a copy of
  running merged with the state of every VSI);
* get-config / get / XPath get for one VSI: the filter looks the VSI up by key, and `<get>`
  copies and asks the state provider for that VSI only;
* a subtree filter on a non-key leaf (it has to scan every VSI), for comparison with the key
  lookup;
* get-data of `<operational>` for one VSI with-origin.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from lxml import etree

from agent import monitoring, netconf_get, nmda, yang_library  # noqa: F401  (register handlers)
from agent.datastore import Datastores
from agent.notifications import NotificationStream
from agent.rpc import RpcContext, SerializedReply
from agent.state_provider import StateSelection
from agent.schema import load_schema
from agent.server import STATIC_CAPABILITIES, Statistics
from agent.validate import Validator
from agent.xmlns import DATASTORES, NC, NMDA, VL2MC, WITH_DEFAULTS

V = VL2MC


class PerVsiState:
    """A provider that renders a little state per requested VSI (like the dataplane will)."""

    def __init__(self, n_vsis: int) -> None:
        self.n_vsis = n_vsis
        self.rendered = 0

    def operational(self, selection: StateSelection) -> list[etree._Element]:
        names = selection.vsi_names if selection.vsi_names is not None else {f"vsi{i}" for i in range(self.n_vsis)}
        vsis = etree.Element(f"{{{V}}}vsis", nsmap={None: V})
        for name in sorted(names):
            vsi = etree.SubElement(vsis, f"{{{V}}}vsi")
            etree.SubElement(vsi, f"{{{V}}}name").text = name
            snooping = etree.SubElement(vsi, f"{{{V}}}igmp-snooping")
            etree.SubElement(snooping, f"{{{V}}}entries-count").text = "1"
        self.rendered = len(names)
        return [vsis]


def server(n_vsis: int, state_dir: Path) -> SimpleNamespace:
    schema = load_schema()
    stores = Datastores(schema, Validator(schema), state_dir)
    stores.load()
    config = etree.Element(f"{{{NC}}}config", nsmap={None: NC})
    l2 = etree.SubElement(config, f"{{{V}}}l2-multicast", nsmap={None: V})
    etree.SubElement(l2, f"{{{V}}}igmp-snooping-enable").text = "true"
    vsis = etree.SubElement(config, f"{{{V}}}vsis", nsmap={None: V})
    for i in range(n_vsis):
        vsi = etree.SubElement(vsis, f"{{{V}}}vsi")
        etree.SubElement(vsi, f"{{{V}}}name").text = f"vsi{i}"
        etree.SubElement(vsi, f"{{{V}}}description").text = f"d{i}"
        ac = etree.SubElement(etree.SubElement(vsi, f"{{{V}}}acs"), f"{{{V}}}ac")
        etree.SubElement(ac, f"{{{V}}}interface").text = f"ac{i}"
        etree.SubElement(etree.SubElement(vsi, f"{{{V}}}igmp-snooping"), f"{{{V}}}enable").text = "true"
    stores.replace("running", stores.tree_from_config(config), session_id=0)
    content_id = yang_library.content_id(schema)
    srv = SimpleNamespace(schema=schema, datastores=stores, state=PerVsiState(n_vsis), sessions={},
                          statistics=Statistics(), capabilities=lambda: list(STATIC_CAPABILITIES),
                          content_id=lambda: content_id)
    srv.notifications = NotificationStream(srv)   # type: ignore[arg-type]  (/netconf/streams)
    return srv


def request(xml: str) -> etree._Element:
    return etree.fromstring(xml)


def cases(srv: SimpleNamespace, n: int) -> dict[str, Callable[[], etree._Element]]:
    ctx = RpcContext(server=srv, session=SimpleNamespace(id=1), rpc=etree.Element(f"{{{NC}}}rpc"))  # type: ignore[arg-type]
    one = f"vsi{n // 2}"
    wd = f'<with-defaults xmlns="{WITH_DEFAULTS}">report-all</with-defaults>'
    by_key = f'<filter type="subtree"><vsis xmlns="{V}"><vsi><name>{one}</name></vsi></vsis></filter>'
    by_leaf = f'<filter type="subtree"><vsis xmlns="{V}"><vsi><description>d{n // 2}</description></vsi></vsis></filter>'
    xpath = f'<filter type="xpath" xmlns:v="{V}" select="/v:vsis/v:vsi[v:name=\'{one}\']"/>'
    src = "<source><running/></source>"
    ops = {
        "get-config, full, explicit": f'<get-config xmlns="{NC}">{src}</get-config>',
        "get-config, full, report-all": f'<get-config xmlns="{NC}">{src}{wd}</get-config>',
        "get, full (running + state of every VSI)": f'<get xmlns="{NC}"/>',
        "get-config, one VSI by key": f'<get-config xmlns="{NC}">{src}{by_key}</get-config>',
        "get-config, one VSI by non-key leaf (scan)": f'<get-config xmlns="{NC}">{src}{by_leaf}</get-config>',
        "get, one VSI by key (subtree)": f'<get xmlns="{NC}">{by_key}</get>',
        "get, one VSI by key (xpath)": f'<get xmlns="{NC}">{xpath}</get>',
        "get-data operational, one VSI, with-origin": (
            f'<get-data xmlns="{NMDA}" xmlns:ds="{DATASTORES}"><datastore>ds:operational</datastore>'
            f'<subtree-filter><vsis xmlns="{V}"><vsi><name>{one}</name></vsi></vsis></subtree-filter>'
            f'<with-origin/></get-data>'),
    }
    handlers = {"get-config": netconf_get.get_config, "get": netconf_get.get, "get-data": nmda.get_data}
    result = {}
    for label, xml in ops.items():
        op = request(xml)
        handler = handlers[etree.QName(op).localname]
        result[label] = (lambda h=handler, o=op: h(ctx, o))
    return result


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def wire_bytes(reply: etree._Element | SerializedReply) -> bytes:
    """The reply content as sent (some replies come already serialised)."""
    return reply.xml if isinstance(reply, SerializedReply) else etree.tostring(reply)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vsis", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        srv = server(args.vsis, Path(tmp))
        print(f"{args.vsis} VSIs configured; median of {args.repeat} runs, milliseconds")
        print(f"{'operation':48} {'handler':>9} {'+wire':>9}  reply")
        for label, fn in cases(srv, args.vsis).items():
            size = len(wire_bytes(fn()))
            handler = median_ms(fn, args.repeat)
            wire = median_ms(lambda: wire_bytes(fn()), args.repeat)
            print(f"{label:48} {handler:9.2f} {wire:9.2f}  {size / 1024:.1f} KiB")
        print(f"state provider rendered {srv.state.rendered} VSI(s) for the last filtered get")


if __name__ == "__main__":
    main()
