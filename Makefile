# vpcnet: `sudo make demo` and `sudo make test` do all the set-up on a fresh Debian machine with Go.
export PATH := /usr/local/go/bin:$(PATH)
SHELL := /bin/bash
GO ?= go
BIN := bin/vpcnet

.PHONY: all build deps test unit e2e bench demo lint fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/vpcnet

deps:
	@scripts/deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	 if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=darwin $(GO) build ./...
	@# go.mod says what the code imports, no more and no less (issue 14).
	$(GO) mod tidy -diff

# Unit tests (no root needed), then the end-to-end tests on real namespaces
# (root; skipped without it).
test: deps build lint
	$(GO) test -count=1 -timeout 20m ./...
	@# The forwarder's other I/O path, read(2) and write(2) per frame (issue 15).
	VPCNET_IO=syscalls $(GO) test -count=1 ./dataplane/

unit: build
	$(GO) test -count=1 ./topology/ ./nat/ ./dataplane/...

fuzz:
	scripts/fuzz.sh

# BENCH=NAME runs one part of it (scripts/bench/main.go: figures, kernel, vpcnet, nat, idle, ops, api, observe, bringup, gobench, multi).
bench: deps build
	scripts/bench.sh $(BENCH)

demo: deps build
	scripts/demo.sh

clean:
	rm -rf bin
