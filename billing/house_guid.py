"""The demo city's house GUIDs: ``uuid5`` of a fixed namespace and the building's dataset and ext id.

The demo loader (``apps.demo.billing``) gives every building one; the ГИС ЖКХ outage export
(:mod:`billing.outage_report`) recognises them, so that a file naming them is marked a demo, not
for submission.
"""
from __future__ import annotations

import uuid

__all__ = ["HOUSE_NAMESPACE", "house_guid"]

HOUSE_NAMESPACE = uuid.UUID("6f1c1d52-3b0e-5d55-9a4e-2f1e0a9c7a31")


def house_guid(dataset: str, ext_id: str) -> uuid.UUID:
    """The stable house GUID of a demo building."""
    return uuid.uuid5(HOUSE_NAMESPACE, f"{dataset}:{ext_id}")
