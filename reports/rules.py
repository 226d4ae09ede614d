"""The reports rules file (``reports/rules/default.yaml``; a region file names its parent in
``extends``; ``ZHKH_REPORTS_RULES_FILE`` selects one). What a rules file holds is
:mod:`reports.kpi_rules` (pure: the KPI formulas take it without importing ``settings``)."""
from __future__ import annotations

from pathlib import Path

from reports.errors import InvalidRules
from reports.kpi_rules import KPI_ZONES, ReportRules, Zone
from rules_yaml import cached_by_mtime, read_rules_yaml, validated
from settings import get_settings

__all__ = ["DEFAULT_FILE", "KPI_ZONES", "ReportRules", "Zone", "current", "load"]

DEFAULT_FILE = Path(__file__).parent / "rules" / "default.yaml"


def load(path: str | Path) -> ReportRules:
    path = Path(path)
    raw = read_rules_yaml(path, what="reports rules file", error=InvalidRules)
    return validated(ReportRules, raw, path, error=InvalidRules)


_cached = cached_by_mtime(load, maxsize=4, missing=lambda p: InvalidRules(f"cannot read reports rules file {p}"))


def current() -> ReportRules:
    """The rules in force (the setting ``reports_rules_file``, ``ZHKH_REPORTS_RULES_FILE`` in the environment or
    ``.env``), re-read when changed."""
    return _cached(Path(get_settings().reports_rules_file))
