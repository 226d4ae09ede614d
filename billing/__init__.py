"""Billing: the ПП 354 fee recalculation for interruptions (pure rule in :mod:`billing.rule`),
its rules files (:mod:`billing.rules_file`; the one in force: :mod:`billing.rules_setting`), the month's charges
(:mod:`billing.charges`). The ``python -m billing`` command line is :mod:`apps.cli.billing`."""
