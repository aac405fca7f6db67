#!/usr/bin/env python3
"""Several servers on one PostgreSQL + PostGIS database, a read server on a hot
standby, and a primary killed in the middle of an import.

Starts a throwaway primary and a hot standby (scripts/postgres.sh, pg_basebackup -R)
on loopback, loads the sample county's grids and generated points into the primary
with the real `wangge`, then runs three `wangge serve`: two on the primary, one
reading from the standby (--read-db). Checks:
  - the three give the same answers (locate inside and outside the county, stats,
    OGC items pages, a grid's households), and the same as a SpatiaLite server on the same files;
  - a token revoked with the CLI is refused by all three within a second, and a
    grid import (an activation) reaches all three within a few seconds;
  - a configuration stored with `wangge config push` (a privacy rule) is applied by
    all three within about a second, and `wangge config clear` gives them their files back;
  - the read server reads its own writes while the standby's replay is paused, and
    /healthz reports the standby's lag (503 beyond server.max_standby_lag_s); with the
    standby down it reads from the primary (/healthz says so), and from the standby
    again once it is back;
  - with the primary down, every server answers 503 with Retry-After (no hang), while
    /v1/locate goes on for tokens read before (their last good answer stands in),
    and serves again when it is back;
  - with the primary frozen (kill -STOP), a server with database_timeout_s answers 503
    within it while /v1/locate and /healthz answer, and serves again once it is thawed;
  - `kill -9` of the primary in the middle of a household import leaves nothing
    half-written: after a restart the counts are the old ones and the import can run again.
Usage: scripts/test-postgres.py [--wangge PATH]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKS = []


class Failure(Exception):
    pass


def check(what, ok, detail=""):
    CHECKS.append(what)
    print(("ok   " if ok else "FAIL ") + what + (f" ({detail})" if detail else ""), flush=True)
    if not ok:
        raise Failure(what + (f": {detail}" if detail else ""))


def run(args, **kw):
    result = subprocess.run(args, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        raise Failure(f"{' '.join(args)} exited {result.returncode}: {result.stderr.strip()[-600:]}")
    return result.stdout


def postgres(*args):
    return run([os.path.join(ROOT, "scripts/postgres.sh"), *args]).strip()


def psql(url, statement):
    return run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", statement]).strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, token=None, method="GET", body=None, timeout=30):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Server:
    def __init__(self, wangge, workdir, db, read_db=None, config=None):
        self.port = free_port()
        args = [wangge, "serve", "--db", db, "--port", str(self.port)]
        if read_db:
            args += ["--read-db", read_db]
        if config:
            args += ["--config", config]
        self.log = open(os.path.join(workdir, f"serve-{self.port}.log"), "w")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, "WANGGE_LANGUAGE": "en"})
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if get(self.port, "/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise Failure(f"wangge serve exited {self.process.returncode}; see {self.log.name}")
            time.sleep(0.2)
        raise Failure(f"wangge serve on {self.port} did not start")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def wait_until(condition, limit):
    """Seconds until condition() held, polled every 20 ms; None after `limit` seconds."""
    start = time.time()
    while time.time() - start < limit:
        if condition():
            return time.time() - start
        time.sleep(0.02)
    return None


def answers(port, token, paths):
    out = {}
    for path in paths:
        status, _, body = get(port, path, token)
        document = json.loads(body) if body else None
        if isinstance(document, dict):
            document.pop("timeStamp", None)
            # Links name the server's own address.
            document.pop("links", None)
        out[path] = (status, document)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--wangge", default=os.path.join(ROOT, ".build/debug/wangge"))
    options = parser.parse_args()
    wangge = options.wangge
    workdir = tempfile.mkdtemp(prefix="wangge-pg-")
    clusters = os.path.join(ROOT, ".build/test-postgres-system")
    primary_dir, standby_dir = os.path.join(clusters, "primary"), os.path.join(clusters, "standby")
    for folder in (standby_dir, primary_dir):
        postgres("destroy", folder)
    servers = []
    try:
        primary = postgres("start", primary_dir)
        standby = postgres("standby", primary_dir, standby_dir)
        check("a primary and a hot standby run on loopback", psql(standby, "SELECT pg_is_in_recovery()") == "t", f"{primary}, {standby}")

        points = os.path.join(workdir, "points")
        run([wangge, "sample", "points", "--output-directory", points, "--households", "30000"])
        spatialite = os.path.join(workdir, "reference.sqlite")
        for db in (primary, spatialite):
            run([wangge, "import", "grids", "--db", db, os.path.join(ROOT, "GeoData/grids.geojson")])
            run([wangge, "import", "households", "--db", db, os.path.join(points, "households.csv")])
            run([wangge, "import", "cameras", "--db", db, os.path.join(points, "cameras.csv")])
        admin = run([wangge, "token", "create", "--db", primary, "--role", "admin", "--name", "admin"]).strip()
        # Kept through the revocation below, which revokes the last token made.
        dispatcher_kept = run([wangge, "token", "create", "--db", primary, "--role", "dispatcher", "--name", "dispatcher 2"]).strip()
        dispatcher = run([wangge, "token", "create", "--db", primary, "--role", "dispatcher", "--name", "dispatcher"]).strip()
        reference_admin = run([wangge, "token", "create", "--db", spatialite, "--role", "admin", "--name", "admin"]).strip()

        servers = [Server(wangge, workdir, primary), Server(wangge, workdir, primary), Server(wangge, workdir, primary, read_db=standby)]
        reference = Server(wangge, workdir, spatialite)
        servers_and_reference = servers + [reference]
        paths = ["/v1/locate?lon=112.3597&lat=28.8410", "/v1/locate?lon=112.15&lat=28.72", "/v1/locate?lon=112.9&lat=29.4",
                 "/v1/stats?by=town", "/v1/stats?by=grid", "/collections/grids/items?limit=5&bbox=112.3,28.8,112.4,28.9",
                 "/collections/households/items?limit=20&offset=40&bbox=112.33,28.82,112.37,28.86",
                 "/collections/cameras/items?limit=10", "/v1/grids/430981-001-017-002/households?limit=30"]
        seen = [answers(s.port, admin, paths) for s in servers] + [answers(reference.port, reference_admin, paths)]
        for path in paths:
            statuses = [a[path][0] for a in seen]
            check(f"{path}: the three PostGIS servers and SpatiaLite agree", all(a[path] == seen[0][path] for a in seen) and statuses[0] == 200,
                  f"statuses {statuses}")
        reference.stop()
        servers_and_reference.remove(reference)

        # A revocation reaches every server at once.
        token_id = run([wangge, "token", "list", "--db", primary]).strip().splitlines()[-1].split()[0]
        check("the dispatcher's token works on all three", all(get(s.port, paths[0], dispatcher)[0] == 200 for s in servers))
        run([wangge, "token", "revoke", "--db", primary, token_id])
        took = wait_until(lambda: all(get(s.port, paths[0], dispatcher)[0] == 401 for s in servers), 10)
        check("a token revoked with the CLI is refused by all three servers within a second", took is not None and took < 1.0,
              f"{took:.2f} s" if took is not None else "not within 10 s")

        # An activation reaches every server.
        run([wangge, "import", "grids", "--db", primary, os.path.join(ROOT, "GeoData/grids.geojson"), "--generation-name", "second"])
        # Announced at once (as the revocation above); each server then builds the new index (about a second, debug build).
        took = wait_until(lambda: all(json.loads(get(s.port, "/healthz")[2]).get("generation") == 2 for s in servers), 20)
        check("a grid import is served by all three servers, the standby's reader too, within seconds",
              took is not None and took < 8, f"{took:.2f} s" if took is not None else "not within 20 s")

        # A configuration stored in the database reaches every server (NOTIFY), and so does its removal.
        with open(os.path.join(points, "households.csv")) as source:
            source.readline()  # the header
            household = source.readline().split(",")[0]
        def phones():
            return [json.loads(get(s.port, f"/v1/households/{household}", dispatcher_kept)[2]).get("phone") for s in servers]
        phone = phones()[0]
        check("a dispatcher sees phone numbers masked by the files' privacy rules", phone is not None and "*" in phone and phones() == [phone] * 3,
              str(phones()))
        pushed = os.path.join(workdir, "pushed.yaml")
        with open(pushed, "w") as f:
            f.write("privacy:\n  dispatcher:\n    fields:\n      phone: full\n")
        bad = os.path.join(workdir, "bad.yaml")
        with open(bad, "w") as f:
            f.write("privacy:\n  dispatcher:\n    fields:\n      phone: visible\n")
        refused = subprocess.run([wangge, "config", "push", "--db", primary, "--config", bad], capture_output=True, text=True,
                                 env={**os.environ, "WANGGE_LANGUAGE": "en"})
        check("config push refuses a bad file naming it and the field, and stores nothing",
              refused.returncode == 1 and bad in refused.stderr and "privacy.dispatcher.fields.phone" in refused.stderr
              and "no configuration is stored" in run([wangge, "config", "show", "--db", primary], env={**os.environ, "WANGGE_LANGUAGE": "en"}),
              refused.stderr.strip()[:200])
        start = time.time()
        run([wangge, "config", "push", "--db", primary, "--config", pushed])
        pushed_at = time.time()
        took = wait_until(lambda: all(p is not None and "*" not in p for p in phones()), 10)
        check("a configuration pushed with the CLI is applied by all three servers within about a second",
              took is not None and took < 2.0,
              f"{took:.2f} s after the push ended ({pushed_at - start:.2f} s for the command)" if took is not None else "not within 10 s")
        shown = run([wangge, "config", "show", "--db", primary])
        check("config show prints the stored version and text", shown.splitlines()[0].startswith("#") and "phone: full" in shown, shown[:200])
        run([wangge, "config", "clear", "--db", primary])
        took = wait_until(lambda: phones() == [phone] * 3, 10)
        check("config clear gives every server its file's rules back within about a second", took is not None and took < 2.0,
              f"{took:.2f} s" if took is not None else "not within 10 s")

        # Reading one's own writes while the standby replays nothing.
        reader = servers[2]
        psql(standby, "SELECT pg_wal_replay_pause()")
        created = []
        for n in range(5):
            status, _, body = get(reader.port, "/v1/tokens", admin, method="POST", body={"role": "viewer", "name": f"viewer {n}"})
            created.append((status, json.loads(body).get("token")))
        usable = [get(reader.port, "/v1/towns", token)[0] for _, token in created]
        check("with the standby's replay paused, tokens created through the read server work on it at once (read your writes)",
              all(status == 201 for status, _ in created) and usable == [200] * 5, f"{[s for s, _ in created]} {usable}")
        health = json.loads(get(reader.port, "/healthz")[2])
        check("/healthz reports the standby's lag", "standby_lag_s" in health, json.dumps(health))
        # A new write the paused standby has not replayed; then the lag only grows.
        psql(primary, "INSERT INTO meta (key, value) VALUES ('lag-probe', 'x') ON CONFLICT (key) DO UPDATE SET value = 'y'")
        config = os.path.join(workdir, "lag.yaml")
        with open(config, "w") as f:
            f.write("server:\n  max_standby_lag_s: 1\n")
        strict = Server.__new__(Server)
        strict.port = free_port()
        strict.log = open(os.path.join(workdir, "serve-strict.log"), "w")
        strict.process = subprocess.Popen([wangge, "serve", "--db", primary, "--read-db", standby, "--port", str(strict.port), "--config", config],
                                          stdout=strict.log, stderr=subprocess.STDOUT)
        servers.append(strict)
        took = wait_until(lambda: _status(strict.port, "/healthz") == 503, 30)
        status, headers, _ = get(strict.port, "/healthz")
        check("a standby behind by more than max_standby_lag_s makes /healthz answer 503 with Retry-After",
              took is not None and "Retry-After" in headers, f"{status} {headers.get('Retry-After')}")
        psql(standby, "SELECT pg_wal_replay_resume()")
        took = wait_until(lambda: _status(strict.port, "/healthz") == 200, 30)
        check("once the standby replays again, /healthz is 200", took is not None)

        # The standby down: the read server reads from the primary and says so; the standby back, it reads there again.
        postgres("stop", standby_dir)
        start = time.time()
        status = _status(reader.port, "/v1/towns", admin)
        took = time.time() - start
        health = json.loads(get(reader.port, "/healthz")[2])
        check("with its standby down, the read server answers from the primary, and /healthz says so",
              status == 200 and took < 8 and health.get("standby") == "unavailable" and "standby_lag_s" not in health,
              f"{status} in {took:.2f} s, {json.dumps(health)}")
        postgres("standby", primary_dir, standby_dir)
        took = wait_until(lambda: "standby_lag_s" in json.loads(get(reader.port, "/healthz")[2]), 45)
        check("the standby back, the read server reads from it again (tried every 30 s)", took is not None,
              f"{took:.1f} s" if took is not None else "not within 45 s")

        # The primary down: 503 with Retry-After, no hang; back: served again.
        postgres("stop", primary_dir)
        results = []
        for s in servers[:2]:
            start = time.time()
            status, headers, body = get(s.port, "/v1/stats?by=town", admin)
            results.append((status, "Retry-After" in headers, time.time() - start, body))
        check("with the primary down, the servers answer 503 with Retry-After within the connect timeout",
              all(r[0] == 503 and r[1] and r[2] < 8 for r in results), str([(r[0], r[1], round(r[2], 2)) for r in results]))
        check("the 503 does not name the database's host or port", all(b"127.0.0.1" not in r[3] for r in results))
        # The admin's token falls due while the primary is down: its last good answer stands in
        # (TokenCache.outageGrace), so locating, answered from memory, goes on.
        time.sleep(5.5)
        located = [_status(s.port, paths[0], admin) for s in servers[:2]]
        check("with the primary down past the token cache's 5 s, /v1/locate still answers", located == [200, 200], str(located))
        postgres("start", primary_dir)
        took = wait_until(lambda: all(_status(s.port, "/v1/stats?by=town", admin) == 200 for s in servers[:2]), 30)
        check("the primary back, the servers answer again without a restart", took is not None, f"{took:.2f} s" if took else "")

        # The primary frozen (kill -STOP of the postmaster and every backend: the host's kernel still
        # acknowledges every byte, no RST, no FIN): a server bounded by database_timeout_s answers 503
        # within it, /v1/locate and /healthz answer meanwhile; thawed, it answers again without a restart.
        stall_config = os.path.join(workdir, "stall.yaml")
        with open(stall_config, "w") as f:
            f.write("server:\n  database_timeout_s: 2\n")
        bounded = Server(wangge, workdir, primary, config=stall_config)
        servers.append(bounded)
        check("a server bounded by database_timeout_s answers", _status(bounded.port, "/v1/stats?by=town", admin) == 200)
        # A token the server has just read (it keeps it 5 s): locating then needs nothing from the database.
        viewer = run([wangge, "token", "create", "--db", primary, "--role", "viewer", "--name", "viewer"]).strip()
        check("the viewer's token locates", _status(bounded.port, paths[0], viewer) == 200)
        frozen = _cluster_processes(primary_dir)
        subprocess.run(["kill", "-STOP", *frozen])
        try:
            stalled = {}
            def stalled_request():
                start = time.time()
                try:
                    status, headers, body = get(bounded.port, "/v1/stats?by=town", admin, timeout=120)
                    stalled.update(status=status, retry="Retry-After" in headers, body=body)
                except OSError as error:
                    stalled.update(status=str(error))
                stalled["seconds"] = time.time() - start
            waiter = threading.Thread(target=stalled_request)
            waiter.start()
            time.sleep(0.5)
            meanwhile = [_status(bounded.port, paths[0], viewer), _status(bounded.port, "/healthz")]
            still_waiting = waiter.is_alive()
            waiter.join(120)
            check("with the primary frozen, /v1/locate and /healthz answer while a database request waits",
                  meanwhile == [200, 200] and still_waiting, f"{meanwhile}, waiting: {still_waiting}")
            check("the request waiting for the frozen primary answers 503 with Retry-After within its bound, naming no host",
                  stalled.get("status") == 503 and stalled.get("retry") and stalled["seconds"] < 30 and b"127.0.0.1" not in stalled.get("body", b""),
                  f"{stalled.get('status')} after {stalled.get('seconds', 0):.1f} s")
        finally:
            subprocess.run(["kill", "-CONT", *frozen])
        took = wait_until(lambda: _status(bounded.port, "/v1/stats?by=town", admin) == 200, 60)
        check("the primary thawed, the bounded server answers again without a restart", took is not None, f"{took:.2f} s" if took else "")

        # kill -9 of the primary in the middle of an import.
        before = psql(primary, "SELECT (SELECT count(*) FROM households) || ' ' || (SELECT count(*) FROM assignments)")
        big = os.path.join(workdir, "big.csv")
        with open(os.path.join(points, "households.csv")) as source, open(big, "w") as out:
            lines = source.read().splitlines()
            out.write(lines[0] + "\n")
            for copy in range(8):
                for line in lines[1:]:
                    out.write(f"K{copy}-" + line + "\n")
        importer = subprocess.Popen([wangge, "import", "households", "--db", primary, big], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Kill once the import's COPY is under way.
        copying = wait_until(lambda: psql_quiet(primary, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY staged_%'") not in ("", "0"), 60)
        # As a power cut would: the postmaster and every backend at once, no shutdown.
        subprocess.run(["kill", "-9", *_cluster_processes(primary_dir)])
        _, errors = importer.communicate(timeout=60)
        check("an import whose database is killed under it fails with a clear message", importer.returncode != 0 and copying is not None,
              errors.strip().splitlines()[-1][:200] if errors.strip() else "no message")
        subprocess.run(["rm", "-f", os.path.join(primary_dir, "postmaster.pid")])
        postgres("start", primary_dir)
        after = psql(primary, "SELECT (SELECT count(*) FROM households) || ' ' || (SELECT count(*) FROM assignments)")
        check("after the crash and a restart, nothing of the import is stored", before == after, f"{before} → {after}")
        run([wangge, "import", "households", "--db", primary, big])
        total = int(psql(primary, "SELECT count(*) FROM households"))
        check("the import then runs whole", total == int(before.split()[0]) + 8 * 30000, str(total))
    except Failure:
        # What the servers logged (the causes of their 5xx), before the folder goes.
        for s in servers:
            s.log.flush()
            with open(s.log.name) as log:
                print(f"--- {os.path.basename(s.log.name)}:\n" + "".join(log.readlines()[-15:]), file=sys.stderr)
        raise
    finally:
        for s in servers:
            s.stop()
        for folder in (standby_dir, primary_dir):
            subprocess.run([os.path.join(ROOT, "scripts/postgres.sh"), "destroy", folder], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"test-postgres: {len(CHECKS)} checks passed")


def _cluster_processes(folder):
    """The postmaster's process id and its children's (the backends and helpers)."""
    postmaster = open(os.path.join(folder, "postmaster.pid")).readline().strip()
    return [postmaster, *subprocess.run(["pgrep", "-P", postmaster], capture_output=True, text=True).stdout.split()]


def _status(port, path, token=None):
    try:
        return get(port, path, token, timeout=5)[0]
    except OSError:
        return None


def psql_quiet(url, statement):
    result = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-d", url, "-c", statement], capture_output=True, text=True)
    return result.stdout.strip()


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        print(f"test-postgres: FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
