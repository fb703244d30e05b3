# Front door: every target installs what is missing, then drives CMake.
#   make demo     dev cluster + the three send-mode examples + console + kcat read-back
#   make test     the whole suite (normal, ASan+UBSan, TSan) in one CTest run
#   make install  PREFIX=/usr/local DESTDIR=
#   make fuzz     libFuzzer targets (clang), FUZZ_SECONDS each (tests/fuzz/)
BUILD   ?= build
PREFIX  ?= /usr/local
export DESTDIR
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build demo test install bench docs clean fuzz
all: build

deps:
	@sh scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@sh scripts/demo.sh $(BUILD)

# The CTest summary is the last thing printed.
test: deps
	@cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DKPROD_SANITIZERS=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) >$(BUILD).log 2>&1 || { cat $(BUILD).log; exit 1; }
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

docs: build
	@$(BUILD)/tools/gen-config-doc > docs/CONFIGURATION.md
	@$(BUILD)/tools/gen-errors-doc > docs/ERRORS.md
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
