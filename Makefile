# ocirun — see README.md for what each target does.
GO      ?= go
PREFIX  ?= /usr/local
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
SOURCES := $(shell find cmd libcontainer specconv -name '*.go' -o -name '*.c' -o -name '*.h') go.mod go.sum
# Generated files (man pages, completions, the generator, the .deb).
BUILDDIR ?= build
# Where `make install` puts things under $(DESTDIR)$(PREFIX); `make deb`
# passes Debian's paths.
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
# The man pages' date: the commit's, so that a rebuild is identical.
DOCDATE ?= $(shell git log -1 --format=%cs 2>/dev/null)

.PHONY: all deps demo test unit integration lint fuzz skipcheck install uninstall man completions deb clean bench test-containerd test-cri test-podman test-cgroupv2 test-lsm integration-goinit conformance

all: ocirun

# cgo is required: the namespace stage of `ocirun init` is C (libcontainer/nsexec).
# Linked statically (libseccomp.a from libseccomp-dev; netgo/osusergo: no NSS):
# no dynamic loader in the CLI nor in init, ~0.5 ms per process, and nothing
# the container could interpose. urfave_cli_no_docs drops the man-page
# generator (0.5 ms of package init per process); -s -w drops DWARF, not
# stack traces.
# Add nocriu to leave checkpoint/restore out (the CRIU client and its RPC
# codec: ~100 KB smaller, one package init fewer at every start).
BUILDTAGS ?= urfave_cli_no_docs netgo osusergo
ocirun: $(SOURCES)
	CGO_ENABLED=1 $(GO) build -trimpath -tags "$(BUILDTAGS)" -ldflags "-s -w -extldflags -static $(LDFLAGS)" -o $@ ./cmd/ocirun

# The man pages and completions are generated from the command tables by a
# generator that ./ocirun does not contain: cmd/ocirun/gendocs.go is only
# built with the ocirun_gendocs tag, into its own binary.
$(BUILDDIR)/gendocs: $(SOURCES)
	CGO_ENABLED=1 $(GO) build -trimpath -tags "$(BUILDTAGS) ocirun_gendocs" -ldflags "$(LDFLAGS)" -o $@ ./cmd/ocirun

$(BUILDDIR)/docs.stamp: $(BUILDDIR)/gendocs
	rm -rf $(BUILDDIR)/man $(BUILDDIR)/completions
	$(BUILDDIR)/gendocs gendocs --date "$(DOCDATE)" $(BUILDDIR)
	touch $@

# $(BUILDDIR)/man/*.8 and $(BUILDDIR)/completions/{ocirun.bash,_ocirun,ocirun.fish}
man completions: $(BUILDDIR)/docs.stamp

# Installs the Debian packages the build, demo and tests need (only the missing ones).
deps:
	contrib/install-deps.sh

# Builds ocirun and a busybox bundle, and runs a real container that prints what it sees.
demo: deps ocirun
	contrib/demo.sh ./ocirun

# OCIRUN_TEST_STRICT=1 (.ci/run sets it): a test that skips fails the run
# unless tests/expected-skips.txt lists it with the reason it gives;
# tests/cmd/skipcheck reads `go test -json` and says which. SKIPWHERE names
# the run in that file's first column.
SKIPWHERE ?= host
ifneq ($(OCIRUN_TEST_STRICT),)
GOTEST = $(BUILDDIR)/skipcheck -skips tests/expected-skips.txt -where $(SKIPWHERE) -- $(GO) test -json
TESTDEPS = skipcheck
else
GOTEST = $(GO) test
endif
skipcheck:
	$(GO) build -o $(BUILDDIR)/skipcheck ./tests/cmd/skipcheck

# Everything: unit tests (many need root: real namespaces, mounts, cgroups) and
# the black-box integration suite against ./ocirun.
test: deps ocirun $(TESTDEPS)
	$(GOTEST) -count=1 -timeout 20m ./...

unit: $(TESTDEPS)
	$(GOTEST) -count=1 ./specconv/... ./libcontainer/...

integration: ocirun $(TESTDEPS)
	$(GOTEST) -count=1 -timeout 20m ./tests/...

# The black-box suite with every container built by the Go init (the one
# for user namespaces) instead of the C process stage.
integration-goinit: SKIPWHERE = host,goinit
integration-goinit: ocirun $(TESTDEPS)
	OCIRUN_GO_INIT=1 $(GOTEST) -count=1 -timeout 20m ./tests/integration/...

# Real clients: a private containerd (ctr) and podman drive ./ocirun.
test-containerd: ocirun
	contrib/test-containerd.sh $(CURDIR)/ocirun

