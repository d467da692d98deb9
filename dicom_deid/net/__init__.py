"""The DICOM network side: a node that receives, de-identifies and forwards (``serve``), and
query/retrieve from a PACS (``pull``), built on pynetdicom.

Data flow, one module per stage::

    scp.py      Receiver: C-ECHO / C-STORE acceptor; AE title, address and TLS checks at the door
    spool.py    Spool: the persistent queue (fsync + atomic rename before "success")
    adapter.py  PipelineSession: the one coupling to the batch pipeline's per-file boundary
    forward.py  Forwarder: C-STORE to the destination, retries with back-off
    node.py     Node: wires the stages, bounded queues, counters, clean stop
    pull.py     Puller: C-FIND, then C-GET or C-MOVE into the node
    config.py   NodeConfig and the TOML file; events.py: typed node events

``dicom_deid.cli_net`` is the command line over these; nothing here prints or exits.
"""

from __future__ import annotations
