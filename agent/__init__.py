"""vsi-multicast-agent: the NETCONF/YANG agent half of the product.

Layers (one module per RFC concern, see docs/ARCHITECTURE.md):
transport (ssh_server, framing) -> session/dispatch -> operations (one module per RFC)
-> datastores -> schema/validation.  The agent may import `dataplane`; never the reverse.
"""
