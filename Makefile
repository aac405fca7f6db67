# The two commands of the README: `make demo` (the main job) and `make test`.
# Both install what is missing first and can be run again.
.PHONY: setup setup-test demo test bench build fuzz

setup:
	@scripts/setup.sh

# The tests and benchmarks also drive the web map in Debian's headless Chromium.
setup-test:
	@scripts/setup.sh test

build: setup
	swift build -c release --product wangge

demo: build
	scripts/demo.sh

test: setup-test
	swift build --build-tests
	scripts/test-openapi.sh
	scripts/test-ogc-gdal.sh
	scripts/test-map-interactive.sh
	scripts/test-browser-driver.py
	scripts/test-web-map.py
	scripts/test-schemathesis.sh
	scripts/test-crash.py
	scripts/fuzz.sh 20
	swift test --skip-build --disable-xctest

# Longer campaigns than the test command's: libFuzzer 10 minutes per parser
# (new finds merged into Tests/Fixtures/fuzz), schemathesis with 300 cases per
# operation and role, 25 crash rounds per scenario.
fuzz: setup
	swift build --build-tests
	MERGE=yes scripts/fuzz.sh 600
	EXAMPLES=300 scripts/test-schemathesis.sh
	scripts/test-crash.py --rounds 25

# Not a test: prints assignment throughput, peak memory, map frame times and
# locate --input end to end beside DuckDB spatial and GeoPandas, household
# imports beside ogr2ogr, and vector tiles of a province beside GeoJSON (see README).
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
