"""The resident's page: outages and the allowance clock at an address, reports, notices and the
month's charges (``python -m resident serve``; docs/resident.md)."""
