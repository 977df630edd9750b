# ocirun — see README.md for what each target does.
GO      ?= go
PREFIX  ?= /usr/local
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
SOURCES := $(shell find cmd libcontainer specconv -name '*.go' -o -name '*.c' -o -name '*.h') go.mod go.sum

.PHONY: all deps demo test unit integration lint fuzz install clean bench test-containerd test-podman test-cgroupv2 test-lsm

all: ocirun

# cgo is required: the namespace stage of `ocirun init` is C (libcontainer/nsexec).
# Linked statically (libseccomp.a from libseccomp-dev; netgo/osusergo: no NSS):
# no dynamic loader in the CLI nor in init, ~0.5 ms per process, and nothing
# the container could interpose. urfave_cli_no_docs drops the man-page
# generator (0.5 ms of package init per process); -s -w drops DWARF, not
# stack traces.
BUILDTAGS ?= urfave_cli_no_docs netgo osusergo
ocirun: $(SOURCES)
	CGO_ENABLED=1 $(GO) build -trimpath -tags "$(BUILDTAGS)" -ldflags "-s -w -extldflags -static $(LDFLAGS)" -o $@ ./cmd/ocirun

# Installs the Debian packages the build, demo and tests need (only the missing ones).
deps:
	contrib/install-deps.sh

# Builds ocirun and a busybox bundle, and runs a real container that prints what it sees.
demo: deps ocirun
	contrib/demo.sh ./ocirun

# Everything: unit tests (many need root: real namespaces, mounts, cgroups) and
# the black-box integration suite against ./ocirun.
test: deps ocirun
	$(GO) test -count=1 -timeout 20m ./...

unit:
	$(GO) test -count=1 ./specconv/... ./libcontainer/...

integration: ocirun
	$(GO) test -count=1 -timeout 20m ./tests/...

# Real clients: a private containerd (ctr) and podman drive ./ocirun.
test-containerd: ocirun
	contrib/test-containerd.sh $(CURDIR)/ocirun

test-podman: ocirun
	contrib/test-podman.sh $(CURDIR)/ocirun

# The cgroup and core lifecycle integration tests against a static ocirun in
# a pure cgroup v2 qemu VM (../shared/vm/run-in-vm.sh; skipped when that is
# absent). Software emulation is ~10x slower: the mount and security suites,
# which do not depend on the cgroup version, run on the host only.
CGROUPV2_TESTS ?= ^Test(Cgroup|Lifecycle|Exec|RunExitCode|RunDetached|NewNamespaces|JoinNamespaces|UserNamespace|TimeNamespace|Seccomp|Devices|ProcessDefaults|ProcessSettings|KillAll|Hooks|Terminal|Checkpoint|Restore|Systemd)
test-cgroupv2:
	contrib/test-cgroupv2.sh -test.run '$(CGROUPV2_TESTS)'

# The AppArmor and SELinux tests (tests/integration/lsm_*) where the LSM is
# real: the same VM booted once with each (skipped when ../shared/vm is
# absent). A test that skips there fails the target.
test-lsm:
	contrib/test-lsm.sh

# Side-by-side benchmark of ./ocirun with runc and crun when installed
# (BENCH_FLAGS=-quick for a smoke run, -publish to refresh contrib/bench/latest.*).
bench: ocirun
	$(GO) build -o bin/ocirun-bench ./tests/bench
	bin/ocirun-bench -ocirun ./ocirun $(BENCH_FLAGS)

# staticcheck without SA1019: the deprecated spec fields (prestart hooks,
# kernel memory) are honoured on purpose.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	@test -z "$$(gofmt -l cmd libcontainer specconv tests)" || { gofmt -l cmd libcontainer specconv tests; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) -checks "inherit,-SA1019" ./...

# Runs each fuzzer for FUZZTIME (default 20s).
FUZZTIME ?= 20s
fuzz:
	contrib/fuzz.sh $(FUZZTIME)

install: ocirun
	install -D -m 0755 ocirun $(DESTDIR)$(PREFIX)/sbin/ocirun

clean:
	rm -f ocirun
