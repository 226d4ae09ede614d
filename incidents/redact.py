"""What the public may read of a report's description: phone numbers, e-mail addresses and people's
names masked (``***``); a description the operator marked private is not shown at all.

Public views (the residents' page, Open311 reads) call ``public_description``; the operators' app
shows the stored text. The detector is deliberately simple and errs on the side of masking:

- e-mail addresses;
- phone numbers: ``+`` and 8–15 digits (any country), Russian ``8``/``7`` + 10 digits, a bare
  mobile ``9xx xxx xx xx``, and a local ``xxx-xx-xx`` / ``xx-xx-xx`` (separators: spaces, hyphens,
  dots between groups, brackets);
- names: a capitalised Cyrillic word that is a known first name (any case), looks like a surname
  (``-ов -ев -ин -ский -цкий -енко -ук -ян -дзе -швили …`` in any case) or a patronymic
  (``-ович -овна …``), initials (``А.С.``) next to a capitalised word, and capitalised words right
  after a flat number (``кв. 17, Петрова Анна``) or a word like «звонил», «перезвонить», «ФИО»,
  «жилец», «собственник». Neighbouring capitalised words of a detected name go with it.

Street names such as «ул. Ленина» may be masked too: the address is shown separately.
"""
from __future__ import annotations

import re

MASK = "***"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_SEP = r"[\s\-‐-―.()\u00a0]*"
_PHONES = [
    # + and 8–15 digits in groups: +7 912 000-11-22, +358 40 123 4567, +7(912)0001122
    re.compile(r"(?<![\w+])\+\s?\(?\d(?:" + _SEP + r"\d){7,14}(?!\d)"),
    # Russian without +: 8 912 000-11-22, 8(495)123-45-67, 89120001122
    re.compile(r"(?<![\w])[78]" + _SEP + r"\(?\d{3}\)?" + _SEP + r"\d{3}" + _SEP + r"\d{2}" + _SEP + r"\d{2}(?!\d)"),
    # a mobile without the country: 912 000 11 22, (912) 000-11-22
    re.compile(r"(?<![\w])\(?9\d{2}\)?" + _SEP + r"\d{3}" + _SEP + r"\d{2}" + _SEP + r"\d{2}(?!\d)"),
    # local: 123-45-67, 123 45 67, 12-34-56
    re.compile(r"(?<![\w.,:])\d{2,3}[\s\-]\d{2}[\s\-]\d{2}(?![\d.,:]?\d)"),
]

_FIRST_NAMES = """
александр алексей анатолий андрей антон аркадий артём артем борис вадим валентин валерий василий виктор
виталий владимир владислав вячеслав геннадий георгий глеб григорий давид даниил денис дмитрий евгений егор
иван игорь илья кирилл константин лев леонид максим марк матвей михаил никита николай олег павел пётр петр
роман руслан семён семен сергей станислав степан тимофей тимур фёдор федор филипп эдуард юрий ярослав
александра алёна алена алина алла анастасия ангелина анна антонина валентина валерия вера вероника виктория
галина дарья диана евгения екатерина елена елизавета жанна зинаида зоя инна ирина капитолина кира клавдия
кристина ксения лариса лидия любовь людмила маргарита марина мария надежда наталья наталия нина оксана ольга
полина раиса светлана софия софья тамара татьяна ульяна юлия яна
саша маша наташа таня оля лена катя света галя женя ваня петя коля миша серёжа сережа дима вова володя
толя лёша леша паша юра витя валя люда аня даша настя вика ира надя зина
"""
_SURNAME = re.compile(
    r"(?:ов|ев|ёв|ин|ын)(?:а|у|ым|ом|ой|е|ы|ых|ыми)?$|"
    r"(?:ск|цк)(?:ий|ая|ого|ой|ому|им|ую|ие|их)$|"
    r"(?:енко|ук|юк|чук|ян|янц|дзе|швили|их|ых|ович|ич)$")
_PATRONYMIC = re.compile(r"(?:ович|евич|ьич|ична|инична|овна|евна)(?:а|у|ем|е|ой|ы|ей|у)?$")
# capitalised words that look like surnames but are not (sentence starts, places, things)
_NOT_NAMES = {
    "причина", "машина", "половина", "глубина", "ширина", "длина", "вершина", "витрина", "пружина", "картина",
    "госуслуги", "москва", "россия", "домов", "готов", "основ", "снов", "часов", "метров", "литров",
    "подвалов", "этажей", "кранов", "стояков", "без", "срочно", "также", "магазин", "магазина", "бензин",
    "керосин", "графин", "кабин", "вин", "один", "одна", "одно", "русский", "городской", "районный",
    "всех", "других", "своих", "них", "их", "тех", "этих", "каких", "таких", "соседних", "жилых", "нежилых",
    "ваших", "наших", "моих", "твоих", "двух", "трёх", "трех", "многих", "больших", "старых", "новых",
    "горячих", "холодных", "технический", "технических", "сантехнический", "электрический",
}
_CUE_AFTER = re.compile(
    r"(?:\bкв(?:артира)?\.?\s*№?\s*\d+[а-я]?\s*[,:;–—-]?\s*"
    r"|\b(?:звонил[аи]?|звонит|перезвонить|позвонить|спросить|спрашивать|обращал(?:ся|ась|ись)|"
    r"заявитель(?:ница)?|жил(?:ец|ица|ьцы)|житель(?:ница)?|собственни(?:к|ца)|контакт(?:ное лицо)?|"
    r"фио|ф\.и\.о\.?|от|для|связаться с|связь с|тел\.?|телефон|хозяйка|хозяин|"
    r"call|phone|contact|tenant|owner|resident|name|mr|mrs|ms)\b\.?\s*[,:;–—-]?\s*)",
    re.IGNORECASE)
