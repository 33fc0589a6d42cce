# tend's build, test and lint entry points. `make test` is what CI runs
# (.ci/run); every target exits non-zero when any step fails.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO ?= go
PKG := github.com/tendhq/tend
BIN := bin/tend

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -X $(PKG)/internal/cli.version=$(VERSION) \
	-X $(PKG)/internal/cli.commit=$(COMMIT) \
	-X $(PKG)/internal/cli.buildDate=$(BUILD_DATE)

# Tools are pinned and cached outside the clone, so a clean checkout (CI)
# installs them once per machine and `git status` stays clean.
STATICCHECK_VERSION := v0.8.2
TOOLS_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/tend/tools/staticcheck-$(STATICCHECK_VERSION)
STATICCHECK := $(TOOLS_DIR)/staticcheck

FUZZTIME ?= 10s
BENCHTIME ?= 1s

# phase NAME, COMMAND: run COMMAND, then print how long it took, also when it
# fails, and keep its exit status.
define phase
	@echo "==> $(1)"; \
	t0=$$(date +%s%N); rc=0; \
	{ $(2); } || rc=$$?; \
	ms=$$(( ($$(date +%s%N) - t0) / 1000000 )); \
	if [ $$rc -eq 0 ]; then status=ok; else status="FAILED (exit $$rc)"; fi; \
	printf '==> %s: %s in %d.%03ds\n' "$(1)" "$$status" $$((ms / 1000)) $$((ms % 1000)); \
	exit $$rc
endef

.PHONY: build test vet lint fuzz bench clean screenshots demo soak

# The binary is built without cgo, as the container image is: tend needs
# none (SQLite is pure Go), and with cgo the linker exports every symbol
# dynamically for the `plugin` package that a Helm dependency links, which
# makes the binary 30 MB larger and tend serve's idle resident memory about
# 35 MiB more (docs/PERFORMANCE.md, Footprint).
TEND_CGO ?= 0

## build: compile ./bin/tend with version information
build:
	CGO_ENABLED=$(TEND_CGO) $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/tend

## demo: build tend, then play Keptn's tutorial from onboarding and delivery
## to self-healing on a Kubernetes cluster, Prometheus, Alertmanager,
## PostgreSQL and Unleash of its own, installed or built when missing
## (scripts/demo.sh); stops what it started
demo: build
	scripts/demo.sh

## test: start the real components (scripts/test.sh), go vet, then every test
## with the race detector; stops what it started
test:
	GO=$(GO) scripts/test.sh

## soak: the kill -9 test at scale, not part of `make test`: at least 100
## kills over at least 100 remediations on SQLite, then on PostgreSQL with
## two replicas (started and stopped here); numbers in docs/reliability.md
soak:
	@pg=$$(scripts/postgres.sh start) && eval "$$pg" && \
		trap 'scripts/postgres.sh stop >/dev/null' EXIT && \
		$(GO) test -count=1 -timeout 75m -v \
			-run '^(TestCrashDuringRemediations|TestSoakTwoReplicasKilled)$$' ./test/remediation -args -soak \
			| tee /dev/stderr | grep 'soak result:' | sed 's/^ *//'

## lint: gofmt, go vet and staticcheck must all be clean
lint: $(STATICCHECK)
	$(call phase,gofmt,out=$$(gofmt -l .) && test -z "$$out" || { echo "not gofmt-ed:"; echo "$$out"; false; })
	$(call phase,go vet,$(GO) vet ./...)
	$(call phase,staticcheck,$(STATICCHECK) ./...)

$(STATICCHECK):
	@echo "==> installing staticcheck $(STATICCHECK_VERSION) into $(TOOLS_DIR)"
	@mkdir -p $(TOOLS_DIR)
	GOBIN=$(TOOLS_DIR) GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## fuzz: run every fuzz target briefly (FUZZTIME, default 10s each)
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		listed=$$($(GO) test -list '^Fuzz' "$$pkg"); \
		for target in $$(grep '^Fuzz' <<<"$$listed" || true); do \
			echo "==> fuzz $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime=$(FUZZTIME) "$$pkg"; \
		done; \
	done

## bench: run every benchmark (numbers go into docs/PERFORMANCE.md)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=$(BENCHTIME) ./...

## screenshots: run the web UI's browser tests against Debian's Chromium
## (installed by scripts/chromium.sh when missing) and keep their renderings
## in docs/screenshots
screenshots:
	eval "$$(scripts/chromium.sh start)" && \
		TEND_SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^TestBrowser$$' ./internal/ui/

## clean: remove build and coverage output
clean:
	rm -rf bin coverage.out coverage.html *.coverprofile
