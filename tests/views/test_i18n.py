"""Both catalogs carry every label; every t("…") key used in the code exists."""
from __future__ import annotations

import re
from pathlib import Path

from i18n import LANGUAGES, has_text, keys, translate

ROOT = Path(__file__).resolve().parents[2]


def test_catalogs_have_the_same_keys() -> None:
    assert all(has_text(k, lang) for lang in LANGUAGES for k in keys(""))


def test_every_key_used_in_the_ui_exists() -> None:
    used: set[str] = set()
    for path in [ROOT / "app.py", *sorted((ROOT / "views").rglob("*.py"))]:
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""", path.read_text(encoding="utf-8")))
    assert used, "no t() calls found"
    missing = sorted(k for k in used if not has_text(k))
    assert not missing, missing


def test_translate_formats_and_falls_back() -> None:
    assert translate("en", "map.search_none", query="X") == "No address found for “X”"
    assert translate("ru", "map.search_none", query="X") == "Адрес не найден: «X»"
    assert translate("xx", "app.title") == translate("ru", "app.title") == "ЖКХ-Оперативный центр"
