#!/usr/bin/env bash
# Installs the C libraries Wangge needs (Debian 12), only when missing: safe to run again.
# libjs-leaflet is the web map's library (served from where Debian puts it).
# libpq-dev is PostgreSQL's client library (the PostGIS store).
# `setup.sh test` adds what the browser tests and benchmarks drive and draw the web
# map with (chromium, python3-websocket, fonts-noto-cjk) and the PostgreSQL 15 +
# PostGIS 3 server the tests run their throwaway clusters with (scripts/postgres.sh).
set -euo pipefail
packages=(libgeos-dev libproj-dev proj-data libspatialite-dev libsqlite3-mod-spatialite libsqlite3-dev libgdal-dev libpq-dev pkg-config spatialite-bin tmux gdal-bin wrk curl
          libjs-leaflet)
case ${1:-} in
    test) packages+=(chromium python3-websocket fonts-noto-cjk postgresql-15 postgresql-15-postgis-3) ;;
    "") ;;
    *) echo "usage: scripts/setup.sh [test]" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6 (https://www.swift.org/install/linux/)" >&2; exit 1; }
