// Package integration holds black-box tests of the runtime binary: each test builds
// an OCI bundle on the fly (busybox plus the static probe from tests/cmd/probe),
// drives the runtime's runc-compatible CLI with a private --root, container id and
// cgroup, and asserts on what the probe reports from inside or what the host sees.
//
// Run as root from the module root:
//
//	make && go test -count=1 ./tests/integration/             # ./ocirun
//	OCIRUN_TEST_RUNTIME=runc go test -count=1 ./tests/...       # runc, to check the tests
//
// OCIRUN_TEST_RUNTIME is a name looked up in PATH or a path (relative to the module
// root). Without root, or without the runtime binary, every test skips with the reason.
package integration
