# The front door. `make test` and `make demo` are all a fresh machine needs.
#   make        build (optimised) into build/
#   make test   install missing packages, build, run every test; then again under
#               AddressSanitizer + UndefinedBehaviorSanitizer (without the exhaustive tests)
#   make demo   build and run the main job (for now: `ampc info`)
#   make bench  install the optional comparison libraries (oneDNN), build, run the benchmarks
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
JOBS ?= $(shell nproc)
CTEST_FLAGS ?= --output-on-failure -j $(JOBS)

.PHONY: all build deps test test-release test-sanitize demo bench clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: test-release test-sanitize

test-release: build
	ctest --test-dir $(BUILD_DIR) $(CTEST_FLAGS)

test-sanitize: deps
	@cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DAMPC_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_DIR) -j $(JOBS)
	ctest --test-dir $(ASAN_DIR) $(CTEST_FLAGS) -LE exhaustive

demo: build
	$(BUILD_DIR)/ampc info

# Installs the optional comparison libraries (as root) before building, so CMake sees them.
bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory build
	$(BUILD_DIR)/ampc bench convert
	$(BUILD_DIR)/ampc bench gemm
	$(BUILD_DIR)/ampc bench ops

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
