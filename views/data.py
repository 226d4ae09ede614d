"""Data page: load the demo city, import a utility's files (validated; all or nothing)."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import text

from data.errors import DataError, ValidationFailed
from settings import get_settings
from views.common import engine, t


def progress_callback(bar: st.delta_generator.DeltaGenerator):
    def progress(stage: str, fraction: float) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=t("common.progress", stage=stage))

    return progress


def counts_table() -> pd.DataFrame:
    with engine().connect() as conn:
        rows = conn.execute(text(
            """
            SELECT n.name, n.resource,
                   (SELECT count(*) FROM pipes p WHERE p.network_id = n.id) AS pipes,
                   (SELECT round((sum(length_m) / 1000)::numeric, 2) FROM pipes p WHERE p.network_id = n.id) AS km,
                   (SELECT count(*) FROM valves v WHERE v.network_id = n.id) AS valves,
                   (SELECT count(*) FROM service_connections c WHERE c.network_id = n.id) AS connections
            FROM networks n ORDER BY n.id
            """
        )).mappings().all()
    return pd.DataFrame([dict(r) for r in rows])


def import_upload(upload: Any, *, crs: str | None, network: str | None, dry_run: bool) -> None:
    """Validate and load an uploaded file; every problem is listed, nothing is written on error."""
    from data.importers import import_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(upload.name).name
        path.write_bytes(upload.getvalue())
        bar = st.progress(0.0)
        try:
            report = import_file(engine(), path, network=network, crs=crs, dry_run=dry_run,
                                 progress=progress_callback(bar))
        except ValidationFailed as exc:
            st.error(t("data.import_failed"))
            st.code("\n".join(exc.problems), language=None)
            return
        except DataError as exc:
            st.error(t("common.error", error=str(exc)))
            return
    st.success(t("data.import_ok", report=report.summary()))


def main() -> None:
    st.title(t("data.title"))
    s = get_settings()
    st.subheader(t("data.demo"))
    if st.button(t("data.demo_load")):
        from data.demo import load_demo

        bar = st.progress(0.0)
        counts = load_demo(engine(), seed=s.demo_seed, network_name=s.demo_network_name,
                           progress=progress_callback(bar))
        st.success(t("data.demo_done", counts=counts))

    st.subheader(t("data.import"))
    upload = st.file_uploader(t("data.import_help"), type=["gpkg", "geojson", "json", "zip", "inp"])
    cols = st.columns(2)
    crs = cols[0].text_input(t("data.import_crs"), value="")
    net_name = cols[1].text_input(t("data.import_network"), value="")
    dry = st.checkbox(t("data.import_dry"))
    if upload is not None and st.button(t("data.import_run")):
        import_upload(upload, crs=crs or None, network=net_name or None, dry_run=dry)

    st.subheader(t("data.counts"))
    st.dataframe(counts_table(), hide_index=True, use_container_width=True)


main()
