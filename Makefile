# k1s — see README.md. Targets are what CI and the README run.
GO        ?= go
BIN       := bin/k1s
COMMIT    := $(shell git rev-parse --short HEAD 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/k1s/k1s/internal/version.gitCommit=$(COMMIT)
DATA_DIR  ?= /var/lib/k1s
# A pipe fails when any of its commands does (make test: go test | report).
SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c

.PHONY: build test test-short bench run down demo deps clean fuzz

# Static (CGO_ENABLED=0): the binary is also the image the add-ons run from.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/k1s

# The whole suite: unit, integration (embedded etcd) and end-to-end (real
# kubectl, real containerd). test/demo runs alone, after the rest: its
# cluster's first node is this machine, as test/node's is.
# test/report turns `go test -json` into each package's result line, the
# whole output of what failed and a list of skipped tests, and fails the run
# if any test skipped: `make test` installs all the tests need (make deps,
# as root), so a skip would be a test that tested nothing.
test: deps build
	K1S_BIN=$(CURDIR)/$(BIN) $(GO) test -json -count=1 -timeout 25m $$($(GO) list ./... | grep -v /test/demo) 2>&1 | $(GO) run ./test/report -no-skip
	K1S_BIN=$(CURDIR)/$(BIN) $(GO) test -json -count=1 -timeout 15m ./test/demo/ 2>&1 | $(GO) run ./test/report -no-skip

test-short:
	$(GO) test -short -count=1 ./...

# Benchmarks; figures go to docs/benchmarks.md. test/bench runs the built
# binary as a server process and drives it with client-go: each benchmark
# runs its fixed workload (16 clients, 2,000 ConfigMaps) once.
bench: build
	K1S_BIN=$(CURDIR)/$(BIN) $(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 15m ./test/bench/
	$(GO) test -run '^$$' -bench . -benchtime 1s -benchmem ./internal/storage/...
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 15m ./test/node/
	$(GO) test -run '^$$' -bench PodBurst -benchtime 1x -count 1 -timeout 10m ./internal/containerd/
	$(GO) test -run '^$$' -bench . -benchtime 300x -count 1 -timeout 10m ./internal/proxy/
	$(GO) test -run '^$$' -bench IngressVsDirect -benchtime 20000x -count 1 ./internal/ingress/
	$(GO) test -run '^$$' -bench LoopbackRoundTrip -benchtime 2000x -count 1 ./internal/ingress/
	$(GO) test -run '^$$' -bench . -benchtime 2s -benchmem ./internal/dns/

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeValidate -fuzztime 60s ./internal/apiserver/

# Installs what a node needs from Debian's packages (root): containerd,
# runc, the CNI plugins, nftables; busybox-static for the tests' images.
DEB_PACKAGES := containerd runc containernetworking-plugins nftables iptables busybox-static
deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v kubectl >/dev/null || echo "note: kubectl is not installed; k1s does not need it, but you will"

# A whole cluster on this machine (NODES=3 for more nodes, each in a
# network namespace); it keeps running in the background: `make down`.
NODES ?= 0
run: deps build
	$(BIN) up --data-dir $(DATA_DIR) --nodes $(NODES)

down:
	$(BIN) down --data-dir $(DATA_DIR)

# The reference application (examples/my-app) on the cluster in $(DATA_DIR)
# (brought up or resumed first): `k1s demo` builds its images, deploys it
# and checks what it promises through the Ingress.
demo: deps build
	$(BIN) up --data-dir $(DATA_DIR) --nodes $(NODES)
	$(BIN) demo --data-dir $(DATA_DIR) --module-dir $(CURDIR)

clean:
	rm -rf bin
