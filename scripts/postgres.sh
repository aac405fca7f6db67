#!/usr/bin/env bash
# A throwaway PostgreSQL 15 + PostGIS 3 cluster for trying Wangge on PostGIS and for its tests.
# It lives in a folder of the repository (default var/postgres), listens on 127.0.0.1 only,
# on a free port, and trusts local connections: never use it for real data. A real
# deployment points `--db postgresql://USER@HOST:PORT/DBNAME` at its own server (README).
#
#   scripts/postgres.sh start [DIR]              initdb (first time) and start; prints the URL
#   scripts/postgres.sh standby PRIMARY DIR      a hot standby of PRIMARY's cluster (pg_basebackup -R); prints its URL
#   scripts/postgres.sh url [DIR]                the URL of a running cluster
#   scripts/postgres.sh stop [DIR]               stops it (the files stay; `start` again reuses them)
#   scripts/postgres.sh destroy [DIR]            stops it and deletes the folder
#
# Installs postgresql-15 and postgresql-15-postgis-3 when missing. As root, the server
# runs as the `postgres` user (initdb refuses root); otherwise as the caller.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=/usr/lib/postgresql/15/bin
command=${1:-}
dir=${2:-var/postgres}

install_packages() {
    local missing=()
    for p in postgresql-15 postgresql-15-postgis-3; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        echo "installing: ${missing[*]}" >&2
        local sudo=""
        [[ $(id -u) -ne 0 ]] && sudo="sudo"
        $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
    fi
}

# Runs a server program as the cluster's owner.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_free() {
    python3 -c 'import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

port_of() { sed -n 's/^port = \([0-9]*\).*/\1/p' "$1/postgresql.auto.conf" | tail -1; }

url_of() { echo "postgresql://wangge@127.0.0.1:$(port_of "$1")/wangge"; }

running() { [[ -f $1/postmaster.pid ]] && as_owner "$bin/pg_ctl" -D "$1" status >/dev/null 2>&1; }

make_folder() {
    mkdir -p "$1"
    [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$1"
    chmod 700 "$1"
}

# Loopback TCP only (no Unix socket), a port of its own, settings for replication.
configure() {
    cat >>"$1/postgresql.auto.conf" <<EOF
port = $(free_port)
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 5
# Enough WAL kept for a standby that was stopped a while to catch up on restart (bounded, unlike a slot).
wal_keep_size = 1GB
hot_standby = on
fsync = off
EOF
}

# A copy of PRIMARY's cluster in DIR that follows it (pg_basebackup -R), on a port of its own.
base_backup() { # PRIMARY DIR
    make_folder "$2"
    as_owner "$bin/pg_basebackup" -h 127.0.0.1 -p "$(port_of "$1")" -U wangge -D "$2" -R -X stream -c fast >/dev/null
    sed -i '/^port = /d' "$2/postgresql.auto.conf"
    echo "port = $(free_port)" >>"$2/postgresql.auto.conf"
}

# Whether a standby's WAL receiver streams from its primary, waiting up to 10 s.
streaming() { # DIR
    for _ in $(seq 1 20); do
        [[ $(psql -tA -h 127.0.0.1 -p "$(port_of "$1")" -U wangge -d wangge -c "SELECT status FROM pg_stat_wal_receiver" 2>/dev/null) == streaming ]] && return 0
        sleep 0.5
    done
    return 1
}

start_cluster() {
    as_owner "$bin/pg_ctl" -D "$1" -l "$1/server.log" -w -t 60 start >/dev/null || { tail -20 "$1/server.log" >&2; exit 1; }
}

# As root, the server runs as `postgres`, which must reach its folder: a folder it cannot reach
# (a repository under /root, say) is kept in /var/tmp/wangge-postgres and linked from where it was asked for.
place() { # DIR: prints the folder to use, creating the link when needed
    local wanted
    wanted=$(realpath -s -m "$1")
    if [[ -L $wanted ]]; then readlink -f "$wanted"; return; fi
    if [[ $(id -u) -eq 0 && ! -e $wanted ]] && ! runuser -u postgres -- test -x "$(dirname "$wanted")" 2>/dev/null; then
        local kept
        kept=/var/tmp/wangge-postgres/$(echo "$wanted" | md5sum | cut -c1-16)
        mkdir -p "$(dirname "$wanted")" /var/tmp/wangge-postgres
        chmod 755 /var/tmp/wangge-postgres
        ln -s "$kept" "$wanted"
        echo "$kept"
        return
    fi
    echo "$wanted"
}

case $command in
start)
    dir=$(place "$dir")
    install_packages
    if [[ ! -f $dir/PG_VERSION ]]; then
        make_folder "$dir"
        as_owner "$bin/initdb" -D "$dir" -U wangge --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
        echo "host replication wangge 127.0.0.1/32 trust" >>"$dir/pg_hba.conf"
        configure "$dir"
        start_cluster "$dir"
        "$bin/createdb" -h 127.0.0.1 -p "$(port_of "$dir")" -U wangge wangge
        psql -q -h 127.0.0.1 -p "$(port_of "$dir")" -U wangge -d wangge -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
    elif ! running "$dir"; then
        # The same port as before, so that clients reconnect; a new one only if another program took it meanwhile.
        if ! port_free "$(port_of "$dir")"; then
            sed -i '/^port = /d' "$dir/postgresql.auto.conf"
            echo "port = $(free_port)" >>"$dir/postgresql.auto.conf"
        fi
        start_cluster "$dir"
    fi
    url_of "$dir"
    ;;
standby)
    primary=${2:?usage: scripts/postgres.sh standby PRIMARY DIR}
    dir=${3:?usage: scripts/postgres.sh standby PRIMARY DIR}
    primary=$(place "$primary")
    dir=$(place "$dir")
    running "$primary" || { echo "$primary: the primary is not running" >&2; exit 1; }
    [[ -f $dir/PG_VERSION ]] || base_backup "$primary" "$dir"
    running "$dir" || start_cluster "$dir"
    # A standby the primary can no longer feed (the WAL it needs was removed while it was
    # stopped, or lost in a hard stop: fsync is off) is a throwaway copy: made afresh.
    if ! streaming "$dir"; then
        echo "$dir: the standby cannot follow its primary any more (see its server.log): making it afresh" >&2
        as_owner "$bin/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null
        find "$dir" -mindepth 1 -delete
        base_backup "$primary" "$dir"
        start_cluster "$dir"
        streaming "$dir" || { echo "$dir: the new standby does not stream either" >&2; tail -20 "$dir/server.log" >&2; exit 1; }
    fi
    url_of "$dir"
    ;;
url)
    dir=$(place "$dir")
    running "$dir" || { echo "$dir: no running cluster (scripts/postgres.sh start)" >&2; exit 1; }
    url_of "$dir"
    ;;
stop)
    dir=$(place "$dir")
    if running "$dir"; then as_owner "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null; fi
    ;;
destroy)
    link=$(realpath -s -m "$dir")
    dir=$(place "$dir")
    if running "$dir"; then as_owner "$bin/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null; fi
    rm -rf "$dir"
    if [[ -L $link ]]; then rm -f "$link"; fi
    ;;
*)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
