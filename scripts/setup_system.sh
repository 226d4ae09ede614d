#!/usr/bin/env bash
# Installs the system packages zhkh-ops needs when they are missing (Debian/Ubuntu).
#   scripts/setup_system.sh            PostgreSQL + PostGIS
#   scripts/setup_system.sh --browser  also Chromium (for the browser tests)
# Both: Mosquitto (the MQTT broker of the meter readings, docs/meters.md), started if not running.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
want=()

pg_versions() { ls /usr/lib/postgresql 2>/dev/null | sort -n; }

if [ -n "${DATABASE_URL:-}" ]; then
  echo "setup: DATABASE_URL is set; not installing a local PostgreSQL"
else
  if [ -z "$(pg_versions)" ]; then
    want+=(postgresql postgresql-contrib)
  fi
  for v in $(pg_versions); do
    if ! ls /usr/share/postgresql/"$v"/extension/postgis.control >/dev/null 2>&1; then
      want+=("postgresql-$v-postgis-3")
    fi
  done
fi

if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  want+=(chromium fonts-dejavu-core)
fi
# pdftoppm / pdftotext: to look at the PDFs the app makes (crew sheets, reports)
if [ "${1:-}" = "--browser" ] && ! command -v pdftoppm >/dev/null 2>&1; then
  want+=(poppler-utils)
fi

# mosquitto: the MQTT broker the meter readings arrive on (ZHKH_MQTT_URL, default mqtt://127.0.0.1:1883)
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  want+=(mosquitto)
fi

if [ ${#want[@]} -gt 0 ]; then
  echo "setup: installing ${want[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${want[@]}"
  # a freshly installed server has no PostGIS package of its version yet
  for v in $(pg_versions); do
    if ! ls /usr/share/postgresql/"$v"/extension/postgis.control >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "postgresql-$v-postgis-3"
    fi
  done
else
  echo "setup: system packages present"
fi

# the broker running on 127.0.0.1:1883 (persistence on: QoS 1 sessions survive its restart), unless
# ZHKH_MQTT_URL names another one
# a system config of its own gets the autosave drop-in (a crash then loses at most ~2 s, which the
# publishers resend; without it, everything since the broker started); read at the broker's next start
if [ -r /etc/mosquitto/mosquitto.conf ] && ! grep -qs '^autosave_interval' /etc/mosquitto/mosquitto.conf \
   && [ ! -e /etc/mosquitto/conf.d/zhkh-durable.conf ]; then
  if grep -qs '^include_dir /etc/mosquitto/conf.d' /etc/mosquitto/mosquitto.conf; then
    $SUDO cp "$(dirname "$0")/mosquitto-durable.conf" /etc/mosquitto/conf.d/zhkh-durable.conf 2>/dev/null || true
  else
    echo "setup: warning: /etc/mosquitto/mosquitto.conf sets no autosave_interval: a broker crash loses" \
         "queued readings; add the lines of scripts/mosquitto-durable.conf to it" >&2
  fi
fi
if [ -z "${ZHKH_MQTT_URL:-}" ] && ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  echo "setup: starting mosquitto on 127.0.0.1:1883"
  if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
    $SUDO systemctl enable --now mosquitto || true
  elif command -v service >/dev/null 2>&1 && [ -x /etc/init.d/mosquitto ]; then
    $SUDO service mosquitto start || true
  fi
  if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
    conf=/etc/mosquitto/mosquitto.conf
    [ -r "$conf" ] || conf="$(dirname "$0")/mosquitto.conf"
    $SUDO mkdir -p /run/mosquitto /var/lib/mosquitto /var/log/mosquitto 2>/dev/null || true
    $SUDO chown mosquitto /run/mosquitto /var/lib/mosquitto /var/log/mosquitto 2>/dev/null || true
    $SUDO mosquitto -d -c "$conf"
  fi
  for _ in $(seq 1 50); do
    if (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then break; fi
    sleep 0.1
  done
  if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
    echo "setup: mosquitto does not listen on 127.0.0.1:1883 (see /var/log/mosquitto/mosquitto.log)" >&2
    exit 1
  fi
fi
