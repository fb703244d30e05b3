# Front door: every target installs what is missing, then drives CMake.
#   make demo     dev cluster + the three send-mode examples + console + kcat read-back
#   make test     the whole suite (normal, ASan+UBSan, TSan) in one CTest run
#   make install  PREFIX=/usr/local DESTDIR=
#   make bench    kprod against librdkafka 2.15.1 on one kprod-mock cluster
#   make fuzz     libFuzzer targets (clang), FUZZ_SECONDS each (tests/fuzz/)
# The mock cluster, the tests and the benchmark use librdkafka 2.15.1, built
# once into ~/.cache/kprod by scripts/build-librdkafka.sh (a line says so
# while it builds; nothing happens when it is there), whose printed prefix
# goes to CMake as KPROD_RDKAFKA_PREFIX (cmake/rdkafka.cmake).
BUILD   ?= build
PREFIX  ?= /usr/local
export DESTDIR
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build demo test install bench docs clean fuzz
all: build

deps:
	@sh scripts/install-deps.sh
	@sh scripts/build-librdkafka.sh >/dev/null

# configure [EXTRA CMAKE ARGS]: the build tree, with librdkafka 2.15.1's prefix
configure = rdk=$$(sh scripts/build-librdkafka.sh) && \
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DKPROD_RDKAFKA_PREFIX="$$rdk" $(1) $(CMAKE_FLAGS) >/dev/null

build: deps
	@$(call configure)
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@sh scripts/demo.sh $(BUILD)

# The CTest summary is the last thing printed.
test: deps
	@$(call configure,-DKPROD_SANITIZERS=ON)
	@cmake --build $(BUILD) -j $(JOBS) >$(BUILD).log 2>&1 || { cat $(BUILD).log; exit 1; }
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

docs: build
	@$(BUILD)/tools/gen-config-doc > docs/CONFIGURATION.md
	@$(BUILD)/tools/gen-errors-doc > docs/ERRORS.md
	@$(BUILD)/tools/gen-metrics-doc > docs/METRICS.md
	@$(BUILD)/tools/gen-errors-doc --codes > src/base/kafka_codes.h

# libFuzzer (clang, ASan+UBSan) in its own build tree: each target of
# tests/fuzz/ runs FUZZ_SECONDS, one after another, and its corpus in
# tests/fuzz/corpus/<target>/ is replaced by the minimised merge of old and
# new inputs (commit it; make test replays it). FUZZ_TARGETS: a subset.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
fuzz: deps
	@command -v clang >/dev/null || { echo "make fuzz needs clang (Debian: apt-get install clang)"; exit 1; }
	@CC=clang cmake -S tests/fuzz -B $(FUZZ_BUILD) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) >$(FUZZ_BUILD).log 2>&1 || { cat $(FUZZ_BUILD).log; exit 1; }
	@sh tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

bench: build
	@sh bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD).log
