"""The Linux dataplane driver: the forwarding core on real interfaces.

``afpacket`` (one AF_PACKET socket per port), ``carrier`` (rtnetlink link table and carrier
changes), ``netns`` (entering named network namespaces), ``driver`` (:class:`LinuxDataplane`,
the shell that ties them to the core on an asyncio loop).
"""

from dataplane.linux.driver import LinuxDataplane

__all__ = ["LinuxDataplane"]
