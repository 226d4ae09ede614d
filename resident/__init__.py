"""What the residents' page reads and decides: outages and the allowance clock at an address, reports and
their reopen, account codes, «Тарифы» (the page itself is ``apps/http/resident``, ``python -m resident
serve``; docs/resident.md)."""
