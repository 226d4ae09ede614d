"""Incidents: intake (hotline, Open311 API, sensors), workflow, SLA, outages.

Pure core: ``workflow`` (state machine) and ``sla`` (deadlines from a rules file).
SQL lives in ``repo``; ``service`` holds the domain functions the UI and the API both call.
"""
