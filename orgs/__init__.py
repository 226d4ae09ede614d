"""Organisations' own systems: their webhooks — the endpoint of each organisation (``webhooks``), the URL
rules (``urls``), the sealed signing secret (``sealing``), the signed JSON of a work-order event
(``payload``) and the one HTTP POST that carries it (``sender``). The API itself is
``apps/http/open311/orgs.py``; the use-cases are ``ops.webhooks``; ``python -m orgs`` is ``apps.cli.orgs``."""
