SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO ?= go
BIN := $(CURDIR)/bin
DISTGEN := $(BIN)/distgen

# Tools are built from the Go module proxy into a cache keyed by version, so
# a second run (and CI with a warm cache) skips the build.
TOOLS_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/distgen/tools
HELM3_VERSION := v3.19.0
HELM4_VERSION := v4.3.1
CUE_VERSION := $(shell $(GO) list -m -f '{{.Version}}' cuelang.org/go)
HELM3 := $(TOOLS_CACHE)/helm-$(HELM3_VERSION)/helm
HELM4 := $(TOOLS_CACHE)/helm-$(HELM4_VERSION)/helm
CUE := $(TOOLS_CACHE)/cue-$(CUE_VERSION)/cue
COSIGN_VERSION := v2.6.5
COSIGN := $(TOOLS_CACHE)/cosign-$(COSIGN_VERSION)/cosign
STATICCHECK_VERSION := v0.6.1
STATICCHECK := $(TOOLS_CACHE)/staticcheck-$(STATICCHECK_VERSION)/staticcheck
# Headless Chromium (Debian's chromium-headless-shell; .ci/run installs it)
# opens the HTML report in a real browser; without it that one test skips.
CHROMIUM ?= $(shell command -v chromium-headless-shell || command -v chromium || true)

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build bin/distgen
	$(GO) build -o $(DISTGEN) ./cmd/distgen

# Where the demo's bootstrap manifest says the release is served from.
DEMO_REGISTRY ?= 127.0.0.1:5000/distgen

demo: build ## Build the demo bundle, write it as an OCI layout, print its bootstrap (offline)
	$(DISTGEN) vet
	$(DISTGEN) build --bundle demo
	$(DISTGEN) push --bundle demo --to oci-layout:dist/demo-oci
	$(DISTGEN) graph --bundle demo > dist/demo.dot
	@echo "# Bootstrap for the demo bundle once dist/demo-oci is served at $(DEMO_REGISTRY):"
	@$(DISTGEN) bootstrap --from oci://$(DEMO_REGISTRY)/bundles/demo:0.1.0 --release dist/demo --plain-http

test: unit reliability e2e e2e-kind-if-docker ## Run every test: unit, CLI, interop, fault runs, a short fuzz, end-to-end and (with Docker) kind

unit: tools ## The fast tests: CUE vet, go vet, unit, CLI and helm/cue interop (no cluster)
	$(CUE) fmt --check --files schemas bundles versions.cue
	$(CUE) vet -c ./bundles
	$(GO) vet ./...
	$(GO) vet -tags e2e ./tests/e2e/
	DISTGEN_HELM3=$(HELM3) DISTGEN_HELM4=$(HELM4) DISTGEN_CUE=$(CUE) DISTGEN_COSIGN=$(COSIGN) DISTGEN_CHROMIUM=$(CHROMIUM) $(GO) test -count=1 -skip '$(RELIABILITY_TESTS)' ./...
	$(GO) test -race -count=1 -run 'TestBuildIsPure' ./generator/action/

lint: tools $(STATICCHECK) ## Check formatting and vet Go and CUE sources; staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(CUE) fmt --check --files schemas bundles versions.cue
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags e2e ./tests/e2e/

e2e: tools ## The end-to-end tests: real etcd, registry, kube-apiserver and Flux controllers (first build ≈ 25 min)
	DISTGEN_E2E_BIN="$$(bash tests/e2e/stack.sh build)" DISTGEN_HELM3=$(HELM3) DISTGEN_HELM4=$(HELM4) $(GO) test -count=1 -tags e2e -timeout 30m -v ./tests/e2e/

# The node mounts the distgen that serves the release: a static build runs
# on any node image.
e2e-kind: ## A kind cluster from the offline node image: dev up of the demo and the sandbox tenant, served from the node, then relocated into a registry the user runs; pods Running on pulls from that registry (first node image ≈ 6 min after the e2e stack)
	CGO_ENABLED=0 $(GO) build -o $(BIN)/distgen-static ./cmd/distgen
	bash tests/kind/e2e.sh $(BIN)/distgen-static

