"""Texts whose keys the code builds at run time (``t(f"incident.status.{s}")``), which extraction
cannot read from the calls: each family is listed here with the vocabulary its keys come from.

A *closed* family names that vocabulary (every status of ``incidents.workflow.STATUSES`` has
``incident.status.<s>``): the extraction (``babel.cfg``, ``i18n.extract``) adds every member to the
template, so a new status without a text fails ``tests/i18n``. An *open* family has no vocabulary in
the code (the words a page lists for itself, the fields of the identify panel): its members are the
msgids the Russian catalog holds under the prefix, kept as they are.

A vocabulary is named as ``"module:NAME"`` and read only when the extraction asks: this module is
part of the domain and imports nothing above it, so the pages' and the application layer's
vocabularies (``views.map_parts:ALL_LAYERS``, ``ops.errors:MESSAGE_KEYS``) are named, not imported.

``COUNTED``: the members of these families that are plural entries, with the parameter that holds
their count (``views/errors.py`` passes it to ``tn``).
"""
from __future__ import annotations

import importlib
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from auth.permissions import PERMISSIONS
from incidents.sla import SlaState, load_rules
from settings import ROOT


@dataclass(frozen=True)
class Family:
    prefix: str                                   # a member's msgid is prefix + "." + word
    source: str                                   # where the words come from, in words
    words: Callable[[], Iterable[str]] | None     # None: an open family


def _attr(path: str) -> Callable[[], Iterable[str]]:
    """The words of ``module:NAME`` (a tuple, or the keys of a dict), imported when asked for."""
    module, name = path.split(":")

    def words() -> Iterable[str]:
        return tuple(getattr(importlib.import_module(module), name))

    return words


def _closed(prefix: str, path: str) -> Family:
    return Family(prefix, path.replace(":", "."), _attr(path))


def _open(prefix: str, source: str) -> Family:
    return Family(prefix, source, None)


def _permissions() -> Iterable[str]:
    return (*PERMISSIONS, "notes.edit_others")


def _sla_states() -> Iterable[str]:
    return typing.get_args(SlaState)


def _services() -> Iterable[str]:
    return tuple(load_rules(ROOT / "incidents" / "rules" / "default.yaml").services)


FAMILIES: tuple[Family, ...] = (
    # incidents: the vocabulary of a report (views/formatting.py label())
    _closed("incident.status", "incidents.workflow:STATUSES"),
    _closed("incident.category", "incidents.sla:CATEGORIES"),
    _closed("incident.priority", "incidents.sla:PRIORITIES"),
    _closed("incident.resource", "incidents.sla:RESOURCES"),
    _closed("incident.channel", "incidents.intake:CHANNELS"),
    Family("incident.sla", "incidents.sla.SlaState", _sla_states),
    Family("incident.service", "the services of incidents/rules/default.yaml (other rules files fall back "
                               "to the rule's name)", _services),
    _closed("intake.problem", "incidents.intake:PROBLEM_CODES"),
    _closed("api.status_note", "incidents.workflow:STATUSES"),  # the Open311 status_notes (apps/http/open311)
    _open("intake.field", "the fields the intake model names in its problems"),
    # people, rights, errors
    _closed("role", "auth.permissions:ROLES"),
    Family("perm", "auth.permissions.PERMISSIONS, and notes.edit_others (ops/incidents.py: nobody edits another "
                   "person's note)", _permissions),
    Family("error", "the message keys of ops.errors.ERRORS, and 'internal'", _attr("ops.errors:MESSAGE_KEYS")),
    _open("error.user", "the problem codes of auth.service and auth.passwords"),
    _closed("error.db", "gis.errors:DB_PROBLEMS"),  # why the database cannot be used (views/errors.py)
    _closed("audit.action", "ops.audit_log:TRAIL_ACTIONS"),
    _closed("audit.object", "ops.audit_log:OBJECT_TYPES"),
    _open("audit.d.failed", "views/audit_details.py FAIL_REASONS"),
    # outages
    _closed("outage.state", "incidents.outages:STATES"),
    _closed("outage.kind", "incidents.outages:KINDS"),
    _open("history.outage", "the outage notes views/formatting.py history_note() recognises"),
    _open("history.system", "the notes code writes itself (i18n.system_note), shown by history_note()"),
    # the map and the network
    _closed("map.layer", "views.map_parts:ALL_LAYERS"),
    _closed("legend.kind", "gis.layers:BUILDING_COLORS"),
    _closed("legend.valve", "gis.layers:VALVE_COLORS"),
    _closed("legend.priority", "gis.layers:PRIORITY_COLORS"),
    _open("legend.age", "the age classes of views/map_parts.py legend_items()"),
    _open("map.color_by", "the colourings of views/city_map.py"),
    _open("risk.material", "the material levels of views/risk_panel.py MATERIALS (forecast rules)"),
    _open("risk.by", "the renewal budget kinds of views/risk_panel.py"),
    _open("field", "feature attributes (identify panel, tooltips: views/common.py labels())"),
    _open("layer", "the layers maps.identify() answers with"),
    _open("vocab.valve", "valve kinds of the network data"),
    _open("vocab.node", "node kinds of the network data"),
    _open("vocab.pipe", "link kinds of the network data"),
    _open("vocab.source", "where a building's address comes from"),
    _open("vocab.material", "pipe materials of the network data"),
    _closed("data.kind", "data.diff:KINDS"),
    _closed("data.stage", "data.store:STAGES"),
    _open("data.relink", "what a relinked report is linked to (views/data.py)"),
    # pages' own lists
    _open("control.kpi", "the tiles of views/control_room.py"),
    _open("control.col", "the queue columns of views/control_room.py"),
    _open("plan.metric", "the metrics of views/plan_map.py"),
    _open("intake.where", "the two ways to give a place (views/intake.py)"),
    # organisations' webhooks (views/webhooks.py)
    _closed("webhooks.type", "orgs.payload:TYPES"),
    _closed("webhooks.state", "orgs.webhooks:STATES"),
    _closed("webhooks.err", "orgs.sender:ERROR_KINDS"),
    # the water balance page (views/water_balance.py)
    _closed("balance.verdict", "dma.balance:VERDICTS"),
    _closed("balance.alarm", "dma.balance:ALARM_STATES"),
)

COUNTED: dict[str, str] = {
    "intake.problem.too_long": "length",
    "intake.problem.repeated": "count",
    "error.user.name_long": "n",
    "error.user.password_short": "n",
    "error.user.password_long": "n",
}


def members(family: Family, catalog_ids: Iterable[str]) -> list[str]:
    """The msgids of ``family``: its vocabulary's, or (open) those of ``catalog_ids`` under its prefix."""
    if family.words is None:
        return sorted(k for k in catalog_ids if k.startswith(family.prefix + "."))
    return [f"{family.prefix}.{w}" for w in family.words()]
