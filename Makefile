# kitbag — the two commands of the README's quick start, plus the slower suites.
#   make run    set up, build and run `kitbag demo` on the built-in sandboxes
#   make test   set up, build and run the tests (the proof suites in their short version)
#   make test-library  the library targets' tests only (under a minute: fast feedback for library work)
#   make proof  the proof suites at full size, then each fuzz target for FUZZ_SECONDS
#   make install PREFIX=/usr/local   a release build, a man page per command and shell completions
SHELL := /bin/bash
DEBIAN_PACKAGES := libarchive-dev libxml2-dev libsqlite3-dev pkg-config libarchive-tools zstd unzip zip libpng-dev python3-jsonschema
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build run test test-library bench proof clean-demo install man completions

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
	$(MAKE) man completions OUT=.build/share
	set -o pipefail; KITBAG_MAN_DIR=.build/share/man/man1 $(SWIFT) test --skip-build 2>&1 | tee .build/test-output.log
	bash Tests/Support/scan-output.sh .build/test-output.log

## The libraries' own tests, without the connectors, sandboxes, CLI and conformance suites that drive whole accounts:
## on an idle 2-core machine Core 3.5 s, Archive 15 s, Journal 0.8 s, Render 1.0 s, Connector 2.2 s, HTTP 3.0 s (pacing
## runs on injected clocks), Backup 31 s. One suite alone: swift test --skip-build --filter SuiteName.
LIBRARY_TESTS := KitbagCoreTests|KitbagArchiveTests|KitbagJournalTests|KitbagRenderTests|KitbagConnectorTests|KitbagHTTPTests|KitbagBackupTests
test-library: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --filter '^($(LIBRARY_TESTS))\.'

## Installs a release build with its man pages (swift-argument-parser's generate-manual plugin) and completions.
PREFIX ?= /usr/local
DESTDIR ?=
install: deps
	$(SWIFT) build -c release --product kitbag
	install -D -m 0755 "$$($(SWIFT) build -c release --show-bin-path)/kitbag" "$(DESTDIR)$(PREFIX)/bin/kitbag"
	$(MAKE) man completions CONFIGURATION=release OUT="$(DESTDIR)$(PREFIX)/share"

## Man pages into $(OUT)/man/man1 and bash, zsh and fish completions into $(OUT), from the built binary.
CONFIGURATION ?= debug
OUT ?= .build/share
man:
	$(SWIFT) package plugin --allow-writing-to-package-directory generate-manual --configuration $(CONFIGURATION) --multi-page
	mkdir -p "$(OUT)/man/man1"
	install -m 0644 .build/plugins/GenerateManual/outputs/kitbag/*.1 "$(OUT)/man/man1/"

completions:
	bin="$$($(SWIFT) build -c $(CONFIGURATION) --show-bin-path)/kitbag"; \
	install -d "$(OUT)/bash-completion/completions" "$(OUT)/zsh/site-functions" "$(OUT)/fish/vendor_completions.d"; \
	"$$bin" --generate-completion-script bash > "$(OUT)/bash-completion/completions/kitbag"; \
	"$$bin" --generate-completion-script zsh > "$(OUT)/zsh/site-functions/_kitbag"; \
	"$$bin" --generate-completion-script fish > "$(OUT)/fish/vendor_completions.d/kitbag.fish"

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
