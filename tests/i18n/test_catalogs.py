"""The catalogs (locale/<lang>/LC_MESSAGES/zhkh.po) against the code.

The extraction is the one ``pybabel extract -F babel.cfg`` and ``make texts`` run: every key the code asks
for (``t``, ``tn``, ``N_`` …) and every member of the key families built at run time (``i18n/families.py``).
A key without a text in either language, an empty or fuzzy text, an obsolete entry or a text no code asks
for fails here; ``make texts`` adds the missing keys to both .po files and drops the unused ones.
"""
from __future__ import annotations

import ast
import string
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from i18n import LANGUAGES, PLURAL_SUFFIX, has_text, keys, read_catalog, translate, translate_n
from i18n.families import COUNTED, FAMILIES, members

ROOT = Path(__file__).resolve().parents[2]
HOW = "run `make texts`, then fill in the empty msgstr of both locale/*/LC_MESSAGES/zhkh.po (docs/i18n.md)"


def key_of(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def forms(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


@pytest.fixture(scope="module")
def extracted() -> Catalog:
    """What ``pybabel extract -F babel.cfg .`` finds, as a catalog (the keywords are babel.cfg's own)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, str(ROOT / "babel.cfg"))
    catalog = Catalog(domain="zhkh")
    for filename, lineno, message, comments, context in extract_from_dir(str(ROOT), method_map, options_map,
                                                                         keywords={}):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


@pytest.fixture(scope="module")
def catalogs() -> dict[str, Catalog]:
    return {lang: read_catalog(lang) for lang in LANGUAGES}


def test_the_extraction_finds_the_code_s_keys(extracted: Catalog) -> None:
    found = {key_of(m) for m in extracted if m.id}
    # a t() inside an f-string, both keys of t("a" if c else "b"), a tn() plural, an N_() mark, a family member
    assert {"incident.description", "outage.state.scheduled", "outage.state.approved", "incident.count",
            "page.map", "login.ended", "incident.status.dispatched", "role.admin"} <= found
    assert isinstance(extracted["incident.count"].id, tuple) and not isinstance(extracted["page.map"].id, tuple)
    assert not [k for k in found if not k.replace("_", "").replace(".", "").isalnum()], "a msgid that is not a key"


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_every_key_the_code_asks_for_has_a_text(lang: str, extracted: Catalog, catalogs: dict[str, Catalog]) -> None:
    catalog = catalogs[lang]
    asked = [key_of(m) for m in extracted if m.id]
    missing = sorted(k for k in asked if k not in catalog)
    empty = sorted(k for k in asked if k in catalog and not all(forms(catalog[k])))
    assert not missing, f"{lang}: no text for {missing}: {HOW}"
    assert not empty, f"{lang}: empty text for {empty}: {HOW}"


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_plain_and_plural_entries_match_the_calls(lang: str, extracted: Catalog,
                                                  catalogs: dict[str, Catalog]) -> None:
    catalog = catalogs[lang]
    wrong = []
    for m in extracted:
        if not m.id or key_of(m) not in catalog:
            continue
        entry = catalog[key_of(m)]
        if isinstance(m.id, tuple) != isinstance(entry.id, tuple) or (isinstance(entry.id, tuple) and (
                entry.id[1] != entry.id[0] + PLURAL_SUFFIX or len(entry.string) != catalog.num_plurals)):
            wrong.append(key_of(m))
    assert not wrong, (f"{lang}: t() needs a plain entry, tn() a plural one (msgid_plural key{PLURAL_SUFFIX}, "
                       f"{catalog.num_plurals} forms): {sorted(wrong)}")


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_no_fuzzy_obsolete_or_unused_entries(lang: str, extracted: Catalog, catalogs: dict[str, Catalog]) -> None:
    catalog = catalogs[lang]
    assert not catalog.fuzzy, f"{lang}: the header is marked fuzzy"
    fuzzy = sorted(key_of(m) for m in catalog if m.id and m.fuzzy)
    assert not fuzzy, f"{lang}: fuzzy entries (check the text, then remove '#, fuzzy'): {fuzzy}"
    assert not catalog.obsolete, f"{lang}: obsolete entries (#~): {sorted(catalog.obsolete)}"
    unused = sorted(key_of(m) for m in catalog if m.id and key_of(m) not in extracted)
    assert not unused, (f"{lang}: texts no code asks for (delete them, or list their family in "
                        f"i18n/families.py): {unused}")


def test_the_template_is_up_to_date(extracted: Catalog) -> None:
    with (ROOT / "locale" / "zhkh.pot").open("rb") as f:
        pot = read_po(f)
    committed = {key_of(m): isinstance(m.id, tuple) for m in pot if m.id}
    now = {key_of(m): isinstance(m.id, tuple) for m in extracted if m.id}
    assert committed == now, "locale/zhkh.pot is not what the code asks for: run `make texts`"


def test_plural_forms_headers(catalogs: dict[str, Catalog]) -> None:
    ru, en = catalogs["ru"], catalogs["en"]
    assert ru.num_plurals == 3 and ru.plural_expr == (
        "(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2)")
    assert en.num_plurals == 2 and en.plural_expr == "(n != 1)"


def _placeholders(text: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_form_of_a_text_has_the_same_placeholders(catalogs: dict[str, Catalog]) -> None:
    differ = []
    for m in catalogs["ru"]:
        if not m.id:
            continue
        seen = {frozenset(_placeholders(s)) for c in catalogs.values() if key_of(m) in c for s in forms(c[key_of(m)])}
        if len(seen) > 1:
            differ.append((key_of(m), sorted(map(sorted, seen))))
    assert not differ, differ


# --- keys built at run time ------------------------------------------------------------------------------

@pytest.mark.parametrize("family", [f for f in FAMILIES if f.words is not None], ids=lambda f: f.prefix)
def test_every_member_of_a_closed_family_has_a_text(family) -> None:
    words = members(family, [])
    assert words, f"{family.prefix}: {family.source} is empty"
    for lang in LANGUAGES:
        missing = [k for k in words if not has_text(k, lang)]
        assert not missing, f"{lang}: no text for {missing} ({family.source}): {HOW}"


@pytest.mark.parametrize("family", [f for f in FAMILIES if f.words is None], ids=lambda f: f.prefix)
def test_an_open_family_has_texts(family) -> None:
    assert keys(family.prefix + "."), f"open family {family.prefix}: no text left under it; drop it from the list"


def test_counted_members_are_plural_and_belong_to_a_family(catalogs: dict[str, Catalog]) -> None:
    prefixes = {f.prefix for f in FAMILIES}
    for key, param in COUNTED.items():
        assert key.rsplit(".", 1)[0] in prefixes, f"{key}: not in a family of i18n/families.py"
        for lang, catalog in catalogs.items():
            assert isinstance(catalog[key].id, tuple), f"{lang}: {key} is counted but not a plural entry"
            assert all(param in _placeholders(s) for s in forms(catalog[key])), f"{lang}: {key} never shows {{{param}}}"


def _key_prefix(node: ast.expr) -> str | None:
    """The literal start of a key built at run time: ``f"role.{r}"`` and ``"layer." + x`` -> ``role.``."""
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and isinstance(node.left, ast.Constant):
        return str(node.left.value)
    return None


def test_every_key_built_at_run_time_belongs_to_a_family() -> None:
    prefixes = {f.prefix for f in FAMILIES}
    unlisted = []
    for path in [ROOT / "app.py", *sorted((ROOT / "views").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("t", "tn")
                    and node.args):
                start = _key_prefix(node.args[0])
                if start is not None and start.rstrip(".") not in prefixes:
                    unlisted.append(f"{path.relative_to(ROOT)}:{node.lineno} {start}…")
    assert not unlisted, f"keys built at run time outside every family of i18n/families.py: {unlisted}"


# --- the API ---------------------------------------------------------------------------------------------

def test_translate_formats_and_falls_back() -> None:
    assert translate("en", "map.search_none", query="X") == "No address found for “X”"
    assert translate("ru", "map.search_none", query="X") == "Адрес не найден: «X»"
    assert translate("xx", "app.title") == translate("ru", "app.title") == "ЖКХ-Оперативный центр"
    assert translate("en", "no.such.key") == "no.such.key" and translate_n("en", "no.such.key", 2) == "no.such.key"
    assert has_text("app.title") and has_text("incident.count") and not has_text("no.such.key")
    assert "field.address" in keys("field.") and all(k.startswith("field.") for k in keys("field."))


def test_the_catalogs_and_the_api_load_without_streamlit() -> None:
    code = ("import sys, i18n, apps.http.open311; assert i18n.translate('ru', 'api.status_note.new'); "
            "assert 'streamlit' not in sys.modules, 'the API imports Streamlit'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)
