"""Per-page UI texts, merged into ``views.i18n.CATALOG`` (each module: ``TEXTS = {"ru": …, "en": …}``)."""
