"""Forecast rules (YAML, ``forecast/rules/default.yaml``): material aliases, fallback break rates,
renewal unit costs. A region file names its parent in ``extends`` and repeats only what differs."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from forecast.errors import InvalidRules
from rules_yaml import read_rules_yaml

__all__ = ["DEFAULT_RULES", "CostBand", "ForecastRules", "RenewalRules", "load_rules", "default_rules",
           "normalise_material"]

DEFAULT_RULES = Path(__file__).resolve().parent / "rules" / "default.yaml"


class CostBand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_mm: float | None = Field(default=None, gt=0)
    cost: float = Field(ge=0)


class RenewalRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    currency: str = ""
    cost_per_m: list[CostBand] = Field(min_length=1)
    material_factor: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _bands(self) -> RenewalRules:
        bounds = [b.max_mm for b in self.cost_per_m]
        if bounds[-1] is not None:
            raise ValueError("the last cost_per_m band must have max_mm: null (no upper bound)")
        inner = bounds[:-1]
        if any(b is None for b in inner) or inner != sorted(inner) or len(set(inner)) != len(inner):
            raise ValueError("cost_per_m bands must have increasing max_mm, only the last one null")
        if any(f <= 0 for f in self.material_factor.values()):
            raise ValueError("material_factor values must be > 0")
        return self


class ForecastRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    region: str = ""
    materials: dict[str, list[str]]
    base_rate_per_km_year: dict[str, float]
    min_breaks_for_model: int = Field(default=30, ge=1)
    prior_shape: float = Field(default=1.0, gt=0)
    renewal: RenewalRules

    @model_validator(mode="after")
    def _consistent(self) -> ForecastRules:
        if "other" not in self.materials:
            raise ValueError("materials must include the level 'other'")
        missing = sorted(set(self.materials) - set(self.base_rate_per_km_year))
        if missing:
            raise ValueError(f"base_rate_per_km_year lacks materials {missing}")
        if any(r <= 0 for r in self.base_rate_per_km_year.values()):
            raise ValueError("base_rate_per_km_year values must be > 0")
        seen: dict[str, str] = {}
        for level, aliases in self.materials.items():
            for alias in [level, *aliases]:
                key = _key(alias)
                if seen.setdefault(key, level) != level:
                    raise ValueError(f"material spelling {alias!r} is listed under {seen[key]!r} and {level!r}")
        return self

    @property
    def alias_map(self) -> dict[str, str]:
        return _alias_map(self)


def _key(name: str) -> str:
    return re.sub(r"[\s_\-./]+", "", str(name).strip().lower())


_ALIASES: dict[int, dict[str, str]] = {}


def _alias_map(rules: ForecastRules) -> dict[str, str]:
    cached = _ALIASES.get(id(rules))
    if cached is None:
        cached = {}
        for level, aliases in rules.materials.items():
            for alias in [level, *aliases]:
                cached[_key(alias)] = level
        _ALIASES[id(rules)] = cached
    return cached


def normalise_material(names: list[str], rules: ForecastRules) -> list[str]:
    """Canonical material level of each spelling ("other" for anything unknown or empty)."""
    amap = rules.alias_map
    return [amap.get(_key(n), "other") for n in names]


def _read_raw(path: Path) -> dict[str, Any]:
    return read_rules_yaml(path, what="forecast rules file", error=InvalidRules)


def load_rules(path: str | Path | None = None) -> ForecastRules:
    """Read and validate a rules file (following ``extends``); the default file when ``path`` is None."""
    path = Path(path) if path is not None else DEFAULT_RULES
    raw = _read_raw(path)
    try:
        return ForecastRules.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise InvalidRules(f"{path}: {problems}") from None


@lru_cache(maxsize=1)
def default_rules() -> ForecastRules:
    return load_rules(DEFAULT_RULES)
