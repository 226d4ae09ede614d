#!/usr/bin/env bash
# Installs the system packages zhkh-ops needs when they are missing (Debian/Ubuntu).
#   scripts/setup_system.sh            PostgreSQL + PostGIS
#   scripts/setup_system.sh --browser  also Chromium (for the browser tests)
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
