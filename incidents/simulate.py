"""Realistic reports for demos and load: weighted services, real buildings from the database,
Russian descriptions, and now and then a burst on a pipe followed by "no water" calls from the
buildings it feeds. What to send, drawn here; sending it at a rate is the live feed's
(``apps.demo.feed``, ``python -m incidents simulate``).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from incidents import repo
from incidents.errors import IncidentError

SERVICE_WEIGHTS: dict[str, float] = {
    "no_water": 18, "no_hot_water": 16, "low_pressure": 9, "no_heating": 12, "sewer": 8, "electricity": 6,
    "elevator": 9, "repair": 10, "roof_leak": 4, "broken_glass": 3, "other": 5,
}
CHANNEL_WEIGHTS: dict[str, float] = {"phone": 55, "app": 25, "portal": 15, "api": 5}

DESCRIPTIONS: dict[str, list[str]] = {
    "no_water": ["Нет холодной воды с утра", "В квартире нет воды, соседи тоже без воды",
                 "Из крана идёт только воздух", "Нет воды во всём подъезде"],
    "no_hot_water": ["Нет горячей воды второй день", "Горячая вода еле тёплая", "Пропала горячая вода"],
    "low_pressure": ["Очень слабый напор на верхних этажах", "Напор упал, стиральная машина не работает"],
    "no_heating": ["Батареи холодные, в квартире +16", "Не греет стояк в угловой комнате",
                   "Отопление не включили, дома холодно"],
    "sewer": ["Засор канализации, вода стоит в ванной", "Переполнен колодец во дворе, запах",
              "Топит подвал канализационными стоками"],
    "electricity": ["Нет света в подъезде", "Отключилось электричество в квартире и у соседей"],
    "elevator": ["Лифт не работает", "Лифт застрял между этажами, внутри никого", "Лифт не открывает двери"],
    "repair": ["Течёт стояк в туалете", "Капает с батареи", "Сорвало кран на стояке"],
    "roof_leak": ["Протекает крыша, мокрый потолок на последнем этаже", "После дождя течёт с потолка"],
    "broken_glass": ["Разбито окно на лестничной клетке", "Треснуло стекло в подъезде, дует"],
    "other": ["Не закрывается дверь в подъезд", "Не горит фонарь во дворе", "Сломан домофон"],
}
BURST_DESCRIPTIONS = ["Фонтан из-под асфальта", "Прорыв трубы, вода заливает улицу",
                      "Провал асфальта, течёт вода", "Датчик давления: резкое падение давления"]
NAMES = ["Иван Петров", "Мария Смирнова", "Ольга Кузнецова", "Алексей Соколов", "Наталья Попова", "Дмитрий Волков"]


@dataclass
class SimStats:
    sent: int = 0
    accepted: int = 0
    failed: int = 0
    bursts: int = 0
    elapsed_s: float = 0.0
    by_service: dict[str, int] = field(default_factory=dict)

    def count(self, service_code: str, ok: bool) -> None:
        """One report sent: accepted (``ok``) or not."""
        self.sent += 1
        self.accepted += ok
        self.failed += not ok
        if ok:
            self.by_service[service_code] = self.by_service.get(service_code, 0) + 1

    def __str__(self) -> str:
        rate = self.accepted / self.elapsed_s if self.elapsed_s else 0.0
        return (f"sent {self.sent}, accepted {self.accepted}, failed {self.failed}, bursts {self.bursts} "
                f"in {self.elapsed_s:.1f} s ({rate:.1f}/s); by service: {self.by_service}")


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def make_report(rng: random.Random, buildings: list[dict[str, Any]], code: str | None = None,
                building: dict[str, Any] | None = None) -> dict[str, Any]:
    """One report as create_incident keyword arguments (point jittered inside ~10 m)."""
    code = code or _pick(rng, SERVICE_WEIGHTS)
    b = building or rng.choice(buildings)
    return {
        "service_code": code, "lon": b["lon"] + rng.uniform(-0.0001, 0.0001),
        "lat": b["lat"] + rng.uniform(-0.00005, 0.00005), "address": b.get("address"),
        "description": rng.choice(DESCRIPTIONS[code]), "channel": _pick(rng, CHANNEL_WEIGHTS),
        "reporter_name": rng.choice(NAMES), "reporter_phone": f"+7 9{rng.randint(10, 99)} {rng.randint(100, 999)}-"
                                                               f"{rng.randint(10, 99)}-{rng.randint(10, 99)}",
    }


def _burst(rng: random.Random, pipes: list[dict[str, Any]], buildings_by_id: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    pipe = rng.choice(pipes)
    out = [{"service_code": "burst", "lon": pipe["lon"], "lat": pipe["lat"], "description": rng.choice(BURST_DESCRIPTIONS),
            "channel": rng.choice(["sensor", "phone"]), "reporter_name": None, "reporter_phone": None, "address": None}]
    fed = [buildings_by_id[b] for b in pipe["building_ids"] if b in buildings_by_id]
    for b in rng.sample(fed, min(len(fed), rng.randint(2, 5))):
        out.append(make_report(rng, [], "no_water", b))
    return out


@dataclass(frozen=True)
class FeedCity:
    """The buildings reports come from, and the pipes a burst may hit (with the buildings each feeds)."""

    buildings: list[dict[str, Any]]
    pipes: list[dict[str, Any]]
    buildings_by_id: dict[int, dict[str, Any]]


def feed_city(engine: Engine) -> FeedCity:
    """Up to 5000 buildings and 500 pipes of the database; ``IncidentError`` when it has no buildings."""
    with engine.connect() as conn:
        buildings = repo.random_buildings(conn, 5000)
        pipes = [p for p in repo.random_pipes_with_buildings(conn, 500) if p["building_ids"]]
    if not buildings:
        raise IncidentError("the database has no buildings: load the demo city first (python -m data load-demo)")
    return FeedCity(buildings, pipes, {b["id"]: b for b in buildings})


def next_reports(rng: random.Random, city: FeedCity, burst_probability: float) -> tuple[list[dict[str, Any]], bool]:
    """The next report, or (with ``burst_probability``) a burst and the calls it causes; and whether a burst."""
    if city.pipes and rng.random() < burst_probability:
        return _burst(rng, city.pipes, city.buildings_by_id), True
    return [make_report(rng, city.buildings)], False
