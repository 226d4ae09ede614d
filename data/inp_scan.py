"""A pre-scan of an EPANET ``.inp`` file's raw sections, before WNTR reads it.

WNTR reads a second ``[PIPES]`` line of the same id over the first, or stops with an error that
names neither the id nor the line; and it places a node missing from ``[COORDINATES]`` at
(0, 0) without a word. ``scan_inp`` reads the section lines itself (ids are the first token;
``;`` starts a comment) and returns every such problem, each naming the file, the section, the
line and the id.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from data.errors import DataError

NODE_SECTIONS = ("JUNCTIONS", "RESERVOIRS", "TANKS")
LINK_SECTIONS = ("PIPES", "PUMPS", "VALVES")
SHOWN = 5  # ids named in a message about many


@dataclass
class InpSections:
    """Ids of the sections that matter, each with its line number, in file order."""

    ids: dict[str, list[tuple[str, int]]] = field(default_factory=lambda: defaultdict(list))
    seen: set[str] = field(default_factory=set)  # every section header met (upper case)


def read_sections(text: str) -> InpSections:
    """The first token of every data line of the node, link and ``[COORDINATES]`` sections."""
    wanted = set(NODE_SECTIONS) | set(LINK_SECTIONS) | {"COORDINATES"}
    out = InpSections()
    section: str | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            section = line.strip("[] \t").upper()
            out.seen.add(section)
            continue
        if section in wanted:
            out.ids[section].append((line.split()[0], lineno))
    return out


def _sample(ids: list[str]) -> str:
    shown = ", ".join(ids[:SHOWN])
    return shown + (", …" if len(ids) > SHOWN else "")


def scan_inp(path: Path) -> list[str]:
    """Problems of ``path`` that WNTR would hide: duplicate node or link ids (across the node
    sections, across the link sections), nodes without coordinates. A DataError for an empty
    file or one without any node."""
    if not path.exists():
        raise DataError(f"{path}: no such file")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path.name}: the file is empty ({len(raw)} bytes)")
    sections = read_sections(raw.decode("utf-8", errors="replace"))
    name = path.name
    problems: list[str] = []
    nodes: dict[str, tuple[str, int]] = {}
    for group, label in ((NODE_SECTIONS, "node"), (LINK_SECTIONS, "link")):
        first: dict[str, tuple[str, int]] = {}
        for section in group:
            for ext_id, lineno in sections.ids.get(section, []):
                if ext_id in first:
                    s0, l0 = first[ext_id]
                    problems.append(f"{name}, [{section}] line {lineno}: duplicate {label} id {ext_id!r} "
                                    f"(first at [{s0}] line {l0})")
                else:
                    first[ext_id] = (section, lineno)
        if label == "node":
            nodes = first
    if not nodes:
        raise DataError(f"{name}: no nodes ([JUNCTIONS], [RESERVOIRS] or [TANKS]); not an EPANET network")
    coords: dict[str, int] = {}
    for ext_id, lineno in sections.ids.get("COORDINATES", []):
        if ext_id in coords:
            problems.append(f"{name}, [COORDINATES] line {lineno}: node {ext_id!r} is given twice "
                            f"(first at line {coords[ext_id]})")
        else:
            coords[ext_id] = lineno
    if "COORDINATES" not in sections.seen or not coords:
        problems.append(f"{name}: no [COORDINATES] section: none of the {len(nodes)} nodes can be placed "
                        "on the map")
    else:
        missing = [n for n in nodes if n not in coords]
        if missing:
            problems.append(f"{name}: {len(missing)} of {len(nodes)} nodes have no line in [COORDINATES] "
                            f"({_sample(missing)})")
    return problems
