"""The command lines: ``python -m X`` of every package calls ``apps.cli.X.main`` (contract: docs/cli.md)."""
