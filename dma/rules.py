"""The balance and night-flow rules (``dma/rules/default.yaml``; a region's own file through the
setting ``dma_rules_file`` / env ``ZHKH_DMA_RULES_FILE``)."""
from __future__ import annotations

from datetime import time
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dma.errors import InvalidRules
from incidents.service import rules_from_settings as sla_rules
from rules_yaml import cached_by_mtime
from settings import get_settings

DEFAULT_FILE = Path(__file__).resolve().parent / "rules" / "default.yaml"


class DmaRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    night_start: time = time(2, 0)
    night_end: time = time(4, 0)
    baseline_nights: int = Field(14, ge=1, le=365)
    min_history_nights: int = Field(5, ge=1, le=365)
    rise_pct: float = Field(30.0, ge=0)
    rise_abs_m3h: float = Field(0.5, ge=0)
    clear_after_nights: int = Field(3, ge=1, le=365)
    max_gap_h: float = Field(6.0, gt=0)

    @model_validator(mode="after")
    def _window(self) -> DmaRules:
        if self.night_end <= self.night_start:
            raise ValueError("night_end must be after night_start (the window lies within one night)")
        if self.min_history_nights > self.baseline_nights:
            raise ValueError("min_history_nights must not exceed baseline_nights")
        return self


def load_rules(path: str | Path) -> DmaRules:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise InvalidRules(f"cannot read DMA rules {p}: {str(e).splitlines()[0]}") from e
    if not isinstance(data, dict):
        raise InvalidRules(f"DMA rules {p}: expected a mapping at the top level")
    try:
        return DmaRules(**data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "rules"
        raise InvalidRules(f"DMA rules {p}: {where}: {first['msg']}") from e


_cached = cached_by_mtime(load_rules)


def rules_from_settings() -> DmaRules:
    path = Path(getattr(get_settings(), "dma_rules_file", DEFAULT_FILE))
    return _cached(path)


def region_timezone() -> str:
    """The region's time zone (the service rules' ``timezone``: Europe/Helsinki for the demo city)."""
    return sla_rules().timezone
