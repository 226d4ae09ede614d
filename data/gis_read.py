"""Reading a utility's GIS file (GeoPackage, GeoJSON, Shapefile) into labelled layers.

Each layer comes back with its kind (pipes | valves | buildings | nodes), its CRS (the file's,
or ``--crs`` when the file has none), its attributes renamed to the store's vocabulary (see
``ALIASES``) and a ``_where`` column naming the file, layer and feature for every message.
Nothing here checks values; :mod:`data.validate` does.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.raw
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.errors import GEOSException

from data.archive import MAX_LAYERS, check_zip
from data.errors import DataError, FileTooComplex

GIS_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".zip")  # .zip: a zipped Shapefile
KINDS = ("pipes", "valves", "buildings", "nodes")
MAX_VERTICES = 100_000  # per feature: a pipe or a building outline never needs more
_MAX_WKB_BYTES = MAX_VERTICES * 32 + 4096  # a larger WKB has more vertices even in XYZM: refused unparsed

# layer-name words that reveal a layer's kind (checked in this order)
KIND_WORDS: dict[str, tuple[str, ...]] = {
    "valves": ("valve", "venttiili", "zadvizh", "задвиж"),
    "nodes": ("node", "junction", "solmu"),
    "buildings": ("build", "house", "rakennus", "здани"),
    "pipes": ("pipe", "main", "line", "putki", "johto", "труб"),
}
GEOM_KIND = {"LineString": "pipes", "MultiLineString": "pipes", "Point": "valves", "MultiPoint": "valves",
             "Polygon": "buildings", "MultiPolygon": "buildings"}

# store column <- accepted source column names (case-insensitive), per layer kind
_ID = ("ext_id", "id", "gid", "code", "tunnus")
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "pipes": {
        "ext_id": _ID + ("pipe_id",),
        "diameter_mm": ("diameter_mm", "diameter", "dn", "dia", "diam"),
        "material": ("material", "mat"),
        "install_year": ("install_year", "year", "installed", "year_built"),
        "street": ("street", "addr:street"),
    },
    "valves": {
        "ext_id": _ID + ("valve_id",),
        "status": ("status", "state"),
        "kind": ("kind", "type", "valve_type"),
        "diameter_mm": ("diameter_mm", "diameter", "dn", "dia", "diam"),
    },
    "nodes": {
        "ext_id": _ID + ("node_id",),
        "kind": ("kind", "type"),
        "elevation_m": ("elevation_m", "elevation", "elev", "z"),
    },
    "buildings": {
        "ext_id": _ID + ("building_id",),
        "address": ("address", "addr", "full_address"),
        "street": ("street", "addr:street"),
        "housenumber": ("housenumber", "house_number", "addr:housenumber", "number"),
        "name": ("name",),
        "kind": ("kind", "type", "building", "use"),
        "residents": ("residents", "population", "inhabitants"),
        "levels": ("levels", "floors", "building:levels"),
    },
}


@dataclass
class Layer:
    """One layer of a source file, renamed to the store's columns, in its source CRS."""

    file: str
    name: str
    kind: str
    frame: gpd.GeoDataFrame  # columns of ALIASES[kind] that were found, `_where`, `_fid`, `_geom_problem`, geometry
    has_ids: bool
    crs_missing: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f'{self.file}, layer "{self.name}"'


def parse_crs(value: str | None, source: str) -> CRS | None:
    """``--crs`` as a pyproj CRS; a DataError naming ``source`` (the file) and the option when
    it is unknown (``EPSG:999999``, ``foo``)."""
    if value is None:
        return None
    try:
        return CRS.from_user_input(value)
    except CRSError:
        raise DataError(f"{source}: --crs {value!r} is not a known CRS (try e.g. EPSG:3067)") from None


def parse_layer_options(layers: list[str] | None, kind: str | None) -> dict[str, str | None]:
    """``--layer NAME`` / ``--layer NAME=KIND`` options as {layer name: kind or None}."""
    out: dict[str, str | None] = {}
    for item in layers or []:
        name, _, lk = item.partition("=")
        lk = lk.strip() or kind
        if lk is not None and lk not in KINDS:
            raise DataError(f"--layer {item!r}: unknown kind {lk!r} (expected one of {', '.join(KINDS)})")
        out[name.strip()] = lk
    return out


