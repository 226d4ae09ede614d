"""Reading a rules file: YAML with ``extends`` (a region file names its parent and repeats only what differs).

One reader for every rules file of the project (SLA, billing, tariffs, notices, forecast): the same
``extends`` semantics and the same one-line errors everywhere. Each package validates the merged
mapping with its own pydantic model and raises its own error class.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import yaml
from pydantic import ValidationError

T = TypeVar("T")


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any], *,
               replace: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``over`` on top of ``base``: mappings merge key by key, except keys in ``replace`` (taken whole)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) and key not in replace:
            out[key] = deep_merge(out[key], value, replace=replace)
        else:
            out[key] = value
    return out


def read_rules_yaml(path: str | Path, *, what: str = "rules file", error: type[Exception] = ValueError,
                    replace: frozenset[str] = frozenset(), _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The mapping of the rules file at ``path`` with its ``extends`` chain merged in (parents first).

    Raises ``error`` with one line naming the file: unreadable, not UTF-8, not YAML, not a mapping at
    the top, or an ``extends`` chain that forms a cycle. ``what`` names the kind of file in messages."""
    path = Path(path).resolve()
    if path in _seen:
        raise error(f"{path}: 'extends' forms a cycle")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: the {what} is not UTF-8") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {' '.join(str(exc).split())[:300]}") from None
    if not isinstance(raw, dict):
        raise error(f"{path}: expected a mapping at the top, got {type(raw).__name__}")
    parent = raw.pop("extends", None)
    if parent:
        base = read_rules_yaml(path.parent / str(parent), what=what, error=error, replace=replace,
                               _seen=(*_seen, path))
        return deep_merge(base, raw, replace=replace)
    return raw


def validated(model: Any, raw: Mapping[str, Any], path: str | Path, *, error: type[Exception] = ValueError) -> Any:
    """``model.model_validate(raw)``; a pydantic error becomes ``error`` naming the file and every problem."""

    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
        )
        raise error(f"{path}: {problems}") from None


def time_zone_name(value: str) -> str:
    """``value`` when it names a time zone zoneinfo knows (for a rules file's validator); else ValueError."""

    try:
        ZoneInfo(value)
    except Exception:
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


def cached_by_mtime(loader: Callable[[str], T], *, maxsize: int = 8,
                    missing: Callable[[Path], Exception] | None = None) -> Callable[[str | Path], T]:
    """``loader`` remembered per (path, modification time): a rules file is parsed once, and read again as
    soon as someone edits it (no restart). A file that cannot be stat'ed raises ``missing(path)`` when given,
    else is handed to ``loader`` (whose error names the problem).

        _cached = cached_by_mtime(load_rules)
        def rules_from_settings() -> Rules: return _cached(get_settings().x_rules_file)
    """
    @lru_cache(maxsize=maxsize)
    def by_key(path: str, mtime: float) -> T:
        return loader(path)

    def cached(path: str | Path) -> T:
        p = Path(path)
        try:
            mtime = p.stat().st_mtime
        except OSError:
            if missing is not None:
                raise missing(p) from None
            mtime = 0.0
        return by_key(str(p), mtime)

    cached.cache_clear = by_key.cache_clear  # type: ignore[attr-defined]
    return cached
