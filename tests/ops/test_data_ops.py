"""Imports and the demo reload through the application layer: admin only, confirmed, never on a
production server, audited with the file, its checksum and the counts before and after."""
from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from auth.errors import PermissionDenied
from auth.model import Actor
from ops import audit_log
from ops import data as data_ops
from ops.errors import ConfirmationMismatch, NotAllowedHere
from settings import ROOT, Settings

ADMIN = Actor(author="boss", role="admin")
SAMPLE = ROOT / "data" / "samples" / "helsinki.gpkg"


@pytest.mark.parametrize("role", ["operator", "dispatcher", "planner", "inspector"])
def test_only_an_admin_imports_or_reloads(clean_engine: Engine, role: str) -> None:
    someone = Actor(author="x", role=role)
    with pytest.raises(PermissionDenied, match="data.import"):
        data_ops.preview_import(someone, SAMPLE, bind=clean_engine)
    with pytest.raises(PermissionDenied, match="data.import"):
        data_ops.import_file(someone, SAMPLE, bind=clean_engine)
    with pytest.raises(PermissionDenied, match="demo.reload"):
        data_ops.reload_demo(someone, confirmation="Helsinki demo cold water", bind=clean_engine)
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM networks")).scalar_one() == 0


def test_the_demo_reload_needs_its_name_and_never_runs_in_production(clean_engine: Engine) -> None:
    s = Settings(_env_file=None, env="production")
    with pytest.raises(NotAllowedHere, match="production"):
        data_ops.reload_demo(ADMIN, confirmation=s.demo_network_name, settings=s, bind=clean_engine)
    with pytest.raises(ConfirmationMismatch, match="type the network's name"):
        data_ops.reload_demo(ADMIN, confirmation="yes", settings=Settings(_env_file=None), bind=clean_engine)
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM networks")).scalar_one() == 0


def test_an_import_is_audited_with_file_checksum_and_counts(clean_engine: Engine) -> None:
    preview = data_ops.preview_import(ADMIN, SAMPLE, network="Импорт", bind=clean_engine)
    assert not preview.target_exists and preview.counts["pipes"] > 0
    report = data_ops.import_file(ADMIN, SAMPLE, network="Импорт", source_name="helsinki.gpkg",
                                  expected_revision=preview.network_revision, bind=clean_engine)
    [event] = audit_log.events(ADMIN, audit_log.AuditFilter(actions=("data.import",)), bind=clean_engine)
    assert event["actor"] == "boss" and event["object_id"] == str(report.network_id)
    d = event["details"]
    assert d["file"] == "helsinki.gpkg" and d["checksum"] == preview.checksum and len(d["checksum"]) == 64
    assert d["counts_before"] == {} or not any(d["counts_before"].values())
    assert d["counts_after"]["pipes"] == preview.counts["pipes"]
