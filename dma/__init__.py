"""District metered areas: derivation from the network, daily water balance, minimum night flow
and the leak alarm (docs/dma.md)."""
