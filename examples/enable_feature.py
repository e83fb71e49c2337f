#!/usr/bin/env python3
"""Switch on rapid multicast forwarding on the backup device on all three lab devices.

On each device, as an operator would: lock the candidate, merge the four backup settings
into VSI ``iptv``, commit, unlock.  The SPE that holds the standby PW then learns the
receivers' groups over it (at the next query) without forwarding them.

    python examples/enable_feature.py [--base-port 8301] [--off]
"""

from __future__ import annotations

from lab_connect import DEVICES, arguments, connect

CONFIG = """
<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">
  <vsis xmlns="urn:vsi-multicast-agent:yang:vsi-l2-multicast">
    <vsi>
      <name>{vsi}</name>
      <igmp-snooping>
        <backup-query-forward>{on}</backup-query-forward>
        {query_mac}
        <backup-report-forward>{on}</backup-report-forward>
        {report_mac}
      </igmp-snooping>
    </vsi>
  </vsis>
</config>
"""


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--vsi", default="iptv")
    parser.add_argument("--off", action="store_true", help="switch the feature off instead")
    parser.add_argument("--no-source-mac-replace", action="store_true")
    args = parser.parse_args()
    on = "false" if args.off else "true"
    # source-mac-replace exists only while its forward setting is on (a YANG `when`)
    replace = "false" if args.no_source_mac_replace else "true"
    query_mac = "" if args.off else f"<backup-query-source-mac-replace>{replace}</backup-query-source-mac-replace>"
    report_mac = "" if args.off else f"<backup-report-source-mac-replace>{replace}</backup-report-source-mac-replace>"
    config = CONFIG.format(vsi=args.vsi, on=on, query_mac=query_mac, report_mac=report_mac)
    for device in DEVICES:
        with connect(args, device) as m, m.locked("candidate"):
            m.discard_changes()
            m.edit_config(target="candidate", config=config)
            m.commit()
        print(f"{device}: backup-query-forward and backup-report-forward {on}")


if __name__ == "__main__":
    main()
