# Flowlake: build, test, lint, demo and benchmarks. `make help` lists them.
#
# `make test` is the one command CI runs (through .ci/run): the formatting
# check, go vet, staticcheck, then every test of the module, the
# architecture tests (arch_test.go) and the docs/schema.md golden test
# included, then a short fuzz of the REST and GraphQL request paths
# (fuzz-ci). Tools come from go.mod's tool block; nothing else to install.

GO           ?= go
BIN          := bin/flowlake
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT       ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS      := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
TEST_TIMEOUT ?= 15m
TESTFLAGS    ?=
FUZZTIME     ?= 60s
# fuzz-ci: how many inputs each request-path target tries in `make test`,
# and how many runs minimising a failing input may take. Both are counts,
# not durations: minimising the big seeds by time stalls the run, and a
# timed run can end in "context deadline exceeded" with no crasher.
FUZZ_CI_TIME     ?= 10000x
FUZZ_CI_MINIMIZE ?= 50x
# package:target pairs fuzzed by fuzz-ci: the GraphQL and REST request
# paths, their arguments and cursors, each from its seed corpus under
# testdata/fuzz; the DHCPv4/v6 decoders and the DHCP server lease file
# parsers (seeds under ingest/dhcp/testdata); the device output parsers
# (TCP trace, cloud-management state) and the tunnel's frames.
FUZZ_CI_TARGETS  ?= ./graph:FuzzGraphQLRequest ./graph:FuzzFieldArguments ./graph:FuzzPageCursor \
	./api:FuzzQueryRequest ./api:FuzzQueryBody ./api:FuzzFlowsCursor \
	./ingest/dhcp:FuzzDecode ./ingest/dhcp:FuzzDecodeV6 \
	./ingest/dhcp:FuzzParseKeaCSV ./ingest/dhcp:FuzzParseKeaLegal ./ingest/dhcp:FuzzParseDnsmasq \
	./ingest/tcptrace:FuzzParse ./ingest/cloudconn:FuzzParse ./tunnel:FuzzDecodeFrame

.DEFAULT_GOAL := help

.PHONY: help build test test-race lint fmt fmt-check vet staticcheck arch generate docs demo bench bench-query fuzz fuzz-ci clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/flowlake (static, no cgo; version from git describe, commit from git)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/flowlake

test: fmt-check vet staticcheck ## what CI runs: lint, every test of the module, DuckDB reading a lake in place (bench/), then fuzz-ci
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./...
	cd bench && CGO_ENABLED=1 $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) --no-print-directory fuzz-ci

test-race: ## every test under the race detector (slower; needs gcc)
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./...

lint: fmt-check vet staticcheck arch ## gofmt check, go vet, staticcheck, import direction and package docs

fmt-check: ## fail if a file is not gofmt-formatted
	@files=$$(gofmt -l .); \
	if [ -n "$$files" ]; then echo "gofmt needed (run make fmt):"; echo "$$files"; exit 1; fi

fmt: ## gofmt -w every Go file
	gofmt -w .

vet: ## go vet
	$(GO) vet ./...

staticcheck: ## staticcheck, pinned in go.mod's tool block
	$(GO) tool staticcheck ./...

arch: ## the one-way package dependencies of docs/architecture.md and package docs
	$(GO) test -count=1 -run '^(TestImportDirection|TestPackageDocs|TestArchRules|TestArchLoaderSeesEveryFile)$$' .

generate: ## regenerate graph/records.graphqls from storage/schema, then gqlgen's code in graph/ (committed)
	$(GO) test ./graph -run '^TestRecordsSchema$$' -update
	cd graph && $(GO) run github.com/99designs/gqlgen generate

docs: ## regenerate docs/schema.md from storage/schema
	$(GO) test ./storage/schema -run '^TestMarkdownGolden$$' -update

demo: build ## build, generate 7 days of history into ./data and serve on 127.0.0.1:8080
	./$(BIN) demo

bench: ## storage benchmarks (allocations included)
	$(GO) test -run '^$$' -bench . -benchmem ./storage/...

BENCH_QUERY_FLAGS ?=

bench-query: ## issue 3 query benchmark, Flowlake vs DuckDB vs nfdump (bench/, cgo, apt nfdump); BENCH_QUERY_FLAGS='-flows N -dir DIR …'
	cd bench && CGO_ENABLED=1 $(GO) build -o ../bin/benchquery ./cmd/benchquery
	./bin/benchquery $(BENCH_QUERY_FLAGS)

fuzz: ## run every fuzz target for FUZZTIME (default 60s) each; crashers land in testdata/fuzz
	@grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u | while read -r dir; do \
		for f in $$(grep -h '^func Fuzz' $$dir/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "--- $$dir $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$dir || exit 1; \
		done; \
	done

fuzz-ci: ## short fuzz of the request paths, decoders and parsers of FUZZ_CI_TARGETS (FUZZ_CI_TIME each); part of make test
	@set -e; for t in $(FUZZ_CI_TARGETS); do \
		dir=$${t%%:*}; f=$${t##*:}; \
		echo "--- fuzz $$dir $$f ($(FUZZ_CI_TIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZ_CI_TIME) -fuzzminimizetime $(FUZZ_CI_MINIMIZE) $$dir; \
	done

clean: ## remove build output
	rm -rf bin/
