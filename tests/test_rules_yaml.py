"""The one cache of the rules files: parsed once, read again as soon as the file changes."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from rules_yaml import cached_by_mtime


def test_a_rules_file_is_read_once_and_again_when_edited(tmp_path: Path) -> None:
    reads: list[str] = []

    def load(path: str) -> str:
        reads.append(path)
        return Path(path).read_text()

    cached = cached_by_mtime(load)
    f = tmp_path / "rules.yaml"
    f.write_text("a: 1\n")
    assert cached(f) == cached(str(f)) == "a: 1\n" and len(reads) == 1
    f.write_text("a: 2\n")
    os.utime(f, (f.stat().st_atime, f.stat().st_mtime + 5))   # an edit a few seconds later
    assert cached(f) == "a: 2\n" and len(reads) == 2


def test_a_missing_file_goes_to_the_loader_or_raises_what_the_caller_says(tmp_path: Path) -> None:
    def load(path: str) -> str:
        raise ValueError(f"cannot read {path}")

    with pytest.raises(ValueError, match="cannot read"):
        cached_by_mtime(load)(tmp_path / "none.yaml")
    with pytest.raises(LookupError, match="none.yaml"):
        cached_by_mtime(load, missing=lambda p: LookupError(f"no {p.name}"))(tmp_path / "none.yaml")
