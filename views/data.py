"""Data (admin): import a utility's file — validated, previewed as a diff against what the database holds,
loaded only after an explicit confirmation — and reload the demo city behind a typed confirmation."""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from data.errors import ValidationFailed
from i18n import N_, has_text
from ops import data as data_ops
from settings import get_settings
from views import errors
from views.common import t, tn
from views.formatting import md_safe, network_name
from views.session import actor, guard


def progress_callback(bar: Any):
    def progress(stage: str, fraction: float) -> None:
        words = t(f"data.stage.{stage}") if has_text(f"data.stage.{stage}") else stage
        bar.progress(min(max(fraction, 0.0), 1.0), text=t("common.progress", stage=words))

    return progress


def _saved(upload: Any, tmp: str) -> Path:
    path = Path(tmp) / Path(upload.name).name
    path.write_bytes(upload.getvalue())
    return path


def counts_text(counts: dict[str, int]) -> str:
    """«узлы 6 · трубы 6 · …» in the page's language (kinds it has no word for are left out)."""
    return " · ".join(f"{t(f'data.kind.{k}')} {n:,}".replace(",", "\u202f") for k, n in counts.items()
                      if has_text(f"data.kind.{k}"))


def preview_text(preview: Any) -> str:
    target = md_safe(preview.network or preview.dataset or "")
    key = N_("data.preview_existing") if preview.target_exists else N_("data.preview_new")
    return t(key, source=md_safe(preview.source), target=target, counts=counts_text(preview.counts))


def report_text(report: Any) -> str:
    target = md_safe(report.network or report.dataset or "")
    return t("data.import_ok", source=md_safe(report.source), target=target,
             counts=counts_text(report.counts_after or report.counts))


def diff_frame(diff: Any) -> pd.DataFrame:
    return pd.DataFrame([{
        t("data.diff.kind"): t(f"data.kind.{k.kind}"), t("data.diff.added"): k.added, t("data.diff.removed"): k.removed,
        t("data.diff.changed"): k.changed, t("data.diff.unchanged"): k.unchanged,
        t("data.diff.examples"): ", ".join([*k.added_ids[:3], *k.removed_ids[:3], *k.changed_ids[:3]]),
    } for k in diff.kinds])


def relink_frame(diff: Any) -> pd.DataFrame:
    return pd.DataFrame([{
        t("data.relink.report"): r.incident_id, t("data.relink.link"): t(f"data.relink.{r.link}"),
        t("data.relink.old"): r.old_ext_id, t("data.relink.new"): r.new_ext_id or t("data.relink.none"),
        t("data.relink.distance"): None if r.distance_m is None else round(r.distance_m, 1),
    } for r in diff.relinks])


def import_section() -> None:
    st.subheader(t("data.import"))
    upload = st.file_uploader(t("data.import_help"), type=["gpkg", "geojson", "json", "zip", "inp"])
    cols = st.columns(2)
    crs = cols[0].text_input(t("data.import_crs"), value="", max_chars=40)
    net_name = cols[1].text_input(t("data.import_network"), value="", max_chars=200)
    if upload is None:
        return
    options = {"crs": crs or None, "network": net_name or None}
    fingerprint = hashlib.sha256(upload.getvalue()).hexdigest() + repr(sorted(options.items()))
    ss = st.session_state
    if st.button(t("data.import_check"), type="primary"):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                ss["data_preview"] = (fingerprint, data_ops.preview_import(actor(), _saved(upload, tmp), **options))
            except ValidationFailed as exc:
                ss.pop("data_preview", None)
                st.error(t("data.import_failed"))
                st.code("\n".join(exc.problems), language=None)
                return
            except Exception as exc:
                ss.pop("data_preview", None)
                errors.show(exc)
                return
    seen = ss.get("data_preview")
    if not seen or seen[0] != fingerprint:
        return
    preview = seen[1]
    st.info(preview_text(preview))
    for w in list(preview.warnings)[:20]:
        st.caption(md_safe(w))
    if preview.busy_outages:
        st.error(t("data.busy", ids=", ".join(f"№{i}" for i in preview.busy_outages)))
        return
    target = md_safe(preview.network or preview.dataset or "")
    if preview.target_exists:
        st.markdown(f"**{t('data.diff.title', network=target)}**")
        st.dataframe(diff_frame(preview.diff), hide_index=True, width="stretch")
        if preview.diff.relinks:
            st.warning(tn("data.diff.reports", len(preview.diff.relinks)))
            st.dataframe(relink_frame(preview.diff), hide_index=True, width="stretch")
        if preview.diff.outages:
            st.warning(t("data.diff.outages", ids=", ".join(f"№{o.outage_id}" for o in preview.diff.outages)))
        if preview.diff.empty:
            st.success(t("data.diff.none"))
            return
        if not st.checkbox(t("data.confirm", network=target), key="data_confirm"):
            return
    if st.button(t("data.import_run"), type="primary", key="data_apply"):
        bar = st.progress(0.0)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                report = data_ops.import_file(actor(), _saved(upload, tmp), source_name=upload.name,
                                              expected_revision=preview.network_revision,
                                              progress=progress_callback(bar), **options)
            except ValidationFailed as exc:
                st.error(t("data.import_failed"))
                st.code("\n".join(exc.problems), language=None)
                return
            except Exception as exc:
                errors.show(exc)
                return
        ss.pop("data_preview", None)
        st.success(report_text(report))


def demo_section() -> None:
    s = get_settings()
    st.subheader(t("data.demo"))
    if s.env == "production":
        st.caption(t("data.demo_production"))
        return
    typed = st.text_input(t("data.demo_confirm", name=s.demo_network_name), key="demo_confirm", max_chars=200)
    if st.button(t("data.demo_load"), disabled=typed.strip() != s.demo_network_name):
        bar = st.progress(0.0)
        try:
            counts = data_ops.reload_demo(actor(), confirmation=typed, progress=progress_callback(bar))
        except Exception as exc:
            errors.show(exc)
            return
        st.success(t("data.demo_done", counts=counts_text(counts)))


def main() -> None:
    guard("data")
    st.title(t("data.title"))
    import_section()
    demo_section()
    st.subheader(t("data.counts"))
    rows = data_ops.counts(actor())
    st.dataframe(pd.DataFrame([{
        t("data.col.name"): network_name(r["name"]), t("data.col.resource"): t(f"incident.resource.{r['resource']}"),
        t("data.col.pipes"): r["pipes"], t("data.col.km"): float(r["km"]), t("data.col.valves"): r["valves"],
        t("data.col.connections"): r["connections"], t("data.col.open_outages"): r["open_outages"],
    } for r in rows]), hide_index=True, width="stretch")


main()
