# The two commands of the README: `make demo` (the main job) and `make test`.
# Both install what is missing first and can be run again.
# bash for `time`: each step of the test command prints what it took, so CI's log shows where its minutes go.
SHELL := /bin/bash

.PHONY: setup setup-test demo test bench build fuzz

setup:
	@scripts/setup.sh

# The tests and benchmarks also drive the web map in Debian's headless Chromium.
setup-test:
	@scripts/setup.sh test

# The Swift runtime and Foundation linked in: the executable starts about
# 7 ms sooner (fewer shared libraries to load and bind) and runs on a machine
# with Debian's GEOS, PROJ, SQLite/SpatiaLite and libpq alone, no Swift toolchain.
# Linked by lld: gold repeats glibc's link-time note on the static Foundation's
# use of mktemp as a warning on every build.
build: setup
	swift build -c release --product wangge --static-swift-stdlib -Xswiftc -use-ld=lld

demo: build
	scripts/demo.sh

test: setup-test
	time swift build --build-tests
	time scripts/test-openapi.sh
	time scripts/test-ogc-gdal.sh
	time scripts/test-map-interactive.sh
	time scripts/test-browser-driver.py
	time scripts/test-web-map.py
	time scripts/test-schemathesis.sh
	time scripts/test-crash.py
	time scripts/test-postgres.py
	time scripts/fuzz.sh 20
	time swift test --skip-build --disable-xctest

# Longer campaigns than the test command's: libFuzzer 10 minutes per parser
# (new finds merged into Tests/Fixtures/fuzz), schemathesis with 300 cases per
# operation and role, 25 crash rounds per scenario.
fuzz: setup
	swift build --build-tests
	FUZZ_CONFIGURATION=release MERGE=yes scripts/fuzz.sh 600
	EXAMPLES=300 scripts/test-schemathesis.sh
	scripts/test-crash.py --rounds 25

# Not a test: prints assignment throughput, peak memory, map frame times and
# locate --input end to end beside DuckDB spatial and GeoPandas, household
# imports beside ogr2ogr, vector tiles of a province beside GeoJSON, and PostGIS beside
# SpatiaLite (imports, two servers on one database) (see README).
bench: build setup-test
	.build/release/wangge bench assign
	.build/release/wangge bench assign --province
	.build/release/wangge bench map
	.build/release/wangge bench coverage
	scripts/bench-server.sh
	scripts/bench-locate.sh
	scripts/bench-import.sh
	scripts/bench-web.py
	scripts/bench-tiles.sh
	scripts/bench-postgres.sh