e2e-kind-if-docker:
	@if docker info >/dev/null 2>&1; then $(MAKE) --no-print-directory e2e-kind; else echo "make test: Docker is not running here: make e2e-kind skipped"; fi

# Fuzzing: make test fuzzes every target for SHORT_FUZZTIME (and runs their
# seeds with the unit tests); make fuzz for FUZZTIME.
SHORT_FUZZTIME ?= 3s
FUZZTIME ?= 30s
RELIABILITY := $(BIN)/reliability

# The fault runs and crash-point walks: run (and counted) by make
# reliability, skipped by make unit.
RELIABILITY_TESTS := ^(TestFaultRuns|TestBuildInterruptedAtEveryWritePoint|TestPushLayoutInterruptedAtEveryWritePoint|TestMirrorInterruptedAtEveryWritePoint)$$
RELIABILITY_RUN = DISTGEN_FAULT_FIGURES=$(RELIABILITY)/faults.json $(GO) test -count=1 -run '$(RELIABILITY_TESTS)' -v ./tests/ | tee $(RELIABILITY)/tests.log | grep -E 'fault runs:|write points|^(--- |ok|FAIL)'

reliability: ## The fault runs, the crash-point walks and a short fuzz of every target, with their counts
	@mkdir -p $(RELIABILITY)
	$(RELIABILITY_RUN)
	FUZZTIME=$(SHORT_FUZZTIME) GO=$(GO) bash tests/fuzz.sh

fuzz: ## Fuzz every target for FUZZTIME (default 30s); a crasher is kept in testdata/fuzz as a seed
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash tests/fuzz.sh

reliability-doc: ## Write docs/reliability.md from the fault runs and a FUZZTIME fuzz of every target
	@mkdir -p $(RELIABILITY)
	$(RELIABILITY_RUN)
	FUZZTIME=$(FUZZTIME) FUZZ_FIGURES=$(RELIABILITY)/fuzz.tsv GO=$(GO) bash tests/fuzz.sh
	$(GO) run ./bench/reliability -faults $(RELIABILITY)/faults.json -fuzz $(RELIABILITY)/fuzz.tsv -tests $(RELIABILITY)/tests.log -out docs/reliability.md

BENCH_N ?= 100
BENCH_ROUNDS ?= 5

COMPARE = eval "$$(bash bench/tools.sh)" && DISTGEN_CRANE=$$DISTGEN_CRANE DISTGEN_FLUX=$$DISTGEN_FLUX DISTGEN_HELM3=$(HELM3) DISTGEN_HELM4=$(HELM4) \
	$(GO) run ./bench/compare -out docs/benchmarks.md

bench: tools ## Go benchmarks, then bench/compare on both catalogs: distgen vs helm, flux and crane CLIs (updates docs/benchmarks.md)
	$(GO) test -run '^$$' -bench . -benchmem ./tests/... | tee bench.out
	$(GO) run ./bench/compare -gobench bench.out -out docs/benchmarks.md
	$(COMPARE) -shape simple -n $(BENCH_N) -rounds $(BENCH_ROUNDS)
	$(COMPARE) -shape real -n $(BENCH_N) -rounds $(BENCH_ROUNDS)
	$(COMPARE) -shape real -n 1000 -rounds 1 -only build

tools: $(HELM3) $(HELM4) $(CUE) $(COSIGN) ## Build the pinned helm v3, helm v4, cue and cosign CLIs into the tool cache

$(HELM3):
	GOBIN=$(dir $@) $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM3_VERSION)
$(HELM4):
	GOBIN=$(dir $@) $(GO) install helm.sh/helm/v4/cmd/helm@$(HELM4_VERSION)
$(CUE):
	GOBIN=$(dir $@) $(GO) install cuelang.org/go/cmd/cue@$(CUE_VERSION)
$(COSIGN):
	GOBIN=$(dir $@) $(GO) install github.com/sigstore/cosign/v2/cmd/cosign@$(COSIGN_VERSION)
$(STATICCHECK):
	GOBIN=$(dir $@) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

clean: ## Remove bin/ and dist/
	rm -rf bin dist

.PHONY: help build demo test unit e2e e2e-kind e2e-kind-if-docker lint bench tools clean reliability fuzz reliability-doc
