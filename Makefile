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
	swift test --skip-build --disable-xctest

# Not a test: prints assignment throughput and peak memory (see README).
bench: build
	.build/release/wangge bench
