"""Is the data where its CRS says it can be? A check against the CRS's area of use.

Coordinates labelled with the wrong CRS transform without complaint: lon/lat read as
EPSG:3067 metres land near the equator, Net1's drawing units in EPSG:3067 likewise. Every CRS
in the EPSG registry states where it is meant to be used (``pyproj.CRS.area_of_use``, in
lon/lat). The data's bounds, transformed to lon/lat, must lie within that area, widened by
``MARGIN_DEG`` (a municipality may use a zone a little beyond its nominal edge). A CRS without
an area of use (a custom PROJ string) is only checked for coordinates that cannot be
transformed at all.
"""
from __future__ import annotations

import math

from pyproj import CRS, Geod, Transformer
from pyproj.exceptions import ProjError

MARGIN_DEG = 1.0  # about 55–110 km: a zone used a little beyond its edge passes, a wrong CRS does not
# the widest a water network's model can be (a city with its suburbs is 50–100 km): a model wider than this
# is in other units than its CRS says (Net1's drawing units 10…90 read as degrees span 9,000 km), even in a
# CRS whose area of use is the whole Earth (EPSG:4326)
MAX_NETWORK_SPAN_KM = 300.0

Bounds = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax


def crs_label(crs: CRS) -> str:
    """``EPSG:3067 (ETRS89 / TM35FIN(E,N))`` or the CRS's name when it has no EPSG code."""
    code = crs.to_epsg()
    return f"EPSG:{code} ({crs.name})" if code else crs.name


def lonlat_bounds(crs: CRS, bounds: Bounds) -> Bounds | None:
    """``bounds`` (in ``crs``) as lon/lat bounds; None when they cannot be transformed."""
    if not all(math.isfinite(v) for v in bounds):
        return None
    try:
        out = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform_bounds(*bounds, densify_pts=21)
    except ProjError:
        return None
    return out if all(math.isfinite(v) for v in out) else None


def _fmt(lo: float, hi: float) -> str:
    return f"{lo:.6g}…{hi:.6g}"


def area_problem(crs: CRS, bounds: Bounds, where: str) -> str | None:
    """A problem naming ``where``, the CRS and the bounds found when ``bounds`` (in ``crs``) lie
    outside the CRS's area of use (plus ``MARGIN_DEG``); None if they fit."""
    xmin, ymin, xmax, ymax = bounds
    found = f"x {_fmt(xmin, xmax)}, y {_fmt(ymin, ymax)}"
    ll = lonlat_bounds(crs, bounds)
    if ll is None:
        return (f"{where}: coordinates ({found}) cannot be placed on the Earth in {crs_label(crs)}; "
                "is the CRS right?")
    area = crs.area_of_use
    if area is None:
        return None
    lon0, lat0, lon1, lat1 = ll
    m = MARGIN_DEG
    lat_ok = area.south - m <= lat0 and lat1 <= area.north + m
    if area.west <= area.east:
        lon_ok = area.west - m <= lon0 and lon1 <= area.east + m
    else:  # the area crosses the antimeridian
        lon_ok = all(lon >= area.west - m or lon <= area.east + m for lon in (lon0, lon1))
    if lat_ok and lon_ok:
        return None
    in_lonlat = "" if crs.is_geographic else f" = lon {_fmt(lon0, lon1)}, lat {_fmt(lat0, lat1)}"
    return (f"{where}: coordinates ({found}{in_lonlat}) lie outside the area of use of {crs_label(crs)} "
            f"(lon {area.west:g}…{area.east:g}, lat {area.south:g}…{area.north:g}); is the CRS right?")


def span_problem(crs: CRS, bounds: Bounds, where: str, max_km: float = MAX_NETWORK_SPAN_KM) -> str | None:
    """A problem when a network's ``bounds`` (in ``crs``) span more than ``max_km`` on the ground (its
    coordinates are in other units than ``crs``, e.g. drawing units read as degrees); None if they fit
    or cannot be transformed (``area_problem`` says so)."""

    ll = lonlat_bounds(crs, bounds)
    if ll is None:
        return None
    lon0, lat0, lon1, lat1 = ll
    _, _, metres = Geod(ellps="WGS84").inv(lon0, lat0, lon1, lat1)
    km = float(metres) / 1000.0
    if km <= max_km:
        return None
    xmin, ymin, xmax, ymax = bounds
    in_lonlat = "" if crs.is_geographic else f" = lon {_fmt(lon0, lon1)}, lat {_fmt(lat0, lat1)}"
    return (f"{where}: coordinates (x {_fmt(xmin, xmax)}, y {_fmt(ymin, ymax)}{in_lonlat}) span {km:,.0f} km in "
            f"{crs_label(crs)}, more than a water network can (at most {max_km:,.0f} km): drawing units? "
            "is the CRS right?")
