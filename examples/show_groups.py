#!/usr/bin/env python3
"""Print the learned IGMP snooping tables of the lab devices, router style.

Reads each device's operational state with a subtree filter for one VSI (only that VSI is
built by the agent) and prints PWs and the group table in the layout of a router's
``display igmp-snooping port-info`` command.  Flags: S static, D dynamic, F forwarding,
B learned on the backup (standby) PW.

    python examples/show_groups.py [--base-port 8301] [--device SPE2]
"""

from __future__ import annotations

from lab_connect import DEVICES, NS, VL2MC, arguments, connect

FILTER = f"""
<vsis xmlns="{VL2MC}">
  <vsi>
    <name>{{vsi}}</name>
    <pws/>
    <igmp-snooping><querier/><entries-count/><router-port/><group/></igmp-snooping>
  </vsi>
</vsis>
"""
RULE = "  " + "-" * 70


def text(element, path: str, default: str = "-") -> str:  # noqa: ANN001
    value = element.findtext(path, namespaces=NS)
    return default if value is None else value


def display(device: str, vsi) -> list[str]:  # noqa: ANN001
    lines = [f"<{device}> display igmp-snooping port-info vsi {text(vsi, 'v:name')}", RULE]
    for pw in vsi.iterfind("v:pws/v:pw", NS):
        lines.append(f"  PW {text(pw, 'v:peer-address')}:{text(pw, 'v:vc-id')} on {text(pw, 'v:interface')}"
                     f"  role {text(pw, 'v:role', 'none')}  {text(pw, 'v:oper-status')}/"
                     f"{text(pw, 'v:forwarding-state')}  remote {text(pw, 'v:remote-status')}")
    igmp = vsi.find("v:igmp-snooping", NS)
    routers = [text(r, "v:interface") + ("(backup)" if text(r, "v:via-backup") == "true" else "")
               for r in igmp.iterfind("v:router-port", NS)] if igmp is not None else []
    lines.append(f"  Router ports: {', '.join(routers) or 'none'}")
    lines += [RULE, f"  {'(Source, Group)':26}{'Port':14}{'Flag':6}{'Up-time':>9}{'Expires':>9}", RULE]
    groups = list(igmp.iterfind("v:group", NS)) if igmp is not None else []
    lines.append(f"  VSI {text(vsi, 'v:name')}, {len(groups)} Entry(s)")
    for group in groups:
        source = text(group, "v:source-address")
        label = f"({'*' if source == '0.0.0.0' else source}, {text(group, 'v:group-address')})"
        ports = list(group.iterfind("v:port", NS))
        for n, port in enumerate(ports):
            flag = ("S" if text(port, "v:flag") == "static" else "D") + \
                   ("F" if text(port, "v:forwarding") == "true" else "-") + \
                   ("B" if text(port, "v:learned-on-backup") == "true" else "-")
            lines.append(f"  {label if n == 0 else '':26}{text(port, 'v:interface'):14}{flag:6}"
                         f"{text(port, 'v:up-time'):>8}s{text(port, 'v:expires', '-'):>8}s")
        lines.append(f"  {'':26}{len(ports)} port(s) include")
    lines.append(RULE)
    return lines


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--vsi", default="iptv")
    parser.add_argument("--device", choices=DEVICES, action="append", help="default: all three")
    args = parser.parse_args()
    for device in args.device or DEVICES:
        with connect(args, device) as m:
            data = m.get(filter=("subtree", FILTER.format(vsi=args.vsi))).data
        vsi = data.find("v:vsis/v:vsi", NS)
        if vsi is None:
            print(f"<{device}> no VSI {args.vsi}")
            continue
        print("\n".join(display(device, vsi)))
        print()


if __name__ == "__main__":
    main()
