"""Event bus adapters for the :class:`maat.ports.EventBus` port.

- :class:`~maat.adapters.bus.spool.SpoolBus`: fsynced segment files, for a single node.
- :class:`~maat.adapters.bus.nats.NatsBus`: NATS JetStream, for the cluster profile. Events
  are published under ``<prefix>.<partition>`` (:func:`subject_for`: a stable partition per
  host), stored once per message id within the stream's duplicate window, and read by
  durable pull consumers that acknowledge what they finished.
"""

from __future__ import annotations

from maat.adapters.bus.nats import NatsBus
from maat.adapters.bus.partition import partition_of, stream_subjects, subject_for

__all__ = ["NatsBus", "partition_of", "stream_subjects", "subject_for"]
