"""Viewport query + render-payload time per zoom, against the naive "load the whole layer" baseline.

For each zoom (default 13, 15, 17) and layer (buildings, pipes): ``--runs`` viewports of
``--width × --height`` px centred at random points of the synthetic city (benchmarks/city.py,
generated if missing), each timed as

- query:  ``gis.queries.layer_in_bbox`` (SQL + GeoDataFrame),
- render: ``folium.Map`` + ``folium.GeoJson(gdf.to_json())`` + ``m.get_root().render()``
  (what st_folium sends the browser on every rerun),

with the rendered HTML's size as the payload. The baseline selects the whole layer (no bbox, no
cap, full-precision geometry, ``geopandas.read_postgis``) and renders it the same way,
``--baseline-runs`` times (it is slow at full size). ``--compare`` also measures the
alternatives considered for low zoom. Prints tables and ratios; figures go to docs/performance.md.

    .venv/bin/python benchmarks/viewport.py                       # 100 k buildings, 1 M pipes
    .venv/bin/python benchmarks/viewport.py --buildings 10000 --pipes 100000 --db zhkh_bench_small
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
from sqlalchemy import Connection, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.city import CityParams, ensure_city  # noqa: E402
from gis.queries import LayerPolicy, city_bounds, layer_in_bbox, viewport_bbox  # noqa: E402

BASELINE_SQL = {
    "buildings": "SELECT id, address, kind, residents, address_source, geom FROM buildings",
    "pipes": "SELECT id, ext_id, diameter_mm, material, install_year, length_m, street, geom FROM pipes",
}


def render(gdf: gpd.GeoDataFrame, centre: tuple[float, float], zoom: int) -> int:
    """Build the folium map with the layer and serialise it; returns the HTML size in bytes."""
    m = folium.Map(location=[centre[1], centre[0]], zoom_start=zoom)
    folium.GeoJson(gdf.to_json()).add_to(m)
    return len(m.get_root().render().encode())


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def measure(runs: list[Callable[[], tuple[gpd.GeoDataFrame, dict]]], centre_of, zoom: int) -> dict:
    q_ms, r_ms, sizes, shown, truncated = [], [], [], [], 0
    for i, run in enumerate(runs):
        t0 = time.perf_counter()
        gdf, info = run()
        t1 = time.perf_counter()
        size = render(gdf, centre_of(i), zoom)
        t2 = time.perf_counter()
        q_ms.append((t1 - t0) * 1000)
        r_ms.append((t2 - t1) * 1000)
        sizes.append(size)
        shown.append(len(gdf))
        truncated += bool(info.get("truncated"))
        del gdf
    tot = [a + b for a, b in zip(q_ms, r_ms)]
    return {
        "n": len(runs), "q50": pct(q_ms, 50), "q95": pct(q_ms, 95), "r50": pct(r_ms, 50), "r95": pct(r_ms, 95),
        "t50": pct(tot, 50), "t95": pct(tot, 95), "bytes50": pct(sizes, 50), "shown50": pct(shown, 50),
        "truncated": truncated,
    }


def fmt_row(label: str, m: dict) -> str:
    return (f"| {label:<34} | {m['n']:>4} | {m['shown50']:>9,.0f} | {m['q50']:>8.0f} / {m['q95']:<6.0f} "
            f"| {m['r50']:>8.0f} / {m['r95']:<6.0f} | {m['t50']:>8.0f} / {m['t95']:<6.0f} "
            f"| {m['bytes50'] / 1e6:>8.2f} | {m['truncated']:>3} |")


HEADER = ("| case                               | runs |  features | query ms p50 / p95 | render ms p50 / p95 "
          "| total ms p50 / p95 |  payload MB | trunc |\n"
          "|------------------------------------|-----:|----------:|-------------------:|--------------------:"
          "|-------------------:|------------:|------:|")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--buildings", type=int, default=100_000)
    ap.add_argument("--pipes", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--db", default="zhkh_bench")
    ap.add_argument("--url", default=None)
    ap.add_argument("--zooms", type=int, nargs="+", default=[13, 15, 17])
    ap.add_argument("--layers", nargs="+", default=["buildings", "pipes"])
    ap.add_argument("--runs", type=int, default=20, help="viewports per zoom and layer")
    ap.add_argument("--baseline-runs", type=int, default=1)
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--height", type=int, default=800)
    ap.add_argument("--compare", action="store_true", help="also time the low-zoom alternatives")
    ap.add_argument("--no-baseline", action="store_true")
    a = ap.parse_args(argv)

    engine = ensure_city(CityParams(a.buildings, a.pipes, a.seed), db=a.db, url=a.url)
    rng = np.random.default_rng(a.seed)
    results: dict[tuple[str, str], dict] = {}
    with engine.connect() as conn:
        bounds = city_bounds(conn)
        assert bounds is not None, "the benchmark city is empty"
        print(f"city {a.db}: {a.buildings:,} buildings, {a.pipes:,} pipes; bounds {tuple(round(v, 4) for v in bounds)}")
        print(f"viewport {a.width}x{a.height} px, {a.runs} random centres per zoom\n")
        for layer in a.layers:
            for zoom in a.zooms:
                centres = [(rng.uniform(bounds[0], bounds[2]), rng.uniform(bounds[1], bounds[3])) for _ in range(a.runs)]
                # warm-up (first query of a shape pays for plan + cache)
                layer_in_bbox(conn, layer, viewport_bbox(*centres[0], zoom, a.width, a.height), zoom)

                def run_for(c, policy=None, limit=None, _z=zoom, _l=layer):
                    def run():
                        r = layer_in_bbox(conn, _l, viewport_bbox(*c, _z, a.width, a.height), _z,
                                          policy=policy, limit=limit)
                        return r.features, {"truncated": r.truncated}
                    return run

                results[(layer, f"z{zoom} layer_in_bbox")] = measure(
                    [run_for(c) for c in centres], lambda i, cs=centres: cs[i], zoom)
                if a.compare and zoom <= 15:
                    alts = {
                        "buildings": {"capped features": LayerPolicy(),
                                      "min area 4 px² (capped)": LayerPolicy(min_area_px=4.0),
                                      "grid 32 px": LayerPolicy("grid")},
                        "pipes": {"capped features (all)": LayerPolicy(),
                                  "≥ 300 mm (capped)": LayerPolicy(min_diameter_mm=300),
                                  "≥ 300 mm merged": LayerPolicy("merged", min_diameter_mm=300),
                                  "≥ 400 mm merged": LayerPolicy("merged", min_diameter_mm=400)},
                    }.get(layer, {})
                    for name, pol in alts.items():
                        results[(layer, f"z{zoom} alt: {name}")] = measure(
                            [run_for(c, pol) for c in centres[: max(3, a.runs // 2)]],
                            lambda i, cs=centres: cs[i], zoom)
            if not a.no_baseline:
                centre = ((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)

                def baseline(_l=layer):
                    gdf = gpd.read_postgis(text(BASELINE_SQL[_l]), conn, geom_col="geom")
                    return gdf, {}

                gc.collect()
                results[(layer, "baseline: whole layer")] = measure(
                    [baseline] * a.baseline_runs, lambda i: centre, 13)
            print(f"## {layer}\n")
            print(HEADER)
            for (lay, label), m in results.items():
                if lay == layer:
                    print(fmt_row(label, m))
            base = results.get((layer, "baseline: whole layer"))
            if base:
                print()
                for zoom in a.zooms:
                    m = results[(layer, f"z{zoom} layer_in_bbox")]
                    print(f"z{zoom}: total p50 {base['t50'] / m['t50']:,.0f}× faster, payload "
                          f"{base['bytes50'] / m['bytes50']:,.0f}× smaller than the whole layer")
            print(flush=True)
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
