# Thin wrapper over CMake: the README's commands. BUILD, SAN_BUILD, JOBS and FUZZ_SECONDS may be
# overridden.
BUILD ?= build
SAN_BUILD ?= build-san
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 30

.PHONY: build test check sanitize fuzz-smoke demo demo-mri bench clean

# The Python module builds with the interpreter of $(BUILD)/py-venv (nanobind from PyPI); without
# that environment (offline) everything else still builds and the module's tests say why they skip.
$(BUILD)/build.ninja:
	PY=$$(scripts/python-env.sh $(BUILD)/py-venv) || PY=; \
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $${PY:+-DPython_EXECUTABLE=$$PY} $(CMAKE_FLAGS)

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# Everything CI runs: the tests, the unit tests under ASan + UBSan, and 30 s of each fuzz target.
check: test sanitize fuzz-smoke

# The instrumented lane, one clang build in $(SAN_BUILD) (-O1, CUDA off) that serves both: the unit
# tests under AddressSanitizer and UndefinedBehaviorSanitizer (`sanitize`: only what `ctest -L unit`
# runs is built, pda_tests and the pda program; leak reports are on) and the libFuzzer targets
# (`fuzz-smoke`), so the library is compiled once, with the sanitizers and libFuzzer's coverage
# instrumentation. Line tables only (-g1): reports name file and line, and full debug information
# doubled the compile time. The stamp names this configuration: a folder configured otherwise (gcc,
# without the fuzz targets) is made again, since CMake cannot change a folder's compiler.
SAN_STAMP = $(SAN_BUILD)/pda-lane-clang-fuzz
$(SAN_STAMP):
	rm -rf $(SAN_BUILD)
	CC=clang CXX=clang++ cmake -S . -B $(SAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
	    -DPDA_SANITIZE=ON -DPDA_FUZZ=ON -DPDA_WITH_CUDA=OFF -DPDA_BUILD_BENCH=OFF
	touch $@

sanitize: $(SAN_STAMP)
	cmake --build $(SAN_BUILD) -j $(JOBS) --target pda_tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --test-dir $(SAN_BUILD) -L unit --output-on-failure -j $(JOBS)

fuzz-smoke: $(SAN_STAMP)
	BUILD_FUZZ=$(SAN_BUILD) JOBS=$(JOBS) scripts/fuzz.sh $(FUZZ_SECONDS)

demo: build
	scripts/demo.sh $(BUILD)

# The volume demo: a synthetic MRI cohort, the paper's logistic regression, one patient explained.
demo-mri: build
	scripts/demo-mri.sh $(BUILD)

bench: build
	scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(SAN_BUILD) build-fuzz
