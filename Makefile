# AdoptScope. `make run` and `make test` are the two commands of the README.
GO        ?= go
BIN       := bin/adoptscope
DATA_DIR  ?= ./data
# Debian packages: what the product needs to run, and what its tests add
# (Chromium for the dashboard's browser test).
APT_PKGS      ?= clickhouse-server
TEST_APT_PKGS ?= $(APT_PKGS) chromium
PKGS      := ./...

.PHONY: run build test test-unit test-cluster fuzz lint generate check-generated deps test-deps clean help

help:
	@echo "make run      install what is missing, build, start everything (managed ClickHouse + demo data)"
	@echo "make test     the whole test suite (starts its own ClickHouse servers)"
	@echo "make test-cluster  the cluster tests: ZooKeeper + 2 shards x 2 replicas on loopback (needs apt package zookeeper)"
	@echo "make build    build $(BIN)"
	@echo "make lint     gofmt and go vet"
	@echo "make generate regenerate templ files"

## deps: install missing system packages (as root), or say the exact command.
deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(APT_PKGS)"

test-deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(TEST_APT_PKGS)"

install-packages:
	@missing=""; \
	command -v clickhouse-server >/dev/null 2>&1 || command -v clickhouse >/dev/null 2>&1 || missing="$$missing clickhouse-server"; \
	for p in $(filter-out clickhouse-server,$(PACKAGES)); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		else \
			echo "missing packages:$$missing"; \
			echo "run:  sudo apt-get update && sudo apt-get install -y$$missing"; \
			exit 1; \
		fi; \
	fi

build:
	$(GO) build -o $(BIN) ./cmd/adoptscope

run: deps build
	ADOPTSCOPE_DATA_DIR=$(DATA_DIR) ./$(BIN) up

generate:
	$(GO) tool templ generate

## check-generated: fail when generated files differ from their sources.
check-generated:
	@before=$$(git status --porcelain -- '*_templ.go' | md5sum); \
	$(GO) tool templ generate >/dev/null; \
	after=$$(git status --porcelain -- '*_templ.go' | md5sum); \
	if [ "$$before" != "$$after" ]; then echo "templ generate changed *_templ.go files: run 'make generate' and commit them"; git status --short -- '*_templ.go'; exit 1; fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

test-unit:
	$(GO) test -count=1 $(PKGS)

## fuzz: each ingest decoder for a fixed number of runs; what the fuzzer finds
## (kept in the Go build cache) is copied into the checked-in seed corpus.
# A count of executions, not a duration: with a duration, Go 1.26's fuzz
# coordinator can report "context deadline exceeded" at the deadline with no
# failing input (go.dev/issue/75804, fixed in Go 1.27). 50000 runs take
# about 5-15 s per decoder here.
FUZZ_TIME    ?= 50000x
FUZZ_TARGETS := FuzzNDJSON FuzzJSON FuzzCSV
fuzz:
	@for f in $(FUZZ_TARGETS); do \
		$(GO) test ./ingest -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZ_TIME) || exit 1; \
		src="$$($(GO) env GOCACHE)/fuzz/github.com/adoptscope/adoptscope/ingest/$$f"; \
		if [ -d "$$src" ]; then mkdir -p ingest/testdata/fuzz/$$f && cp -n "$$src"/* ingest/testdata/fuzz/$$f/ 2>/dev/null || true; fi; \
	done

test: test-deps check-generated lint fuzz test-unit

## test-cluster: the cluster tests (build tag "cluster"): a real ZooKeeper and
## 2 shards x 2 replicas of ClickHouse in a temporary folder.
test-cluster: deps
	@dpkg -s zookeeper >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper; \
		else echo "missing package: zookeeper"; echo "run:  sudo apt-get update && sudo apt-get install -y zookeeper"; exit 1; fi; }
	$(GO) vet -tags cluster ./internal/platform/chcluster/
	$(GO) test -tags cluster -count=1 -timeout 10m ./internal/platform/chcluster/

clean:
	rm -rf bin
