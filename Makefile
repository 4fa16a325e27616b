# AdoptScope. `make run` and `make test` are the two commands of the README.
GO        ?= go
BIN       := bin/adoptscope
DATA_DIR  ?= ./data
# Debian packages: what the product needs to run, and what its tests add
# (Chromium for the dashboard's browser test, python3-venv for the virtual
# environment of posthog-python in the capture v1 SDK test).
APT_PKGS      ?= clickhouse-server
TEST_APT_PKGS ?= $(APT_PKGS) chromium python3-venv
PKGS      := ./...

.PHONY: world-map run build test test-unit test-cluster test-compat fuzz lint staticcheck generate check-generated deps test-deps clean help
.PHONY: test-api

help:
	@echo "make run      install what is missing, build, start everything (managed ClickHouse + demo data)"
	@echo "make test     the whole test suite (starts its own ClickHouse servers)"
	@echo "make test-cluster  the cluster tests: ZooKeeper + 2 shards x 2 replicas on loopback (needs apt package zookeeper)"
	@echo "make build    build $(BIN)"
	@echo "make lint     gofmt, go vet and staticcheck (pinned, installed into bin/ when missing)"
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

## world-map: rebuild views/static/world.json (the Countries page's map)
## from Natural Earth via pinned npm packages (views/worldmap/LICENSE.md).
world-map:
	cd views/worldmap && npm ci --no-audit --no-fund && node world.mjs && rm -rf node_modules

## check-generated: fail when generated files differ from their sources.
check-generated:
	@before=$$(git status --porcelain -- '*_templ.go' | md5sum); \
	$(GO) tool templ generate >/dev/null; \
	after=$$(git status --porcelain -- '*_templ.go' | md5sum); \
	if [ "$$before" != "$$after" ]; then echo "templ generate changed *_templ.go files: run 'make generate' and commit them"; git status --short -- '*_templ.go'; exit 1; fi

lint: staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(STATICCHECK) -tags cluster,compat $$($(GO) list -tags cluster,compat $(PKGS) | grep -v -x -F -e - $(addprefix -e github.com/adoptscope/adoptscope/,$(STATICCHECK_SKIP)))

## staticcheck: a fixed release (module version STATICCHECK_VERSION, from the
## Go module proxy) installed into bin/ when missing or another version.
## Installed with go install, not as a go.mod tool: its dependencies
## (golang.org/x/tools, x/mod, x/sync) stay out of the product's go.mod.
## STATICCHECK_SKIP: packages not to check (none).
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK         := bin/staticcheck
STATICCHECK_SKIP    ?=
staticcheck:
	@if ! $(STATICCHECK) -version 2>/dev/null | grep -q '($(patsubst v%,%,$(STATICCHECK_VERSION)))$$'; then \
		echo "installing staticcheck $(STATICCHECK_VERSION) into bin/"; \
		GOBIN=$(abspath bin) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) || exit 1; \
	fi

test-unit:
	$(GO) test -count=1 $(PKGS)

## fuzz: each ingest decoder for a fixed number of runs; what the fuzzer finds
## (kept in the Go build cache) is copied into the checked-in seed corpus.
# A count of executions, not a duration: with a duration, Go 1.26's fuzz
# coordinator can report "context deadline exceeded" at the deadline with no
# failing input (go.dev/issue/75804, fixed in Go 1.27). 50000 runs take
# about 5-15 s per decoder here.
FUZZ_TIME    ?= 50000x
FUZZ_TARGETS := FuzzNDJSON FuzzJSON FuzzCSV FuzzCaptureV1
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

## test-compat: the product's SQL on ClickHouse 26.9 (chDB, pinned in
## compat/requirements.txt, installed into $(COMPAT_VENV)) against 18.16 on
## the same fixture events; see compat/README.md.
COMPAT_VENV ?= build/compat-venv
test-compat: deps
	@if ! cmp -s compat/requirements.txt $(COMPAT_VENV)/requirements.installed; then \
		echo "installing chDB into $(COMPAT_VENV) (compat/requirements.txt)"; \
		rm -rf $(COMPAT_VENV); \
		python3 -m venv $(COMPAT_VENV) 2>/dev/null || { \
			if [ "$$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null && rm -rf $(COMPAT_VENV) && python3 -m venv $(COMPAT_VENV); \
			else echo "python3 -m venv failed; run:  sudo apt-get install -y python3-venv"; exit 1; fi; } || exit 1; \
		$(COMPAT_VENV)/bin/pip install --quiet --disable-pip-version-check -r compat/requirements.txt || exit 1; \
		cp compat/requirements.txt $(COMPAT_VENV)/requirements.installed; \
	fi
	$(GO) vet -tags compat ./compat/
	ADOPTSCOPE_COMPAT_PYTHON=$(abspath $(COMPAT_VENV))/bin/python $(GO) test -tags compat -count=1 -timeout 15m -v ./compat/

## test-api: schemathesis (pinned, from PyPI, in a venv under bin/) fuzzes a
## live instance (`up` on a temporary data folder, managed ClickHouse) from
## its own /api/v1/openapi.json: API_FUZZ_CASES cases per operation; it
## fails on a 5xx, an answer the description contradicts (status, content
## type, body schema, headers) or a request that takes over 30 s.
SCHEMATHESIS_VERSION ?= 4.32.5
API_FUZZ_CASES       ?= 30
API_FUZZ_ADDR        ?= 127.0.0.1:18089
API_FUZZ_VENV        := bin/venv-schemathesis
test-api: deps build
	@if ! $(API_FUZZ_VENV)/bin/schemathesis --version 2>/dev/null | grep -q ' $(SCHEMATHESIS_VERSION)$$'; then \
		python3 -m venv $(API_FUZZ_VENV) && $(API_FUZZ_VENV)/bin/pip install -q schemathesis==$(SCHEMATHESIS_VERSION); fi
	@dir=$$(mktemp -d); tok=api-fuzz-token-$$(date +%s%N); \
	ADOPTSCOPE_DATA_DIR=$$dir ADOPTSCOPE_ADDR=$(API_FUZZ_ADDR) ADOPTSCOPE_DEMO=off ADOPTSCOPE_CLICKHOUSE_ADDR= \
	  ADOPTSCOPE_INGEST_TOKENS=$$tok ADOPTSCOPE_ADMIN_TOKENS=$$tok ADOPTSCOPE_LOG_LEVEL=warn ./$(BIN) up >$$dir/up.log 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null; rm -rf $$dir' EXIT; \
	python3 .ci/wait-healthy.py http://$(API_FUZZ_ADDR)/healthz || { echo "the instance did not start:"; cat $$dir/up.log; exit 1; }; \
	$(API_FUZZ_VENV)/bin/schemathesis run http://$(API_FUZZ_ADDR)/api/v1/openapi.json --url http://$(API_FUZZ_ADDR) \
	  -H "Authorization: Bearer $$tok" --max-examples $(API_FUZZ_CASES) --request-timeout 30 --seed 1 --no-color \
	  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
	  --suppress-health-check all --warnings off; rc=$$?; \
	if [ $$rc != 0 ]; then echo "--- instance log (tail)"; tail -40 $$dir/up.log; fi; exit $$rc

clean:
	rm -rf bin
