# vmrep: see README.md. Every target installs what it needs.
GO      ?= go
BIN     := bin
GOBIN   := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)

.PHONY: all build deps test test-unit test-race fuzz-smoke bench bench-smoke demo clean reliability install

all: build

# The version --version prints: the commit, "-dirty" with local changes.
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo devel)

build:
	$(GO) build -ldflags "-X github.com/vmrep/vmrep/internal/version.version=$(VERSION)" -o $(BIN)/ ./cmd/...

deps:
	@scripts/deps.sh

# Installs the binaries, the systemd unit (its ExecStart pointed at
# BINDIR) and the sample Prometheus configuration; running it again
# installs the same files. DESTDIR stages the tree for a package.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
UNITDIR ?= /etc/systemd/system
DOCDIR  ?= $(PREFIX)/share/doc/vmrep
install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 $(BIN)/vmrep $(BIN)/vmrepd $(DESTDIR)$(BINDIR)/
	sed 's|/usr/local/bin/vmrepd|$(BINDIR)/vmrepd|' packaging/vmrepd.service > $(DESTDIR)$(UNITDIR)/vmrepd.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/vmrepd.service.tmp
	mv -f $(DESTDIR)$(UNITDIR)/vmrepd.service.tmp $(DESTDIR)$(UNITDIR)/vmrepd.service
	install -m 0644 packaging/prometheus.yml $(DESTDIR)$(DOCDIR)/
	@if [ -z "$(DESTDIR)" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "installed; start the daemon with: systemctl enable --now vmrepd"

# The whole test suite, as CI runs it.
test: deps build
	$(GO) vet ./...
	staticcheck ./...
	cd bench/harness && $(GO) vet ./... && staticcheck ./...
	$(GO) test -count=1 -timeout 40m ./...
	$(GO) test -count=1 -race -timeout 20m ./engine/cas/... ./engine/ingest/... ./engine/volume/...
	@scripts/fuzz-smoke.sh
	@$(MAKE) --no-print-directory bench-smoke

# The reliability suites (TestReliability*) at full size, and RELIABILITY.md
# written from what they found; `make test` runs a short version of each.
reliability: deps build
	@out=$$(mktemp) && trap 'rm -f "$$out"' EXIT && \
		VMREP_RELIABILITY=full VMREP_RELIABILITY_OUT="$$out" $(GO) test -count=1 -timeout 150m -run 'Reliability' ./... ; \
		rc=$$?; $(GO) run ./reliability/report -in "$$out" -out RELIABILITY.md && echo "reliability: wrote RELIABILITY.md" && exit $$rc

test-unit:
	$(GO) test -count=1 -short ./...

# The benchmark harness (bench/harness): vmrep beside restic, borg, casync,
# desync, xdelta3 and rsync on generated images; report in bench/results.
# BENCH_SIZE scales it (the OS image; full size 8G). The harness is its own
# module (its plotting library stays out of vmrep's go.mod) and runs from
# the repository root, where it builds bench/cmd/vmrepbench.
BENCH_SIZE ?= 8G
bench: deps build
	$(GO) test -run '^$$' -bench . -benchtime 3x ./engine/... ./fusefs/ ./internal/pipeline/ ./internal/zero/
	$(GO) test -run '^$$' -bench Replication -benchtime 3x ./daemon/
	$(GO) test -run '^$$' -bench Limiter -benchtime 1x ./internal/bandwidth/ -args -limit-duration=30s
	VMREP_BENCH_LIMIT=30 $(GO) test -count=1 -run TestBenchReplicateLimit -v ./cmd/vmrep/ | grep -E 'limit|achieved|^(ok|FAIL|---)'
	cd bench/chunkers && $(GO) test -run '^$$' -bench . -benchtime 3x
	$(GO) -C bench/harness build -o $(CURDIR)/$(BIN)/benchharness .
	BENCH_SIZE=$(BENCH_SIZE) $(BIN)/benchharness -bin $(CURDIR)/$(BIN) -out bench/results

# Under a minute, asserts no time: the harness runs end to end on tiny inputs
# into a scratch directory and its report files must exist and parse.
bench-smoke: build
	@if [ -d bench/chunkers ]; then cd bench/chunkers && $(GO) test -count=1 -run '^$$' -bench . -benchtime 1x >/dev/null && echo "bench-smoke: chunker peers ok"; fi
	@out=$$(mktemp -d) && bin=$$(mktemp -d) && trap 'rm -rf "$$out" "$$bin"' EXIT && \
		$(GO) -C bench/harness build -o "$$bin/benchharness" . && \
		"$$bin/benchharness" -smoke -bin $(CURDIR)/$(BIN) -out "$$out" >/dev/null && \
		"$$bin/benchharness" -check "$$out"
	@VMREP_BENCH_LIMIT=3 $(GO) test -count=1 -run TestBenchReplicateLimit ./cmd/vmrep/ >/dev/null && echo "bench-smoke: replicate --limit ok"

demo: deps build
	@scripts/demo.sh

clean:
	rm -rf $(BIN)
