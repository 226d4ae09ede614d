"""Which billing rules file is in force: ``--rules`` when a command names one, else the setting
``ZHKH_BILLING_RULES_FILE`` (``billing/rules/default.yaml`` by default).

Kept apart from :mod:`billing.rules_file` (which only reads the path it is given) because the pure
rule (:mod:`billing.rule`) imports that one and must not import ``settings``.
"""
from __future__ import annotations

from pathlib import Path

from billing.rules_file import BillingRules, load_billing_rules
from settings import ROOT, get_settings

__all__ = ["current_rules", "rules_path"]


def rules_path(explicit: str | Path | None = None) -> Path:
    """The rules file to use: ``explicit``, else the setting; a relative path that does not exist
    from the working directory is looked up from the project root (commands run from anywhere)."""
    path = Path(explicit) if explicit else Path(get_settings().billing_rules_file)
    if not path.is_absolute() and not path.exists() and (ROOT / path).exists():
        return ROOT / path
    return path


def current_rules(explicit: str | Path | None = None) -> BillingRules:
    """The billing rules of :func:`rules_path` (``InvalidRules`` names the file and every problem)."""
    return load_billing_rules(rules_path(explicit))
