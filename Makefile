# llmux: `make test` runs every test, as CI does (.ci/run).
GO ?= go

.PHONY: test deps build vet fmt fuzz bench

test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 12m ./...

# Real services the tests start on loopback (redis-server), from Debian.
deps:
	./scripts/deps.sh

build:
	$(GO) build -o bin/llmux ./cmd/llmux

vet:
	$(GO) vet ./...

fmt:
	gofmt -l . | tee /dev/stderr | (! read)

# Short fuzz runs of every fuzzer (the seed corpora run in `make test`).
fuzz:
	./scripts/fuzz.sh 20s

bench:
	$(GO) run ./cmd/llmux bench overhead
	$(GO) test -run '^$$' -bench . -benchmem ./...
