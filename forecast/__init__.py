"""Forecasting pipe breaks: a recurrent-event survival model per pipe (docs/forecast.md)."""

from forecast.errors import ForecastError, InputFileError, InvalidRules
from forecast.model import score
from forecast.renewal import renewal_plan
from forecast.rules import load_rules

__all__ = ["ForecastError", "InputFileError", "InvalidRules", "load_rules", "renewal_plan", "score"]
