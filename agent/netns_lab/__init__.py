"""The SPEC section 2 network on real interfaces: network namespaces, kernel hosts, real agents.

::

    router ns:  br0 (Linux bridge: IGMP querier, 198.51.100.1) + the multicast source
                 |  to-spe1                 |  to-spe2
    spe1 ns:  uplink  [agent]  pw-upe    spe2 ns: uplink [agent] pw-upe
                          \\                            /
    upe ns:             pw-spe1   [agent]        pw-spe2
                           ac1              ac2
    rcv1 ns:              eth0     rcv2 ns: eth0      (kernel hosts, 198.51.100.11/.12)

Every link is a veth pair created directly between two namespaces of the lab (the peer end
is born in its namespace), so nothing of the host's own network is touched and labs of
concurrent runs never meet: every namespace name starts with the run's prefix.

Pieces and why they are what they are:

* **Querier** - the router's Linux bridge (``mcast_snooping 1``, ``mcast_querier 1``,
  ``mcast_query_use_ifaddr 1`` so its queries carry 198.51.100.1 as source: the agents
  learn router ports only from queries with a non-zero source, RFC 4541 2.1.1),
  query interval ``--query-interval`` (10 s by default: the stream without the feature is
  down until the next query, a short interval keeps the run short), query response
  interval 1 s and IGMPv2.  The bridge snoops too: it sends a group's data only to the
  uplinks that reported it, exactly the upstream behaviour the feature has to beat.
* **Source** - ``python -m agent.netns_lab _source`` in the router namespace: numbered UDP
  datagrams (run id, sequence number, send time) to each group at a fixed rate, TTL 8,
  out of br0.
* **Receivers** - ``_receive`` in rcv1 (239.1.1.1, .2) and rcv2 (.2, .3): ordinary UDP
  sockets with ``IP_ADD_MEMBERSHIP``, so the kernel's IGMP stack (forced to v2 with
  ``force_igmp_version``) sends reports and answers queries.  Each also holds a raw IGMP
  socket and notes when queries arrive: the proof of *why* a stream came back.
* **Agents** - ``python -m agent serve --dataplane linux`` in upe, spe1 and spe2 with
  ``ip netns exec``, configured over NETCONF (ncclient, edit-config replace of
  :func:`agent.lab.lab_config`).  Each listens on **127.0.0.1 inside its own namespace**
  (port 830 in every one: each namespace has its own loopback).  This process reaches one
  by making the TCP socket while its thread is in that namespace
  (:func:`dataplane.linux.netns.entered`) and handing the connected socket to ncclient.
  No management veth, no address plan, nothing reachable from the host's network.
* **Offloads** - nothing is changed: veth hands locally sent UDP to the packet sockets
  with the checksum left to "hardware" (``CHECKSUM_PARTIAL``); the driver completes it
  from ``PACKET_VNET_HDR`` (``dataplane.linux.afpacket``), so ``ethtool -K`` is not needed
  (and ethtool is not installed here).  TCP from a host (TSO) reaches the packet sockets
  as super-frames; the driver cuts them into wire frames itself.  MTU stays 1500 on every
  port; datagrams are small.

Clocks: the controller, the source and the receivers all read ``CLOCK_MONOTONIC``, which
network namespaces share, so the cut time, send times and arrival times are comparable.

Cleanup: :class:`NetnsLab` is a context manager; processes it started are stopped (by
pid) and its namespaces deleted on the way out, after a failure and on Ctrl-C (SIGTERM and
SIGHUP, a closed terminal, are turned into the same path).  A second Ctrl-C during the
cleanup waits until it is done.  Every process the lab starts gets SIGTERM when the
controller dies (``PR_SET_PDEATHSIG``), so even a killed controller leaves nothing
streaming; its namespaces stay, and :func:`remove_leftovers` (``down``) kills whatever
still runs in a lab's namespaces (``<prefix>-<role>``) and deletes them: the repair after
a crash.

CLI::

    python -m agent.netns_lab up [--feature on|off]        # build, stream, wait for Ctrl-C
    python -m agent.netns_lab failover [--feature on|off] [--json]   # default: both, compared
    python -m agent.netns_lab throughput [--feature on|off] [--rates 1000,2000,...] [--seconds S] [--json]
    python -m agent.netns_lab down [--prefix P]

(all but ``down`` also take ``--query-interval S`` and ``--rate PPS`` per group;
``scripts/netns-lab`` runs the same with the repository's virtualenv.)  ``down`` without
``--prefix`` removes every lab on the machine, also one a concurrent run is using.
"""

from agent.netns_lab.measure import FailoverRun, GroupReception, format_comparison, run_failover, run_throughput
from agent.netns_lab.topology import (
    PREFIX_BASE,
    LabError,
    NetnsLab,
    NetnsLabOptions,
    Stream,
    lab_namespaces,
    remove_leftovers,
)

__all__ = [
    "FailoverRun", "GroupReception", "LabError", "NetnsLab", "NetnsLabOptions", "PREFIX_BASE", "Stream",
    "format_comparison", "lab_namespaces", "remove_leftovers", "run_failover", "run_throughput",
]
