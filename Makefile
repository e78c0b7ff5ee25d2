# vxway: build the appliance image, boot it, test it.
# `make image` and `make test` are the two commands a newcomer runs.

GO          ?= go
CONFIG      ?= appliance.toml
IMAGE       ?= out/vxway.img
VXWAY       := out/bin/vxway
TEST_TIMEOUT ?= 75m
FUZZTIME    ?= 60s

.PHONY: all image run test check bench fuzz test-powercut test-upgrade-powercut test-manager-hangups test-sip-load host-deps build-deps clean vxway

all: image

# The host tool is rebuilt only when Go sources change (go build caches).
vxway:
	@mkdir -p out/bin
	$(GO) build -o $(VXWAY) ./cmd/vxway

build-deps:
	@bash ci/host-deps.sh --build-only

host-deps:
	@bash ci/host-deps.sh

image: build-deps vxway
	$(VXWAY) build -c $(CONFIG) -o $(IMAGE)

run: image
	$(VXWAY) run $(IMAGE)

# Every test: the host-side packages under the race detector, then the VM
# tests (they build the image themselves and spend their time in QEMU, so
# they run without it).
HOST_PKGS = $$($(GO) list ./... | grep -v '^vxway/ci/vmtest$$')

test: host-deps
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(HOST_PKGS)
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./ci/vmtest

# Figures for the README: build, boot, manager throughput, agent, reset.
bench: host-deps
	@bash ci/bench.sh

# Every fuzz target (or those FUZZ matches) for FUZZTIME each, then a table
# of inputs a second (plain `make test` runs the seed corpora).
fuzz:
	FUZZTIME=$(FUZZTIME) FUZZ='$(FUZZ)' bash ci/fuzz.sh

# Power cuts during a factory reset: QEMU killed at random moments of the
# reset phase, 20 trials (the regular suite runs 3).
test-powercut: host-deps
	VXWAY_POWERCUT_TRIALS=20 $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run 'TestFactoryResetPowerCut' -v ./ci/vmtest

# Power cuts during an upgrade's slot write: QEMU killed at random moments,
# 10 trials, each followed by a boot that must come up (docs/upgrade.md).
test-upgrade-powercut: host-deps
	VXWAY_UPGRADE_POWERCUT_TRIALS=10 $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run 'TestUpgradePowerCut$$' -v ./ci/vmtest

# Devices hanging up on the manager (SQLite and PostgreSQL) while others
# renew, ten runs (make test runs it once).
test-manager-hangups: host-deps
	$(GO) test -count=10 -run 'TestCancelledClientsDoNotFailOthers' -v ./ssm

# 2,600 SIP registrations in one VM through the forwarded port, with the
# registrar's rate and resident memory (docs/sip.md); not in make test.
test-sip-load: host-deps
	VXWAY_SIP_LOAD=1 $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run 'TestSIPLoad$$' -v ./ci/vmtest

# gofmt, go vet, staticcheck and a tidy go.mod.
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@cp go.mod /tmp/vxway-go.mod.bak; cp go.sum /tmp/vxway-go.sum.bak; \
	$(GO) mod tidy; \
	if ! git diff --quiet -- go.mod go.sum; then echo "go mod tidy changes go.mod/go.sum:"; git diff -- go.mod go.sum | head -40; \
	  cp /tmp/vxway-go.mod.bak go.mod; cp /tmp/vxway-go.sum.bak go.sum; exit 1; fi

clean:
	rm -rf out