_WORD = re.compile(r"[А-ЯЁA-Z][а-яёa-z]+(?:-[А-ЯЁA-Z][а-яёa-z]+)?")
_INITIALS = re.compile(r"[А-ЯЁ]\.\s?(?:[А-ЯЁ]\.)?")
_GAP = re.compile(r"^[\s\u00a0]*$")


def _forms(names: str) -> set[str]:
    """Every case form of the first names (nominative, genitive, dative, accusative, instrumental,
    prepositional) the simple way: by the ending of the nominative."""
    out: set[str] = set()
    for n in names.split():
        out.add(n)
        if n.endswith(("а", "я")):
            stem = n[:-1]
            out.update(stem + e for e in ("ы", "и", "е", "у", "ю", "ой", "ей", "ою", "ею"))
        elif n.endswith("ий"):
            stem = n[:-2]
            out.update(stem + e for e in ("ия", "ию", "ием", "ии"))
        elif n.endswith(("й", "ь")):
            stem = n[:-1]
            out.update(stem + e for e in ("я", "ю", "ем", "е"))
        else:
            out.update(n + e for e in ("а", "у", "ом", "е"))
            if n in ("пётр", "петр", "лев", "павел"):
                short = {"пётр": "петр", "петр": "петр", "лев": "льв", "павел": "павл"}[n]
                out.update(short + e for e in ("а", "у", "ом", "е"))
    return out


FIRST_NAMES = frozenset(_forms(_FIRST_NAMES))


def _is_namelike(word: str) -> bool:
    low = word.lower()
    if low in _NOT_NAMES or len(low) < 3:
        return False
    if low in FIRST_NAMES:
        return True
    if _PATRONYMIC.search(low):
        return True
    parts = low.split("-")
    return any(len(p) >= 4 and p not in _NOT_NAMES and _SURNAME.search(p) for p in parts)


def _name_spans(text: str) -> list[tuple[int, int]]:
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    cued = {m.end() for m in _CUE_AFTER.finditer(text)}
    hit = [False] * len(words)
    for i, (a, b) in enumerate(words):
        if _is_namelike(text[a:b]) or a in cued:
            hit[i] = True
    # a detected name takes its capitalised neighbours (Петрова Анна, Анна Сергеевна Петрова)
    changed = True
    while changed:
        changed = False
        for i in range(len(words)):
            if hit[i]:
                continue
            for j in (i - 1, i + 1):
                if 0 <= j < len(words) and hit[j]:
                    lo, hi = (words[j][1], words[i][0]) if j < i else (words[i][1], words[j][0])
                    if _GAP.match(text[lo:hi]) and text[words[i][0]:words[i][1]].lower() not in _NOT_NAMES:
                        hit[i] = changed = True
                        break
    spans = [words[i] for i in range(len(words)) if hit[i]]
    # initials next to a capitalised word: Петрова А.С., А. С. Петрова
    for m in _INITIALS.finditer(text):
        a, b = m.start(), m.end()
        if a > 0 and (text[a - 1].isalpha()):
            continue
        before = re.search(r"([А-ЯЁ][а-яё]+)[\s\u00a0]+$", text[:a])
        after = re.match(r"[\s\u00a0]*([А-ЯЁ][а-яё]+)", text[b:])
        if before or after:
            spans.append((a, b))
            if before:
                spans.append((before.start(1), before.end(1)))
            if after:
                spans.append((b + after.start(1), b + after.end(1)))
    return spans


def _merge(spans: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and (a <= out[-1][1] or _GAP.match(text[out[-1][1]:a])):
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def redact(text: str) -> str:
    """``text`` with e-mails, phone numbers and names replaced by ``***``."""
    if not text:
        return text
    spans: list[tuple[int, int]] = [(m.start(), m.end()) for m in _EMAIL.finditer(text)]
    for rx in _PHONES:
        spans += [(m.start(), m.end()) for m in rx.finditer(text)]
    spans += _name_spans(text)
    out, pos = [], 0
    for a, b in _merge(spans, text):
        out.append(text[pos:a])
        out.append(MASK)
        pos = b
    out.append(text[pos:])
    return "".join(out)


def public_description(description: str | None, private: bool) -> str:
    """What a public view shows of a description: nothing when private, else the redacted text."""
    if private or not description:
        return ""
    return redact(description)
