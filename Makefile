# ailb: make run (example config, in-memory state) and make test.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: build run test bench lint fuzz load clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ailb ./cmd/ailb
	$(GO) build -trimpath -o bin/ailb-load ./cmd/ailb-load

run:
	$(GO) run ./cmd/ailb serve -config configs/ailb.yaml

test: lint
	$(GO) test -race -count=1 -timeout 12m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Short fuzz runs of every fuzz target (FUZZTIME=30s to go longer).
FUZZTIME ?= 10s
fuzz:
	$(GO) test ./esl -run '^$$' -fuzz FuzzReader -fuzztime $(FUZZTIME)
	$(GO) test ./media -run '^$$' -fuzz FuzzDialStringEscaping -fuzztime $(FUZZTIME)
	$(GO) test ./config -run '^$$' -fuzz FuzzLoad -fuzztime $(FUZZTIME)

# A load run against a server started with `make run` in another shell.
load:
	$(GO) run ./cmd/ailb-load -addr 127.0.0.1:8084 -calls 1000 -rate 100

clean:
	rm -rf bin