def guess_kind(layer_name: str) -> str | None:
    low = layer_name.lower()
    for kind, words in KIND_WORDS.items():
        if any(w in low for w in words):
            return kind
    return None


def list_layers(path: Path) -> list[tuple[str, str]]:
    """(layer name, geometry type) of every layer; a DataError naming the file if unreadable.

    A ``.zip`` is looked into first (``data.archive.check_zip``): an archive of thousands of
    Shapefiles, or one that unpacks to gigabytes, is refused before GDAL opens it.
    """
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path.name}: the file is empty (0 bytes)")
    if path.suffix.lower() == ".zip":
        check_zip(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [(str(n), str(g)) for n, g in pyogrio.list_layers(path)]
    except (DataSourceError, DataLayerError, OSError, RuntimeError) as exc:
        raise DataError(f"{path.name}: cannot read the file ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().split("\n")[0][:200] or type(exc).__name__


def rename_columns(frame: pd.DataFrame, kind: str) -> tuple[pd.DataFrame, list[str]]:
    """Map the source's column names onto the store's; returns (renamed frame, names found)."""
    by_lower = {str(c).lower(): c for c in frame.columns if c != "geometry"}
    out = pd.DataFrame(index=frame.index)
    for target, names in ALIASES[kind].items():
        for n in names:
            if n in by_lower:
                out[target] = frame[by_lower[n]]
                break
    return out, list(out.columns)


def read_layers(
    path: Path, *, kind: str | None = None, layers: list[str] | None = None, crs: str | None = None
) -> list[Layer]:
    """Read the layers to import from ``path``.

    Layers are chosen by ``layers`` (``NAME`` or ``NAME=KIND``), else all of them. A layer's kind
    is, in order: its ``=KIND``; ``kind`` if the layer was named or is the file's only one; a word
    in its name (``KIND_WORDS``); ``kind``; and for a file of one layer (or a named one) its
    geometry type. Unrecognised layers are skipped with a warning.
    ``crs`` fills in a missing CRS only; a layer without either is flagged ``crs_missing``.
    """
    if path.suffix.lower() not in GIS_SUFFIXES:
        raise DataError(f"{path.name}: unsupported file type {path.suffix!r} "
                        f"(expected {', '.join(GIS_SUFFIXES)} or .inp)")
    fallback_crs = parse_crs(crs, path.name)
    available = list_layers(path)
    wanted = parse_layer_options(layers, kind)
    names = [n for n, _ in available]
    for n in wanted:
        if n not in names:
            shown = ", ".join(names[:20]) + (f", … ({len(names)} in all)" if len(names) > 20 else "")
            raise DataError(f'{path.name}: no layer "{n}" (layers: {shown})')
    if not wanted and len(available) > MAX_LAYERS:
        raise FileTooComplex(f"{path.name}: {len(available)} layers; at most {MAX_LAYERS} are imported at once "
                             "(choose them with --layer)")
    out: list[Layer] = []
    skipped: list[str] = []
    for name, gtype in available:
        if wanted and name not in wanted:
            continue
        lk = wanted.get(name) or (kind if len(available) == 1 else None) or guess_kind(name) or kind
        if lk is None and (len(available) == 1 or name in wanted):
            lk = GEOM_KIND.get(gtype.replace(" Z", "").replace("25D", ""))
        if lk is None:
            skipped.append(f'{path.name}: layer "{name}" ({gtype}) skipped: kind unknown '
                           f"(name it with --layer {name}=pipes|valves|buildings|nodes)")
            continue
        out.append(_read_layer(path, name, lk, fallback_crs))
    if out and skipped:
        out[0].warnings.extend(skipped)
    if not out:
        raise DataError(f"{path.name}: no layer to import " + (f"({'; '.join(skipped)})" if skipped else ""))
    return out


def _read_layer(path: Path, name: str, kind: str, fallback_crs: CRS | None) -> Layer:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            meta, fids, wkb, field_data = pyogrio.raw.read(path, layer=name, return_fids=True,
                                                           datetime_as_string=True)
    except (DataSourceError, DataLayerError, OSError, RuntimeError, ValueError) as exc:
        raise DataError(f'{path.name}, layer "{name}": cannot read the layer ({_first_line(exc)})') from None
    layer_warnings = [f'{path.name}, layer "{name}": {w.message}' for w in caught]
    where = f'{path.name}, layer "{name}"'
    source_crs = _layer_crs(meta.get("crs"), where)
    columns = [str(c) for c in meta["fields"]]
    gdf = pd.DataFrame({c: field_data[i] for i, c in enumerate(columns)}, columns=columns,
                       index=pd.Index(fids, name="fid"))
    attrs, _found = rename_columns(gdf, kind)
    has_ids = "ext_id" in attrs
    if has_ids:
        attrs["ext_id"] = [None if pd.isna(v) else _id_str(v) for v in attrs["ext_id"]]
        repeated = attrs["ext_id"].duplicated(keep=False)
        labels = [f"fid={f}" if v is None else f"id={v} (fid={f})" if r else f"id={v}"
                  for v, f, r in zip(attrs["ext_id"], gdf.index, repeated)]
    else:
        attrs["ext_id"] = [f"{name}-{f}" for f in gdf.index]
        labels = [f"fid={f}" for f in gdf.index]
        if kind != "buildings":
            layer_warnings.append(f'{path.name}, layer "{name}": no id column; ids made as "{name}-<fid>"')
    attrs["_where"] = [f"{where}, feature {lb}" for lb in labels]
    attrs["_fid"] = list(gdf.index)
    geoms, geom_problems = parse_geometries(wkb if wkb is not None else np.full(len(gdf), None, dtype=object))
    attrs["_geom_problem"] = pd.Series(geom_problems, index=attrs.index, dtype=object)
    crs_missing = source_crs is None and fallback_crs is None
    frame = gpd.GeoDataFrame(attrs, geometry=geoms, crs=source_crs or fallback_crs)
    return Layer(file=path.name, name=name, kind=kind, frame=frame, has_ids=has_ids,
                 crs_missing=crs_missing, warnings=layer_warnings)


def _layer_crs(value: str | None, where: str) -> CRS | None:
    if not value:
        return None
    try:
        return CRS.from_user_input(value)
    except CRSError:
        raise DataError(f"{where}: the file's CRS is not one pyproj knows ({str(value)[:80]!r})") from None


_GEOS_WORDS = {  # GEOS's reasons for refusing a WKB geometry, in the words of this project
    "point array must contain 0 or >1 elements": "a line needs at least 2 points",
    "Points of LinearRing do not form a closed linestring": "a polygon ring is not closed "
                                                           "(its last point differs from its first)",
    "Invalid number of points in LinearRing": "a polygon ring needs at least 4 points",
}


def parse_geometries(wkb: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    """Shapely geometries of ``wkb`` (one per feature) and a problem per feature (None if fine).

    A geometry GEOS cannot build (a one-point line, an unclosed ring) or one of more than
    ``MAX_VERTICES`` vertices becomes None with its problem; a geometry whose WKB alone is far
    too large is refused without being built at all.
    """
    n = len(wkb)
    problems: list[str | None] = [None] * n
    sizes = np.fromiter((len(w) if w is not None else 0 for w in wkb), dtype=np.int64, count=n)
    huge = sizes > _MAX_WKB_BYTES
    for i in np.flatnonzero(huge):
        problems[i] = f"geometry too large (about {sizes[i] // 16:,} vertices; at most {MAX_VERTICES:,} per feature)"
    todo = np.where(huge, None, wkb)
    present = np.fromiter((w is not None for w in todo), dtype=bool, count=n)
    with np.errstate(invalid="ignore"):  # a NaN coordinate: refused below as a problem, not a RuntimeWarning
        geoms = shapely.from_wkb(todo, on_invalid="ignore")
    for i in np.flatnonzero(shapely.is_missing(geoms) & present):
        try:
            shapely.from_wkb(todo[i])
            reason = "not a geometry GEOS can read"
        except (GEOSException, ValueError) as exc:
            reason = str(exc).split(":", 1)[-1].strip() if "Exception:" in str(exc) else str(exc)
        for words, plain in _GEOS_WORDS.items():
            if reason.startswith(words):
                reason = plain
                break
        problems[i] = f"unreadable geometry ({reason[:200]})"
    counts = shapely.get_num_coordinates(geoms)
    for i in np.flatnonzero(counts > MAX_VERTICES):
        problems[i] = f"geometry too large ({counts[i]:,} vertices; at most {MAX_VERTICES:,} per feature)"
        geoms[i] = None
    return geoms, problems


def _id_str(v: object) -> str:
    """Ids as text; a float id that is a whole number (Shapefile/GeoJSON numbers) loses its ``.0``."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()