# Kubernetes' CRI validation (cri-tools critest) through a private
# containerd 1.6 with ./ocirun as the runc shim's binary, compared with
# contrib/cri/expected.tsv (what fails with runc too, and why).
test-cri: ocirun
	contrib/cri/test-cri.sh $(CURDIR)/ocirun

test-podman: ocirun
	contrib/test-podman.sh $(CURDIR)/ocirun

# The cgroup and core lifecycle integration tests against a static ocirun in
# a pure cgroup v2 qemu VM (../shared/vm/run-in-vm.sh; skipped when that is
# absent). Software emulation is ~10x slower: the mount and security suites,
# which do not depend on the cgroup version, run on the host only.
CGROUPV2_TESTS ?= ^Test(Cgroup|Lifecycle|Exec|RunExitCode|RunDetached|NewNamespaces|JoinNamespaces|UserNamespace|Rootless|SecurityCVE2023_25809|TimeNamespace|Seccomp|Devices|ProcessDefaults|ProcessSettings|KillAll|Hooks|Terminal|Checkpoint|Restore|Systemd|CrashConsistency)
test-cgroupv2:
	contrib/test-cgroupv2.sh -test.run '$(CGROUPV2_TESTS)'

# The AppArmor and SELinux tests (tests/integration/lsm_*) where the LSM is
# real: the same VM booted once with each (skipped when ../shared/vm is
# absent). A test that skips there fails the target.
test-lsm:
	contrib/test-lsm.sh

# The OCI runtime-tools validation suite (../shared/conformance beside the
# repository) against ./ocirun, compared with contrib/conformance/expected.tsv:
# every program passes or fails only for the reason its row gives.
conformance: ocirun
	contrib/conformance/check.sh $(CURDIR)/ocirun

# Side-by-side benchmark of ./ocirun with runc and crun when installed
# (BENCH_FLAGS=-quick for a smoke run, -publish to refresh contrib/bench/latest.*).
bench: ocirun
	$(GO) build -o bin/ocirun-bench ./contrib/bench
	bin/ocirun-bench -ocirun ./ocirun $(BENCH_FLAGS)

# staticcheck without SA1019: the deprecated spec fields (prestart hooks,
# kernel memory) are honoured on purpose.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	@test -z "$$(gofmt -l cmd libcontainer specconv tests)" || { gofmt -l cmd libcontainer specconv tests; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags ocirun_gendocs ./cmd/ocirun
	$(GO) vet -tags nocriu ./...
	$(GO) run $(STATICCHECK) -checks "inherit,-SA1019" ./...
	$(GO) run $(STATICCHECK) -checks "inherit,-SA1019" -tags ocirun_gendocs ./cmd/ocirun

# Runs each fuzzer for FUZZTIME (default 20s).
FUZZTIME ?= 20s
fuzz:
	contrib/fuzz.sh $(FUZZTIME)

install: ocirun $(BUILDDIR)/docs.stamp
	install -D -m 0755 ocirun $(DESTDIR)$(PREFIX)/sbin/ocirun
	install -d -m 0755 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(BUILDDIR)/man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -D -m 0644 $(BUILDDIR)/completions/ocirun.bash $(DESTDIR)$(BASHCOMPDIR)/ocirun
	install -D -m 0644 $(BUILDDIR)/completions/_ocirun $(DESTDIR)$(ZSHCOMPDIR)/_ocirun
	install -D -m 0644 $(BUILDDIR)/completions/ocirun.fish $(DESTDIR)$(FISHCOMPDIR)/ocirun.fish

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/ocirun $(DESTDIR)$(MANDIR)/man8/ocirun.8 $(DESTDIR)$(MANDIR)/man8/ocirun-*.8
	rm -f $(DESTDIR)$(BASHCOMPDIR)/ocirun $(DESTDIR)$(ZSHCOMPDIR)/_ocirun $(DESTDIR)$(FISHCOMPDIR)/ocirun.fish

# $(BUILDDIR)/ocirun_<version>_<arch>.deb, built with dpkg-gencontrol and
# dpkg-deb from what `make install` puts under /usr.
deb: ocirun $(BUILDDIR)/docs.stamp
	rm -rf $(BUILDDIR)/deb
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(BUILDDIR))/deb/debian/ocirun PREFIX=/usr \
		ZSHCOMPDIR=/usr/share/zsh/vendor-completions
	contrib/deb/build.sh $(BUILDDIR)/deb '$(VERSION)' '$(COMMIT)'
	mv $(BUILDDIR)/deb/*.deb $(BUILDDIR)/

clean:
	rm -rf ocirun $(BUILDDIR)/skipcheck $(BUILDDIR)/gendocs $(BUILDDIR)/docs.stamp $(BUILDDIR)/man $(BUILDDIR)/completions \
		$(BUILDDIR)/deb $(BUILDDIR)/ocirun_*.deb
