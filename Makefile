# Token vending machine — developer entry points. `make help` lists them.
SHELL := bash
GO ?= go
BIN := $(CURDIR)/bin
DYNALITE_DIR := $(CURDIR)/tools/dynalite
DYNALITE_BIN := $(DYNALITE_DIR)/node_modules/.bin/dynalite
STATICCHECK_VERSION := v0.8.2
BINARIES := tvm-broker tvm-local tvm-creds tvm-sample

.PHONY: help demo test fuzz dynalite check lint fmt vet staticcheck build stack-up stack-down compose-check clean bench-load soak

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

demo: ## one command: local AWS + broker + seed + isolation verify, then stop everything (exit = verdict)
	@./scripts/demo.sh

test: ## run every test (race detector on), against both DynamoDB backends
	@if command -v npm >/dev/null 2>&1; then $(MAKE) -s dynalite; \
	  else echo "npm not found: tests against the dynalite backend will be skipped"; fi
	TVM_DYNALITE_BIN=$(DYNALITE_BIN) $(GO) test -race -count=1 ./...

FUZZTIME ?= 10s
fuzz: ## every fuzz target for FUZZTIME each (default 10s), one after the other: make fuzz FUZZTIME=10m
	@./scripts/fuzz.sh $(FUZZTIME)

dynalite: $(DYNALITE_BIN) ## install dynalite (the second DynamoDB backend) with npm

check: fmt vet staticcheck ## static checks: gofmt, go vet, staticcheck

fmt: ## fail if gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet: ## go vet
	$(GO) vet ./...

staticcheck: ## staticcheck (installed through the Go module proxy)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

build: ## build the binaries into ./bin
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./broker/cmd/tvm-broker ./localaws/cmd/tvm-local ./client/cmd/tvm-creds ./sampleapp/cmd/tvm-sample

stack-up: build ## start the local AWS and the broker in the background (ports 4566, 8080)
	@./scripts/stack.sh up

stack-down: ## stop what stack-up started
	@./scripts/stack.sh down

bench-load: ## load harness: the broker vs a bare verify handler, side by side (about 5 min; docs/performance.md)
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/tvm-bench ./internal/loadtest/cmd/tvm-bench
	$(BIN)/tvm-bench load $(BENCHFLAGS)

soak: ## bounded soak of the broker: 60 s, 64 connections, 2000 tokens; fails on errors, growth or a missing audit record
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/tvm-bench ./internal/loadtest/cmd/tvm-bench
	$(BIN)/tvm-bench soak $(SOAKFLAGS)

compose-check: ## validate docker-compose.yml (needs the docker-compose package)
	docker-compose config -q

$(DYNALITE_BIN): $(DYNALITE_DIR)/package.json $(DYNALITE_DIR)/package-lock.json
	cd $(DYNALITE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

clean: ## remove build outputs
	rm -rf $(BIN) .tmp
