# The two commands of the README: `make demo` (the main job) and `make test`.
# Both install what is missing first and can be run again.
.PHONY: setup demo test bench build

setup:
	@scripts/setup.sh

build: setup
	swift build -c release --product wangge

demo: build
	scripts/demo.sh

test: setup
	swift build --build-tests
	scripts/test-openapi.sh
	scripts/test-ogc-gdal.sh
	scripts/test-map-interactive.sh
	swift test --skip-build --disable-xctest

# Not a test: prints assignment throughput, peak memory, map frame times and
# locate --input end to end beside DuckDB spatial and GeoPandas (see README).
bench: build
	.build/release/wangge bench assign
	.build/release/wangge bench assign --province
	.build/release/wangge bench map
	.build/release/wangge bench coverage
	scripts/bench-server.sh
	scripts/bench-locate.sh
