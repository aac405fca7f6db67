#!/usr/bin/env bash
# Installs a release build of wangge on a centre's Debian 12 machine as a system
# service, and can be run again (an upgrade keeps the configuration and the data):
#
#   /opt/wangge/            the program, its *.resources folders (web map, API description), README
#   /usr/local/bin/wangge   runs it with the service's configuration: `sudo -u wangge wangge import grids …`
#   /etc/wangge/wangge.yaml the configuration (Config/wangge.yaml, its database set to the next line); kept if present
#   /var/lib/wangge/        the database, wangge.sqlite (owner wangge, mode 750)
#   /var/backups/wangge/    nightly backups, the newest 30 kept (mode 750)
#   wangge.service, wangge-backup.service, wangge-backup.timer (Config/systemd)
#
# Run as root from the repository after `make build` (or with the build copied
# beside it). DESTDIR=/some/root stages the files there instead and touches no
# user, group or systemd (for packaging, and the script's own test).
set -euo pipefail
cd "$(dirname "$0")/.."
root=${DESTDIR:-}
binary=.build/release/wangge
[[ -x $binary ]] || { echo "no $binary: run make build first" >&2; exit 1; }
if [[ -z $root && $(id -u) -ne 0 ]]; then echo "run as root (or with DESTDIR to stage the files)" >&2; exit 1; fi

runtime=(libgeos-c1v5 libproj25 proj-data libsqlite3-0 libsqlite3-mod-spatialite libpq5 libgdal32 libjs-leaflet)
if [[ -z $root ]]; then
    missing=()
    for p in "${runtime[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        echo "installing: ${missing[*]}"
        apt-get -o DPkg::Lock::Timeout=600 update -qq
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
    fi
    getent group wangge >/dev/null || groupadd --system wangge
    getent passwd wangge >/dev/null || useradd --system --gid wangge --home-dir /var/lib/wangge --no-create-home \
        --shell /usr/sbin/nologin --comment "Wangge grid management" wangge
fi

install -d -m 755 "$root/opt/wangge" "$root/usr/local/bin" "$root/etc/wangge" "$root/etc/systemd/system"
install -m 755 "$binary" "$root/opt/wangge/wangge.new"
mv -f "$root/opt/wangge/wangge.new" "$root/opt/wangge/wangge"  # a running server keeps its old file
for resources in .build/release/*.resources; do
    rm -rf "$root/opt/wangge/$(basename "$resources")"
    cp -R "$resources" "$root/opt/wangge/"
done
install -m 644 README.md README.zh-CN.md "$root/opt/wangge/"
cat > "$root/usr/local/bin/wangge" <<'WRAPPER'
#!/bin/sh
# wangge with the service's configuration (its database, language, rules) unless one is given.
WANGGE_CONFIG=${WANGGE_CONFIG:-/etc/wangge/wangge.yaml} exec /opt/wangge/wangge "$@"
WRAPPER
chmod 755 "$root/usr/local/bin/wangge"
if [[ ! -e $root/etc/wangge/wangge.yaml ]]; then
    sed 's|^database: var/wangge.sqlite$|database: /var/lib/wangge/wangge.sqlite|' Config/wangge.yaml > "$root/etc/wangge/wangge.yaml"
    grep -q '^database: /var/lib/wangge/wangge.sqlite$' "$root/etc/wangge/wangge.yaml" \
        || { echo "Config/wangge.yaml has no 'database: var/wangge.sqlite' line to point at /var/lib/wangge" >&2; exit 1; }
    chmod 644 "$root/etc/wangge/wangge.yaml"
fi
install -m 644 Config/systemd/wangge.service Config/systemd/wangge-backup.service Config/systemd/wangge-backup.timer \
    "$root/etc/systemd/system/"
install -d -m 750 "$root/var/lib/wangge" "$root/var/backups/wangge"

if [[ -z $root ]]; then
    chown wangge:wangge /var/lib/wangge /var/backups/wangge
fi
if [[ -z $root && ! -d /run/systemd/system ]]; then
    echo "systemd is not running here (a container?): the units are in /etc/systemd/system, not enabled"
elif [[ -z $root ]]; then
    systemctl daemon-reload
    systemctl enable --now wangge-backup.timer
    # The server starts once there are grids to serve (`wangge import grids` first).
    if [[ -e /var/lib/wangge/wangge.sqlite ]]; then
        systemctl enable wangge.service
        systemctl restart wangge.service
        echo "wangge.service (re)started: systemctl status wangge"
    else
        systemctl enable wangge.service
        echo "next: sudo -u wangge wangge import grids YOUR-GRIDS.shp, then systemctl start wangge"
    fi
fi
echo "installed wangge in $root/opt/wangge"
