#!/usr/bin/env python3
"""Print the notifications of lab devices as they arrive (RFC 5277 create-subscription).

Subscribes to the NETCONF stream of each chosen device and prints every notification on one
line: when, which device, what (a pw-switchover says from which PW to which, and how many
groups were already installed on the new one).  By default a subtree filter asks only for
the module's own notifications (pw-switchover, group-limit-exceeded); ``--all`` adds the
agent's RFC 6470 events (sessions, configuration changes).  Stops after ``--count``
notifications or ``--seconds`` seconds, or on Ctrl-C.

    python examples/watch_notifications.py [--base-port 8301] [--device UPE] [--count N] [--all]
"""

from __future__ import annotations

import time

from lxml import etree

from lab_connect import DEVICES, NS, VL2MC, arguments, connect

MODULE_NOTIFICATIONS = (f'<filter xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" type="subtree">'
                        f'<pw-switchover xmlns="{VL2MC}"/><group-limit-exceeded xmlns="{VL2MC}"/></filter>')


def describe(body) -> str:  # noqa: ANN001
    name = etree.QName(body).localname
    if name == "pw-switchover":
        def pw(which: str) -> str:
            peer = body.findtext(f"v:{which}/v:peer-address", namespaces=NS)
            return f"{peer}:{body.findtext(f'v:{which}/v:vc-id', namespaces=NS)}" if peer else "none"
        return (f"pw-switchover vsi {body.findtext('v:vsi', namespaces=NS)}: {pw('from-pw')} -> {pw('to-pw')}, "
                f"{body.findtext('v:preinstalled-groups', namespaces=NS)} group(s) preinstalled")
    if name == "group-limit-exceeded":
        return (f"group-limit-exceeded vsi {body.findtext('v:vsi', namespaces=NS)}: "
                f"limit {body.findtext('v:limit', namespaces=NS)}")
    fields = ", ".join(f"{etree.QName(child).localname}={child.text.strip()}"
                       for child in body.iter() if child is not body and child.text and child.text.strip())
    return f"{name} {fields}"


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--device", choices=DEVICES, action="append", help="default: all three")
    parser.add_argument("--count", type=int, default=0, help="stop after this many (0: never)")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0: never)")
    parser.add_argument("--all", action="store_true", help="also session and configuration events")
    args = parser.parse_args()
    sessions = {device: connect(args, device) for device in (args.device or DEVICES)}
    for m in sessions.values():
        if args.all:
            m.create_subscription()
        else:
            m.create_subscription(filter=etree.fromstring(MODULE_NOTIFICATIONS))
    print("subscribed to " + ", ".join(sessions), flush=True)
    seen = 0
    deadline = time.monotonic() + args.seconds if args.seconds else None
    try:
        while (not args.count or seen < args.count) and (deadline is None or time.monotonic() < deadline):
            for device, m in sessions.items():
                notification = m.take_notification(block=True, timeout=0.1)
                if notification is None:
                    continue
                element = notification.notification_ele
                when = element.findtext("{urn:ietf:params:xml:ns:netconf:notification:1.0}eventTime")
                body = next(child for child in element if not str(child.tag).endswith("eventTime"))
                print(f"{when} {device}: {describe(body)}", flush=True)
                seen += 1
    except KeyboardInterrupt:
        pass
    finally:
        for m in sessions.values():
            m.close_session()


if __name__ == "__main__":
    main()
