#!/usr/bin/env python3
"""Trigger a manual PW switchover on the UPE: make one PW the active one of its pair.

Sends the YANG 1.1 ``switchover`` action (RFC 7950 7.15, NETCONF ``<action>``) on
``/vsis/vsi[name]/pws/pw[peer-address][vc-id]`` and prints the UPE's PW states after it.

    python examples/switchover.py [--base-port 8301] [--to 10.0.0.2] [--vc-id 100]
"""

from __future__ import annotations

from lxml import etree

from lab_connect import NS, VL2MC, arguments, connect

ACTION = f"""
<action xmlns="urn:ietf:params:xml:ns:yang:1">
  <vsis xmlns="{VL2MC}">
    <vsi>
      <name>{{vsi}}</name>
      <pws><pw><peer-address>{{peer}}</peer-address><vc-id>{{vc_id}}</vc-id><switchover/></pw></pws>
    </vsi>
  </vsis>
</action>
"""


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--vsi", default="iptv")
    parser.add_argument("--to", default="10.0.0.2", help="peer address of the PW to make active")
    parser.add_argument("--vc-id", type=int, default=100)
    parser.add_argument("--device", default="UPE", help="the device that owns the redundancy pair")
    args = parser.parse_args()
    with connect(args, args.device) as m:
        m.dispatch(etree.fromstring(ACTION.format(vsi=args.vsi, peer=args.to, vc_id=args.vc_id)))
        pws = m.get(filter=("subtree", f'<vsis xmlns="{VL2MC}"><vsi><name>{args.vsi}</name><pws/></vsi></vsis>')).data
    print(f"{args.device}: switched over to {args.to}:{args.vc_id}")
    for pw in pws.iterfind(".//v:pw", NS):
        print(f"  {pw.findtext('v:interface', namespaces=NS):8} {pw.findtext('v:peer-address', namespaces=NS)}:"
              f"{pw.findtext('v:vc-id', namespaces=NS)}  {pw.findtext('v:forwarding-state', namespaces=NS)}")


if __name__ == "__main__":
    main()
