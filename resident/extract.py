"""Extraction of the resident's page's and the notices' text keys for ``pybabel extract`` (babel.cfg):
every quoted literal that is a key of ours (``resident.…``, ``notice.…``, the crews' page's ``fieldapp.…``) in the Python modules and the
Jinja templates — the templates' ``t("…")`` calls and the keys the code keeps in variables alike. A
literal right after ``tn(`` is a plural entry (msgid_plural = key + ".plural")."""
from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from i18n import PLURAL_SUFFIX

KEY = re.compile(r"""(\btn\(\s*)?(["'])((?:resident|notice|fieldapp)(?:\.[a-z0-9_]+)+)\2""")


def extract_keys(fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str],
                 options: Mapping[str, Any]) -> Iterator[tuple[int, str, tuple[str, str], list[str]]]:
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    for m in KEY.finditer(source):
        lineno = source.count("\n", 0, m.start()) + 1
        key = m.group(3)
        yield lineno, "tn" if m.group(1) else "t", (key, key + PLURAL_SUFFIX), []
