"""The inspectorate's reports: who answers for each report (organisations), KPIs computed from
the reports' event history with published formulas, and signed map reports in PDF."""
