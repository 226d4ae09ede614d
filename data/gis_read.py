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
import pandas as pd
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS
from pyproj.exceptions import CRSError

from data.errors import DataError

GIS_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".zip")  # .zip: a zipped Shapefile
KINDS = ("pipes", "valves", "buildings", "nodes")

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
    frame: gpd.GeoDataFrame  # columns of ALIASES[kind] that were found, `_where`, geometry
    has_ids: bool
    crs_missing: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f'{self.file}, layer "{self.name}"'


def parse_crs(value: str | None) -> CRS | None:
    """``--crs`` as a pyproj CRS; a DataError naming the option when it is unknown."""
    if value is None:
        return None
    try:
        return CRS.from_user_input(value)
    except CRSError:
        raise DataError(f"--crs {value!r} is not a known CRS (try e.g. EPSG:3067)") from None


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
    """(layer name, geometry type) of every layer; a DataError naming the file if unreadable."""
    if not path.exists():
        raise DataError(f"{path}: no such file")
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
    fallback_crs = parse_crs(crs)
    available = list_layers(path)
    wanted = parse_layer_options(layers, kind)
    names = [n for n, _ in available]
    for n in wanted:
        if n not in names:
            raise DataError(f'{path.name}: no layer "{n}" (layers: {", ".join(names)})')
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
            gdf = pyogrio.read_dataframe(path, layer=name, fid_as_index=True)
    except (DataSourceError, DataLayerError, OSError, RuntimeError, ValueError) as exc:
        raise DataError(f'{path.name}, layer "{name}": cannot read the layer ({_first_line(exc)})') from None
    layer_warnings = [f'{path.name}, layer "{name}": {w.message}' for w in caught]
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
    attrs["_where"] = [f'{path.name}, layer "{name}", feature {lb}' for lb in labels]
    attrs["_fid"] = list(gdf.index)
    crs_missing = gdf.crs is None and fallback_crs is None
    frame = gpd.GeoDataFrame(attrs, geometry=gdf.geometry.values, crs=gdf.crs or fallback_crs)
    return Layer(file=path.name, name=name, kind=kind, frame=frame, has_ids=has_ids,
                 crs_missing=crs_missing, warnings=layer_warnings)


def _id_str(v: object) -> str:
    """Ids as text; a float id that is a whole number (Shapefile/GeoJSON numbers) loses its ``.0``."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()
