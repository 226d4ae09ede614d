"""Billing: the ПП 354 fee recalculation for interruptions (pure rule in :mod:`billing.rule`),
its rules files (:mod:`billing.rules_file`) and the ``python -m billing`` CLI (:mod:`billing.cli`)."""
