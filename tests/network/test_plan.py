"""The dispatcher's shutoff plan: crew order, affected buildings (critical first, unintended marked), exports."""
from __future__ import annotations

from network.plan import crew_order, plan_shutoff
from tests.network.nets import net

# S - P1 - J1 - P2 - J2 - P3 - J3 ; branch J2 - P4 - J4 (valve V4 on P4 at J2)
# valves: V1 on P2 at J1, V2 on P2 at J2 -> P2 is its own segment; V3 on P3 at J2
VALVES = "V1:P2@J1 V2:P2@J2 V3:P3@J2 V4:P4@J2"
NET = net("P1:S-J1 P2:J1-J2 P3:J2-J3 P4:J2-J4", VALVES, sources="S J3")  # fed from both ends
ONE_SOURCE = net("P1:S-J1 P2:J1-J2 P3:J2-J3 P4:J2-J4", VALVES)
VALVE_XY = {"V1": (24.940, 60.170), "V2": (24.950, 60.170), "V3": (24.951, 60.170), "V4": (24.950, 60.171)}
BUILDINGS = {
    "P2": [{"id": 1, "address": "A 1", "kind": "residential", "residents": 50}],
    "P3": [{"id": 2, "address": "B 2", "kind": "school", "residents": 0},
           {"id": 3, "address": "B 3", "kind": "residential", "residents": 90}],
}


def lookups():
    return dict(
        valve_lookup=lambda ids: {v: {"id": v, "ext_id": f"ext-{v}", "lon": VALVE_XY[v][0], "lat": VALVE_XY[v][1],
                                      "street": "S"} for v in ids},
        pipe_lookup=lambda ids: {p: {"lon": 24.9449, "lat": 60.170} for p in ids},
        affected_lookup=lambda ids: [b for p in ids for b in BUILDINGS.get(p, [])],
    )


def test_plan_numbers_valves_nearest_first_from_the_break() -> None:
    plan = plan_shutoff(NET, "P2", **lookups())
    assert plan.result.valves_to_close == ["V1", "V2"]
    assert [v["id"] for v in plan.valves_to_close] == ["V1", "V2"]  # V1 is nearer the break's midpoint
    assert [v["order"] for v in plan.valves_to_close] == [1, 2]
    assert plan.counts["buildings"] == 1 and plan.counts["residents"] == 50


def test_stuck_valve_expands_the_shutoff_and_marks_unintended_customers() -> None:
    plan = plan_shutoff(NET, "P2", extra_inoperable=["V2"], **lookups())
    # V2 stuck: node J2 joins the break area; V3 (towards the source J3) must close,
    # V4 faces a dead end that is dry anyway, so it is optional.
    assert plan.result.valves_to_close == ["V1", "V3"]
    assert plan.result.optional_valves == ["V4"]
    assert plan.result.isolated_nodes == ["J2"]
    assert plan.extra_inoperable == ["V2"]


def test_dry_branch_customers_are_unintended_and_critical_first() -> None:
    # break on P1 next to the source: everything downstream goes dry
    plan = plan_shutoff(ONE_SOURCE, "P1", **lookups())
    kinds = [b["kind"] for b in plan.affected]
    assert kinds[0] == "school"
    assert all(b["unintended"] for b in plan.affected if b["id"] in (2, 3))
    assert plan.counts["critical"] == 1


def test_exports_carry_every_valve_and_pipe() -> None:
    from views.exports import geojson
    from views.plan_map import crew_rows, of_plan

    plan = plan_shutoff(NET, "P2", **lookups())
    shape = of_plan(plan, {"P2": {"type": "LineString", "coordinates": [[24.94, 60.17], [24.95, 60.17]]}})
    rows = crew_rows(shape)
    assert [r["action"] for r in rows] == ["close", "close"]
    gj = geojson(shape)
    roles = sorted(f["properties"]["role"] for f in gj["features"])
    assert roles == ["close", "close", "isolated"]


def test_crew_order_handles_missing_coordinates() -> None:
    out = crew_order([{"id": "a", "lon": None, "lat": None}, {"id": "b", "lon": 1.0, "lat": 1.0}], None)
    assert [v["id"] for v in out] == ["b", "a"] and [v["order"] for v in out] == [1, 2]
