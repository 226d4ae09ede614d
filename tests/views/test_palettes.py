"""No colour means two things on one map: every pair of classes a map's legend lists (the legend lists
every class the map draws) is told apart by eye — CIE76 ΔE of at least MIN_DELTA_E."""
from __future__ import annotations

import itertools

import pytest

MIN_DELTA_E = 12.0   # ~ "clearly different" side by side; a just noticeable difference is ~2.3


def lab(hex_color: str) -> tuple[float, float, float]:
    """sRGB hex → CIE L*a*b* (D65)."""
    h = hex_color.lstrip("#")
    rgb = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def delta_e(a: str, b: str) -> float:
    return sum((p - q) ** 2 for p, q in zip(lab(a), lab(b))) ** 0.5


def map_legends() -> dict[str, list[tuple[str, str, str]]]:
    from views import control_room, plan_map
    from views.common import t
    from views.map_parts import FOUND, legend_items

    found = [("fill", FOUND, t("map.found"))]
    return {
        "city map by diameter": legend_items("diameter") + found,
        "city map by age": legend_items("age") + found,
        "city map by risk": legend_items("risk") + found,
        "shutoff plan": plan_map.legend_entries(),
        # a stuck valve's preview: what the grown plan adds, in its own colours (issue 21)
        "grown shutoff plan": plan_map.legend_entries(plan_map.PlanShape(
            isolated=[], unintended=[], valves=[], optional=[], buildings=[], geoms={},
            new_valves=frozenset({"1"}), new_buildings=frozenset({1}))),
        "wall screen": control_room.legend_entries(),
    }


@pytest.mark.parametrize("name", list(map_legends()))
def test_every_class_on_a_map_has_a_colour_of_its_own(name: str) -> None:
    entries = [e for e in map_legends()[name] if e[0] != "note"]
    labels = [label for _, _, label in entries]
    assert len(set(labels)) == len(labels), f"{name}: a class listed twice"
    too_close = [(round(delta_e(a[1], b[1]), 1), a[2], b[2]) for a, b in itertools.combinations(entries, 2)
                 if delta_e(a[1], b[1]) < MIN_DELTA_E]
    assert too_close == [], f"{name}: colours too alike for two meanings: {too_close}"


def test_the_check_itself_tells_near_colours_apart() -> None:
    assert delta_e("#d7191c", "#d73027") < MIN_DELTA_E      # the old emergency red and stuck-valve red
    assert delta_e("#1a9850", "#111111") > MIN_DELTA_E
    assert delta_e("#ffffff", "#000000") == pytest.approx(100, abs=0.5)
