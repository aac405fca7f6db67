#!/usr/bin/env python3
"""Crash test: `kill -9` at random moments of an import, an activation and a
burst of incident POSTs, then checks that the file is whole:
PRAGMA integrity_check, CheckSpatialIndex on every spatial table, counts
all-old-or-all-new, and every acknowledged (201) POST present.

Drives the real `wangge` executable; checks with the `spatialite` CLI.
Usage: scripts/test-crash.py [--rounds N] [--seed S] [--wangge PATH]
"""
import argparse
import json
import os
import random
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

SPATIAL_TABLES = ["towns", "villages", "grids", "households", "cameras", "incidents"]


class Failure(Exception):
    pass


def run(args, **kw):
    result = subprocess.run(args, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        raise Failure(f"{' '.join(args)} exited {result.returncode}: {result.stderr.strip()[-400:]}")
    return result.stdout


def sql(db, statement):
    """One value-per-line answer of the spatialite CLI (mod_spatialite loaded)."""
    out = subprocess.run(["spatialite", "-silent", "-bail", db, statement], capture_output=True, text=True)
    if out.returncode != 0:
        raise Failure(f"spatialite {db}: {statement}: {out.stderr.strip()}")
    return [line for line in out.stdout.splitlines() if line.strip()]


def copy_database(source, target):
    for suffix in ["", "-wal", "-shm"]:
        if os.path.exists(target + suffix):
            os.remove(target + suffix)
        if os.path.exists(source + suffix):
            shutil.copyfile(source + suffix, target + suffix)


def check_whole(db, what):
    """integrity_check ok and every spatial index consistent with its table."""
    integrity = sql(db, "PRAGMA integrity_check;")
    if integrity != ["ok"]:
        raise Failure(f"{what}: integrity_check says {integrity[:5]}")
    for table in SPATIAL_TABLES:
        status = sql(db, f"SELECT CheckSpatialIndex('{table}', 'geom');")
        if status != ["1"]:
            raise Failure(f"{what}: CheckSpatialIndex('{table}', 'geom') = {status}")


def count(db, statement):
    return int(sql(db, statement)[0])


def kill_after(process, seconds):
    time.sleep(seconds)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True
    process.wait()
    return False


def interrupted_round(base, db, command, duration, rng, label):
    """A fresh copy of the base file, the command killed at a random moment of
    its usual duration, and the file checked whole; (killed, label for errors)."""
    copy_database(base, db)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed = kill_after(process, rng.uniform(0.05, duration))
    what = f"{label}{' (killed)' if killed else ' (finished first)'}"
    check_whole(db, what)
    return killed, what


def households_csv(path, first, n, rng):
    with open(path, "w") as f:
        f.write("id,lon,lat,address,head,members\n")
        for i in range(first, first + n):
            f.write(f"H{i},{112.30 + rng.random() * 0.55:.6f},{28.75 + rng.random() * 0.38:.6f},沅江市某路{i}号,户主{i},{1 + i % 5}\n")


def scenario_import(wangge, work, rounds, rng):
    """A household import killed mid-way leaves all the old rows or all the new ones."""
    base = f"{work}/import-base.sqlite"
    run([wangge, "import", "grids", "--db", base, "GeoData/grids.geojson"])
    households_csv(f"{work}/old.csv", 0, 2000, rng)
    run([wangge, "import", "households", "--db", base, f"{work}/old.csv"])
    households_csv(f"{work}/new.csv", 2000, 30000, rng)
    # One run to completion: the "all new" state and how long an import takes.
    db = f"{work}/import.sqlite"
    copy_database(base, db)
    started = time.monotonic()
    run([wangge, "import", "households", "--db", db, f"{work}/new.csv"])
    duration = time.monotonic() - started
    old, new = 2000, 32000
    assert count(db, "SELECT count(*) FROM households;") == new
    kills = 0
    for r in range(rounds):
        killed, what = interrupted_round(base, db, [wangge, "import", "households", "--db", db, f"{work}/new.csv"],
                                         duration, rng, f"import round {r + 1}")
        kills += killed
        households = count(db, "SELECT count(*) FROM households;")
        assigned = count(db, "SELECT count(*) FROM assignments WHERE layer = 'household' "
                             "AND generation_id = (SELECT id FROM generations WHERE status = 'active');")
        if households not in (old, new) or assigned != households:
            raise Failure(f"{what}: {households} households, {assigned} assigned: expected {old} or {new}, all assigned")
        # The interrupted import can simply be run again.
        run([wangge, "import", "households", "--db", db, f"{work}/new.csv"])
        if count(db, "SELECT count(*) FROM households;") != new:
            raise Failure(f"{what}: re-running the import did not complete it")
    return kills


def scenario_activation(wangge, work, rounds, rng):
    """An activation killed mid-way leaves generation 1 active, or generation 2 active and fully assigned."""
    base = f"{work}/plan-base.sqlite"
    run([wangge, "import", "grids", "--db", base, "GeoData/grids.geojson"])
    households_csv(f"{work}/plan.csv", 0, 20000, rng)
    run([wangge, "import", "households", "--db", base, f"{work}/plan.csv"])
    run([wangge, "plan", "new", "--db", base, "--from", "active", "--name", "crash test"])
    run([wangge, "plan", "merge", "--db", base, "430981-001-017-001", "430981-001-017-003"])
    db = f"{work}/plan.sqlite"
    copy_database(base, db)
    started = time.monotonic()
    run([wangge, "plan", "activate", "--db", db, "2"])
    duration = time.monotonic() - started
    points = count(db, "SELECT (SELECT count(*) FROM households) + (SELECT count(*) FROM cameras) + (SELECT count(*) FROM incidents);")
    kills = 0
    for r in range(rounds):
        killed, what = interrupted_round(base, db, [wangge, "plan", "activate", "--db", db, "2"],
                                         duration, rng, f"activation round {r + 1}")
        kills += killed
        active = sql(db, "SELECT id FROM generations WHERE status = 'active';")
        if active not in (["1"], ["2"]):
            raise Failure(f"{what}: active generations {active}")
        assigned = count(db, f"SELECT count(*) FROM assignments WHERE generation_id = {active[0]};")
        if assigned != points:
            raise Failure(f"{what}: generation {active[0]} active with {assigned} of {points} points assigned")
        if active == ["1"]:
            drafts = sql(db, "SELECT status FROM generations WHERE id = 2;")
            if drafts != ["draft"]:
                raise Failure(f"{what}: generation 1 active but generation 2 is {drafts}")
            run([wangge, "plan", "activate", "--db", db, "2"])
    return kills


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scenario_posts(wangge, work, rounds, rng):
    """Every incident the server acknowledged with 201 is there after a kill -9."""
    db = f"{work}/posts.sqlite"
    run([wangge, "import", "grids", "--db", db, "GeoData/grids.geojson"])
    token = run([wangge, "token", "create", "--db", db, "--role", "dispatcher", "--name", "crash"]).strip()
    acknowledged = []
    kills = 0
    for r in range(rounds):
        port = free_port()
        server = subprocess.Popen([wangge, "serve", "--db", db, "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1)
                break
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        else:
            server.kill()
            raise Failure(f"posts round {r + 1}: the server did not start")
        stop = threading.Event()
        lock = threading.Lock()

        def client(seed):
            local = random.Random(seed)
            while not stop.is_set():
                body = json.dumps({"lon": 112.33 + local.random() * 0.05, "lat": 28.82 + local.random() * 0.04,
                                   "category": "矛盾纠纷", "channel": "12345", "severity": "简单",
                                   "description": "crash test"}).encode()
                request = urllib.request.Request(f"{url}/v1/incidents", data=body, method="POST",
                                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=5) as response:
                        if response.status == 201:
                            with lock:
                                acknowledged.append(json.load(response)["id"])
                except (urllib.error.URLError, OSError, ValueError):
                    pass  # refused or cut by the kill: not acknowledged, may or may not be stored

        threads = [threading.Thread(target=client, args=(rng.random(),)) for _ in range(4)]
        for t in threads:
            t.start()
        killed = kill_after(server, rng.uniform(0.3, 2.0))
        kills += killed
        stop.set()
        for t in threads:
            t.join()
        what = f"posts round {r + 1}"
        check_whole(db, what)
        stored = set(sql(db, "SELECT id FROM incidents;"))
        missing = [i for i in acknowledged if i not in stored]
        if missing:
            raise Failure(f"{what}: {len(missing)} acknowledged incidents missing, e.g. {missing[:3]}")
        events = count(db, "SELECT count(*) FROM incidents WHERE id NOT IN (SELECT incident_id FROM incident_events);")
        if events:
            raise Failure(f"{what}: {events} incidents without their report event")
    return kills, len(acknowledged)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--wangge", default=os.environ.get("WANGGE", ".build/debug/wangge"))
    args = parser.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    rng = random.Random(args.seed)
    print(f"crash: seed {args.seed}, {args.rounds} rounds per scenario (rerun with --seed {args.seed})")
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="wangge-crash-") as work:
        for name, scenario in [("import", scenario_import), ("activation", scenario_activation), ("posts", scenario_posts)]:
            try:
                result = scenario(args.wangge, work, args.rounds, rng)
                if name == "posts":
                    kills, acked = result
                    print(f"ok: {name}: {kills} kill -9 of the server during POST bursts; all {acked} acknowledged incidents present, file whole")
                else:
                    print(f"ok: {name}: {result} kill -9 in {args.rounds} rounds; file whole, counts all-old-or-all-new")
                passed += 1
            except Failure as error:
                print(f"FAILED: {name}: {error}")
                failed += 1
    print(f"crash: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
