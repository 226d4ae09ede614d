"""Entry points: everything a person or a process starts.

The layers (enforced by ``lint-imports``, contracts in ``.importlinter``; docs/architecture.md):

    apps/, views/, app.py, app_server.py   entry points: command lines, HTTP apps, workers, demo loaders, pages
        ▼
    ops/                                   the application layer: use-cases (rights, one transaction, audit)
        ▼
    auth, billing, data, dma, forecast, gis, incidents, meters, notify, reports, resident, i18n
                                           the domain: rules and their repositories
        ▼
    network/                               the pure network engine
        ▼
    settings, rules_yaml, csv_safe         configuration and small shared helpers

- ``apps.cli``   one module per ``python -m X`` family (``X/__main__.py`` only calls ``apps.cli.X.main``);
- ``apps.http``  the HTTP apps (Open311, residents' page, tiles) and the one ``serve`` helper;
- ``apps.demo``  the demo loaders.
"""
