"""The extraction methods ``babel.cfg`` names, for ``pybabel extract`` and ``tests/i18n``.

``extract_calls`` reads a Python file's syntax tree: every call of a keyword (``t``, ``tn``, ``N_`` …,
from ``babel.cfg``) whose first argument is a string literal — inside f-strings too, and both
branches of ``t("a" if c else "b")``, which Babel's own Python extractor misses or runs together.
It yields ``(key, key + ".plural")``; the keyword's spec decides what is kept: ``t`` takes the key
alone, ``tn:1,2`` the key and its plural. A key built at run time (``t(f"role.{r}")``) is not a
literal and is skipped: its family is in ``i18n.families``.

``extract_families`` yields every member of the families in ``i18n.families``, as if the code called
``t(key)`` or, for a member of ``COUNTED``, ``tn(key, n)``.
"""
from __future__ import annotations

import ast
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from i18n import DEFAULT_LANGUAGE, PLURAL_SUFFIX, read_catalog
from i18n.families import COUNTED, FAMILIES, members

Extracted = tuple[int, str, tuple[str, str], list[str]]


def _literals(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    return []


def extract_calls(fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str],
                  options: Mapping[str, Any]) -> Iterator[Extracted]:
    tree = ast.parse(fileobj.read().decode(options.get("encoding", "utf-8")))
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
             and node.func.id in keywords and node.args]
    for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
        for key in _literals(call.args[0]):
            yield call.lineno, call.func.id, (key, key + PLURAL_SUFFIX), []


def extract_families(fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str],
                     options: Mapping[str, Any]) -> Iterator[Extracted]:
    lines = fileobj.read().decode("utf-8").splitlines()
    reference = [m.id if isinstance(m.id, str) else m.id[0] for m in read_catalog(DEFAULT_LANGUAGE) if m.id]
    for family in FAMILIES:
        lineno = next((i for i, line in enumerate(lines, 1) if f'"{family.prefix}"' in line), 0)
        kind = "open family" if family.words is None else "family"
        comment = f"{kind} {family.prefix}.<…>: {family.source}"
        for key in members(family, reference):
            yield lineno, "tn" if key in COUNTED else "t", (key, key + PLURAL_SUFFIX), [comment]
