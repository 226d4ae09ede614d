"""A look inside a ``.zip`` upload before GDAL opens it.

GDAL opens every Shapefile in an archive as a layer, and listing thousands of them takes
minutes; an archive can also claim to unpack to gigabytes. ``check_zip`` reads only the zip's
central directory (no member is unpacked) and refuses such archives quickly.
"""
from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from data.errors import DataError, FileTooComplex

MAX_LAYERS = 200                       # layers (GIS files) in one upload
MAX_UNPACKED_BYTES = 2 * 1024 ** 3     # what all members of an archive may unpack to
MAX_MEMBERS = 10_000                   # entries of any kind in an archive
MAX_RATIO = 500                        # unpacked / packed size of a member over 1 MB (GIS data: 3–50; bombs: 1000+)
LAYER_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".gml", ".kml", ".tab", ".mif", ".fgb", ".sqlite")


def check_zip(path: Path) -> int:
    """The number of GIS files in the archive ``path``; a DataError naming it and the problem
    when it is not a readable zip, holds more than ``MAX_LAYERS`` GIS files or ``MAX_MEMBERS``
    entries, or unpacks to more than ``MAX_UNPACKED_BYTES``."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(f"{path.name}: not a readable zip archive ({str(exc)[:200] or type(exc).__name__})") from None
    if len(infos) > MAX_MEMBERS:
        raise FileTooComplex(f"{path.name}: the archive has {len(infos)} entries (at most {MAX_MEMBERS} are read)")
    layers = [i.filename for i in infos
              if not i.is_dir() and PurePosixPath(i.filename).suffix.lower() in LAYER_SUFFIXES]
    if len(layers) > MAX_LAYERS:
        raise FileTooComplex(f"{path.name}: the archive holds {len(layers)} GIS files (layers); at most "
                             f"{MAX_LAYERS} are imported at once: split the upload")
    unpacked = sum(i.file_size for i in infos)
    if unpacked > MAX_UNPACKED_BYTES:
        raise FileTooComplex(f"{path.name}: the archive unpacks to {unpacked / 1024 ** 2:,.0f} MB "
                             f"(at most {MAX_UNPACKED_BYTES / 1024 ** 2:,.0f} MB); refused")
    for i in infos:
        if i.compress_size and i.file_size > 1024 ** 2 and i.file_size / i.compress_size > MAX_RATIO:
            raise FileTooComplex(f"{path.name}: member {i.filename!r} unpacks {i.file_size / i.compress_size:.0f} "
                                 f"times its packed size (a zip bomb?); refused")
    return len(layers)
