# Front door: every target installs what is missing, then drives CMake.
#   make demo     dev cluster + the three send-mode examples + console + kcat read-back
#   make test     the whole suite (normal, ASan+UBSan, TSan) in one CTest run
#   make install  PREFIX=/usr/local DESTDIR=
BUILD   ?= build
PREFIX  ?= /usr/local
export DESTDIR
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build demo test install bench docs clean
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

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

bench: build
	@sh bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD).log
