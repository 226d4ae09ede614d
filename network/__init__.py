"""Pure graph engine: valve segments, break isolation and criticality of water networks.

Never imports SQLAlchemy or Streamlit: the PostGIS adapter is ``gis.network_repo``, joined to the
engine by the application layer (``ops.network``).
"""

from network.criticality import Criticality, criticality
from network.errors import (
    InputFileError,
    InvalidNetwork,
    InvalidValve,
    NetworkError,
    UnknownPipe,
    UnknownValve,
)
from network.inp import network_from_wntr, read_inp, read_inp_topology
from network.isolation import (
    IsolationIndex,
    IsolationResult,
    isolate,
    isolate_each,
    isolation_index,
)
from network.model import (
    CLOSED,
    INOPERABLE,
    OPEN,
    NetworkModel,
    network_from_arrays,
    network_from_frames,
    with_valve_layer,
    with_valve_status,
)
from network.segments import Segments, compute_segments

__all__ = [
    "CLOSED", "INOPERABLE", "OPEN",
    "Criticality", "InputFileError", "InvalidNetwork", "InvalidValve", "IsolationIndex", "IsolationResult",
    "NetworkError", "NetworkModel", "Segments", "UnknownPipe", "UnknownValve",
    "compute_segments", "criticality", "isolate", "isolate_each", "isolation_index",
    "network_from_arrays", "network_from_frames", "network_from_wntr", "read_inp", "read_inp_topology",
    "with_valve_layer", "with_valve_status",
]
