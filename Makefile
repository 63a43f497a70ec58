# kitbag — the two commands of the README's quick start, plus the slower suites.
#   make run    set up, build and run `kitbag demo` on the built-in sandboxes
#   make test   set up, build and run the tests (the proof suites in their short version)
#   make proof  the proof suites at full size, then each fuzz target for FUZZ_SECONDS
SHELL := /bin/bash
DEBIAN_PACKAGES := libarchive-dev libxml2-dev libsqlite3-dev pkg-config libarchive-tools zstd unzip zip
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build run test bench proof clean-demo

## Install the Debian packages kitbag needs, only those missing.
deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

build: deps
	$(SWIFT) build

run: build
	$(SWIFT) run --skip-build kitbag demo

## The whole test output is kept in .build/test-output.log and scanned for the tests' credentials
## (Tests/Support/credentials.txt); every test also scans its scratch folders and kitbag's output.
test: deps
	$(SWIFT) build --build-tests
	set -o pipefail; $(SWIFT) test --skip-build 2>&1 | tee .build/test-output.log
	bash Tests/Support/scan-output.sh .build/test-output.log

bench: deps
	bash Benchmarks/run.sh

## The full-size proof suites (tens of minutes), then each libFuzzer target for FUZZ_SECONDS: 20 SIGKILLed imports
## per service and 20 killed backups, 20 exports under faults per connector, 100 flips and 20 truncations per archive
## kind, hostile inputs, misbehaving servers, fuzz-corpus replays. `make test` runs a short version of each.
## Replay a failure with KITBAG_PROOF_SEED=<the seed it printed>.
FUZZ_SECONDS ?= 60
PROOF_SUITES := KillAndResumeTests|anExportUnderFaults|CorruptionTests|HostileInputTests|HostileArchiveTests|VerifyTests|MisbehavingServerTests|FeedReaderTests|FuzzCorpusTests
proof: deps
	$(SWIFT) build --build-tests
	KITBAG_PROOF=1 $(SWIFT) test --skip-build --filter '$(PROOF_SUITES)'
	bash Fuzz/run.sh $(FUZZ_SECONDS)

clean-demo:
	rm -rf kitbag-demo
