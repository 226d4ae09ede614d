"""The ГИС ЖКХ НСИ registries the outage export needs: 361 «Вид перерыва в предоставлении коммунальных
услуг» (``OutageKind``) and 360 «Причины перерывов в предоставлении коммунальных услуг»
(``OutageReason``), read from a file the operator provides (the registry's export, as JSON).

Format (docs/billing.md)::

    {"demo": false,                      # true only for the shipped demo excerpt
     "source": "exportNsiItem 2026-11-30",   # free text, optional (also "note")
     "registries": {
       "361": {"name": "...", "elements": [{"code": "1", "guid": "…", "name": "Плановый", "actual": true}]},
       "360": {"name": "...", "elements": [{"code": "3", "guid": "…", "name": "Иная",
                                             "outage_kind": "1", "actual": true}]}}}

``code`` follows the schema's ``nsiCodeType`` (``(A?\\d{1,4}\\.?)+``, at most 20 characters), ``guid`` its
``GUIDType``, ``name`` 1..1200 characters; a reason's ``outage_kind`` is the 361 code of the kind it
belongs to (the registry's attribute «Вид перерыва»). Elements with ``"actual": false`` are kept out.
The export needs 361 code 1 «Плановый» (the only kind the service accepts, per the schema) and a
planned 360 code 3 «Иная» (for reasons kept as free text). Anything else is refused with one line
naming the file and the element (``InvalidNsi``).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from billing.errors import BillingError

__all__ = ["DEMO_NSI_FILE", "InvalidNsi", "Nsi", "NsiEntry", "KIND_PLANNED", "REASON_OTHER", "load_nsi"]

DEMO_NSI_FILE = Path(__file__).resolve().parent / "rules" / "gis_nsi_demo.json"
KIND_PLANNED = "1"     # НСИ 361: «Плановый»
REASON_OTHER = "3"     # НСИ 360: «Иная» (OutageReasonText required)
_CODE = re.compile(r"(A?\d{1,4}\.?)+")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class InvalidNsi(BillingError):
    """An НСИ file that cannot be read or is not the expected registry export."""


@dataclass(frozen=True)
class NsiEntry:
    registry: str
    code: str
    guid: str
    name: str
    outage_kind: str | None = None


@dataclass(frozen=True)
class Nsi:
    """The loaded registries; ``demo`` when the file is the demo excerpt (its GUIDs are not the registry's)."""

    path: str
    demo: bool
    kinds: dict[str, NsiEntry]      # 361 by code
    reasons: dict[str, NsiEntry]    # 360 by code

    @property
    def planned(self) -> NsiEntry:
        return self.kinds[KIND_PLANNED]

    @property
    def other_reason(self) -> NsiEntry:
        return self.reasons[REASON_OTHER]

    def reason_named(self, text: str) -> NsiEntry | None:
        """The planned 360 reason (not «Иная») whose name is ``text`` (case and spaces ignored)."""
        key = " ".join(text.split()).casefold()
        for e in self.reasons.values():
            if e.code != REASON_OTHER and e.outage_kind == KIND_PLANNED and " ".join(e.name.split()).casefold() == key:
                return e
        return None


def _entries(path: Path, registries: dict, number: str) -> dict[str, NsiEntry]:
    reg = registries.get(number)
    if not isinstance(reg, dict) or not isinstance(reg.get("elements"), list):
        raise InvalidNsi(f"{path}: registries.{number}.elements must be a list (НСИ {number})")
    out: dict[str, NsiEntry] = {}
    for i, el in enumerate(reg["elements"]):
        where = f"{path}: НСИ {number} element [{i}]"
        if not isinstance(el, dict):
            raise InvalidNsi(f"{where} is not an object")
        code, guid, name = el.get("code"), el.get("guid"), el.get("name")
        if isinstance(code, int) and not isinstance(code, bool):
            code = str(code)
        if not isinstance(code, str) or len(code) > 20 or not _CODE.fullmatch(code):
            raise InvalidNsi(f"{where}: code {code!r} is not an НСИ code (digits, e.g. \"1\" or \"1.2\")")
        if not isinstance(guid, str) or not _GUID.fullmatch(guid):
            raise InvalidNsi(f"{where} (code {code}): guid {guid!r} is not a GUID")
        if not isinstance(name, str) or not name.strip() or len(name) > 1200:
            raise InvalidNsi(f"{where} (code {code}): name must be 1..1200 characters")
        actual = el.get("actual", True)
        if not isinstance(actual, bool):
            raise InvalidNsi(f"{where} (code {code}): actual must be true or false")
        kind = el.get("outage_kind")
        if number == "360":
            if isinstance(kind, int) and not isinstance(kind, bool):
                kind = str(kind)
            if not isinstance(kind, str) or not _CODE.fullmatch(kind):
                raise InvalidNsi(f"{where} (code {code}): outage_kind must be the НСИ 361 code of its kind")
        if code in out:
            raise InvalidNsi(f"{where}: code {code} appears twice")
        if actual:
            out[code] = NsiEntry(number, code, guid.lower(), " ".join(name.split()), kind if number == "360" else None)
    return out


def load_nsi(path: str | Path) -> Nsi:
    """Read and check an НСИ file; ``InvalidNsi`` with one line naming the file otherwise."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidNsi(f"НСИ file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidNsi(f"cannot read НСИ file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except json.JSONDecodeError as exc:
        raise InvalidNsi(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("registries"), dict):
        raise InvalidNsi(f"{path}: expected an object with \"registries\" (НСИ 360 and 361)")
    demo = raw.get("demo", False)
    if not isinstance(demo, bool):
        raise InvalidNsi(f"{path}: demo must be true or false")
    kinds = _entries(path, raw["registries"], "361")
    reasons = _entries(path, raw["registries"], "360")
    if KIND_PLANNED not in kinds:
        raise InvalidNsi(f"{path}: НСИ 361 has no actual element with code {KIND_PLANNED} «Плановый», the only kind "
                         "the service accepts")
    other = reasons.get(REASON_OTHER)
    if other is None or other.outage_kind != KIND_PLANNED:
        raise InvalidNsi(f"{path}: НСИ 360 has no actual element with code {REASON_OTHER} «Иная» of the planned kind "
                         f"(outage_kind {KIND_PLANNED})")
    for e in reasons.values():
        if e.outage_kind not in kinds:
            raise InvalidNsi(f"{path}: НСИ 360 code {e.code}: outage_kind {e.outage_kind} is not an НСИ 361 code")
    return Nsi(str(path), demo, kinds, reasons)
