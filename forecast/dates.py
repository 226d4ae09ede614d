"""Decimal years (2024.5 = mid-2024): the time axis of the forecast. Pure numpy."""
from __future__ import annotations

import numpy as np

__all__ = ["decimal_years", "dates_of_decimal_years"]


def decimal_years(dates: np.ndarray) -> np.ndarray:
    """``datetime64[D]`` array -> float years: year + (day of year - 1) / days in that year."""
    d = np.asarray(dates, dtype="datetime64[D]")
    y = d.astype("datetime64[Y]")
    start = y.astype("datetime64[D]")
    length = ((y + 1).astype("datetime64[D]") - start).astype("int64")
    return y.astype("int64") + 1970 + (d - start).astype("int64") / length


def dates_of_decimal_years(t: np.ndarray) -> np.ndarray:
    """Inverse of :func:`decimal_years` (day resolution, rounding down)."""
    t = np.asarray(t, dtype=float)
    year = np.floor(t).astype("int64")
    y = (year - 1970).astype("datetime64[Y]")
    start = y.astype("datetime64[D]")
    length = ((y + 1).astype("datetime64[D]") - start).astype("int64")
    doy = np.minimum(np.floor((t - year) * length).astype("int64"), length - 1)
    return start + doy.astype("timedelta64[D]")
