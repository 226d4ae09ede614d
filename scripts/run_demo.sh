#!/usr/bin/env bash
# `make demo`: the vector-tile server in the background, then the app in the foreground. The tile
# server stops with the app (Ctrl-C, the app exiting, an error), its log is var/tiles.log.
#   scripts/run_demo.sh [APP_PORT] [TILES_PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
APP_PORT="${1:-8501}"
TILES_PORT="${2:-${ZHKH_TILES_PORT:-8512}}"
LOG=var/tiles.log
mkdir -p var
# the page fetches tiles from this port on the host the browser used for the app
# (ZHKH_TILES_SERVER_URL, when set, names the server outright, e.g. behind a proxy)
export ZHKH_TILES_PORT="$TILES_PORT"

"$PY" -m gis serve-tiles --host 127.0.0.1 --port "$TILES_PORT" >"$LOG" 2>&1 &
TILES_PID=$!
# the residents' page (python -m resident serve), stopped with the app as well; its log is var/resident.log
RESIDENT_PORT="${ZHKH_RESIDENT_PORT:-8520}"
"$PY" -m resident serve --host 127.0.0.1 --port "$RESIDENT_PORT" >var/resident.log 2>&1 &
RESIDENT_PID=$!
# the crews' phone page (python -m field serve), stopped with the app as well; its log is var/field.log
FIELD_PORT="${ZHKH_FIELD_PORT:-8530}"
"$PY" -m field serve --host 127.0.0.1 --port "$FIELD_PORT" >var/field.log 2>&1 &
FIELD_PID=$!
# smart-meter readings from MQTT (python -m meters listen; feed it with `python -m meters simulate --rate N`)
"$PY" -m meters listen >var/meters.log 2>&1 &
METERS_PID=$!
# organisations' webhooks: post every new or changed work order, signed, retried (python -m orgs deliver)
"$PY" -m orgs deliver >var/webhooks.log 2>&1 &
WEBHOOKS_PID=$!
stop_tiles() {
  kill "$TILES_PID" "$RESIDENT_PID" "$FIELD_PID" "$METERS_PID" "$WEBHOOKS_PID" 2>/dev/null || true
  wait "$TILES_PID" 2>/dev/null || true
  wait "$RESIDENT_PID" 2>/dev/null || true
  wait "$FIELD_PID" 2>/dev/null || true
  wait "$METERS_PID" 2>/dev/null || true
  wait "$WEBHOOKS_PID" 2>/dev/null || true
}
trap stop_tiles EXIT
trap 'exit 130' INT TERM

# wait until it listens (the first start on an older database computes the overviews once)
for _ in $(seq 1 240); do
  if ! kill -0 "$TILES_PID" 2>/dev/null; then
    echo "run_demo: the tile server stopped (port $TILES_PORT taken?); the end of $LOG:" >&2
    tail -n 5 "$LOG" >&2
    exit 1
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$TILES_PORT") 2>/dev/null; then
    break
  fi
  sleep 0.5
done
echo "run_demo: vector tiles on port $TILES_PORT: /tiles/{layer}/{z}/{x}/{y}.pbf (log: $LOG)"
echo "run_demo: the residents' page on http://127.0.0.1:$RESIDENT_PORT/ (no login; log: var/resident.log)"
echo "run_demo: the crews' phone page on http://127.0.0.1:$FIELD_PORT/ (sign in as crew; log: var/field.log)"
echo "run_demo: meter readings from MQTT topic zhkh/meters/{serial}/reading are stored (log: var/meters.log);"
echo "          try: .venv/bin/python -m meters simulate --rate 500 --speed 600"
echo "run_demo: organisations' webhooks are delivered (python -m orgs webhook set ORG_ID URL; log: var/webhooks.log)"
# what a newcomer can try there: the demo address with an active outage, a demo account and its code
"$PY" -m billing demo-month --show 2>/dev/null || true

"$PY" -m streamlit run app_server.py --server.port "$APP_PORT" --server.headless true
