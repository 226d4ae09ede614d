"""Pure graph engine: valve segments, break isolation and criticality of water networks.

Never imports SQLAlchemy or Streamlit (only :mod:`network.repo` touches the database).
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Criticality": "criticality", "criticality": "criticality",
    "InputFileError": "errors", "InvalidNetwork": "errors", "InvalidValve": "errors",
    "NetworkError": "errors", "UnknownPipe": "errors", "UnknownValve": "errors",
    "network_from_wntr": "inp", "read_inp": "inp", "read_inp_topology": "inp",
    "IsolationIndex": "isolation", "IsolationResult": "isolation", "isolate": "isolation",
    "isolate_each": "isolation", "isolation_index": "isolation",
    "CLOSED": "model", "INOPERABLE": "model", "OPEN": "model", "NetworkModel": "model",
    "network_from_arrays": "model", "network_from_frames": "model", "with_valve_layer": "model",
    "with_valve_status": "model",
    "Segments": "segments", "compute_segments": "segments",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Lazy: `python -m network` should not pay for pandas/scipy before parsing its arguments.
    if name in _EXPORTS:
        return getattr(import_module(f"network.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'network' has no attribute {name!r}")
