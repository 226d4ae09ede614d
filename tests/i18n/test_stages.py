"""Every stage an import reports is in ``data.store.STAGES`` (so the data page shows it in words)."""
from __future__ import annotations

import re
from pathlib import Path

from data.store import STAGES

ROOT = Path(__file__).resolve().parents[2]


def test_every_reported_stage_is_listed() -> None:
    used = {m for f in (ROOT / "data").glob("*.py") for m in re.findall(r'progress\("([a-z_]+)"', f.read_text())}
    assert used and used <= set(STAGES), used - set(STAGES)
