#!/usr/bin/env bash
# Installs the engines of the cluster when they are missing (Debian/Ubuntu): Patroni, etcd, HAProxy.
# (PostgreSQL + PostGIS and Mosquitto: scripts/setup_system.sh, which make cluster runs first.)
# The packages' own services are not used: make cluster starts its daemons under var/cluster/.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
want=()
command -v patroni >/dev/null 2>&1 || want+=(patroni)
command -v etcd >/dev/null 2>&1 || [ -x /usr/bin/etcd ] || want+=(etcd-server)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || want+=(haproxy)

if [ ${#want[@]} -gt 0 ]; then
  echo "cluster setup: installing ${want[*]}"
  $SUDO apt-get update -q
  # policy-rc.d-less machines would start the packages' own etcd/haproxy on the default ports: keep them off
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $SUDO apt-get install -y -q --no-install-recommends "${want[@]}"
  for svc in etcd haproxy patroni; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
      $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
  done
else
  echo "cluster setup: patroni, etcd, haproxy present"
fi
