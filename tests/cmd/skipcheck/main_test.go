package main

import (
	"bytes"
	"strings"
	"testing"
)

const skipsFile = `# comment
host  tests/integration  TestCheckpoint*   criu check fails here:  vdso
*     libcontainer/seccomp  TestLog/sub  the kernel does not log
`

func TestParseSkips(t *testing.T) {
	list, err := parseSkips(strings.NewReader(skipsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].why != "criu check fails here:  vdso" || list[0].line != 2 || list[1].where != "*" {
		t.Fatalf("parsed %+v %+v", list[0], list[1])
	}
	for _, bad := range []string{"host pkg TestX\n", "host pkg Test[ why\n"} {
		if _, err := parseSkips(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestMatch(t *testing.T) {
	list, _ := parseSkips(strings.NewReader(skipsFile))
	const pkg = "github.com/ocirun/ocirun/tests/integration"
	for _, tc := range []struct {
		where        []string
		pkg, test    string
		reason       string
		wantListedAt int
	}{
		{[]string{"host"}, pkg, "TestCheckpointRestore", "x.go:53: criu check fails here:  vdso: bad", 2},
		{[]string{"host"}, pkg, "TestCheckpointRestore", "x.go:53: criu is not installed", 0}, // another reason
		{[]string{"cgroupv2-vm"}, pkg, "TestCheckpointRestore", "criu check fails here:  vdso", 0},
		{[]string{"vm", "host"}, "github.com/x/other/tests/integration", "TestCheckpoint", "criu check fails here:  vdso", 2},
		{[]string{"host"}, "github.com/ocirun/ocirun/libcontainer/seccomp", "TestLog/sub", "the kernel does not log it", 3},
		{[]string{"host"}, "github.com/ocirun/ocirun/libcontainer/seccomp", "TestLog/sub/deeper", "the kernel does not log it", 0},
		{[]string{"host"}, "github.com/ocirun/ocirun/libcontainer/xseccomp", "TestLog/sub", "the kernel does not log it", 0},
	} {
		got := 0
		if e := match(list, tc.where, tc.pkg, tc.test, tc.reason); e != nil {
			got = e.line
		}
		if got != tc.wantListedAt {
			t.Errorf("%v %s %s %q: matched line %d, want %d", tc.where, tc.pkg, tc.test, tc.reason, got, tc.wantListedAt)
		}
	}
}

// TestReport: an unlisted skip or a failed test makes the status 1; the
// listed skip, the passing test and the package lines do not.
func TestReport(t *testing.T) {
	const stream = `{"Action":"run","Package":"p/tests/integration","Test":"TestA"}
{"Action":"output","Package":"p/tests/integration","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p/tests/integration","Test":"TestA","Output":"    a_test.go:9: criu check fails here:  vdso bounds\n"}
{"Action":"output","Package":"p/tests/integration","Test":"TestA","Output":"--- SKIP: TestA (0.00s)\n"}
{"Action":"skip","Package":"p/tests/integration","Test":"TestCheckpointA"}
{"Action":"output","Package":"p/tests/integration","Test":"TestB","Output":"    b_test.go:3: no root\n"}
{"Action":"skip","Package":"p/tests/integration","Test":"TestB"}
{"Action":"pass","Package":"p/tests/integration","Test":"TestC"}
not json: a VM's console line
{"Action":"output","Package":"p/tests/integration","Output":"ok  \tp/tests/integration\t1.0s\n"}
`
	list, _ := parseSkips(strings.NewReader(skipsFile))
	r := newReport(list, []string{"host"})
	// TestCheckpointA's output went to TestA's key: a skip with no output
	// has no reason and is not listed.
	if err := r.read(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if status := r.summary(&out); status != 1 {
		t.Errorf("status %d, want 1 for TestB's skip:\n%s", status, out.String())
	}
	if !strings.Contains(out.String(), "p/tests/integration TestB: b_test.go:3: no root") || !strings.Contains(out.String(), "1 passed, 0 failed, 2 skipped (2 not listed") {
		t.Errorf("summary:\n%s", out.String())
	}

	r = newReport(list, []string{"host"})
	r.read(strings.NewReader(`{"Action":"output","Package":"p/tests/integration","Test":"TestCheckpointX","Output":"    x.go:1: criu check fails here:  vdso\n"}
{"Action":"skip","Package":"p/tests/integration","Test":"TestCheckpointX"}
{"Action":"pass","Package":"p/libcontainer/seccomp","Test":"TestLog/sub"}
`))
	out.Reset()
	if status := r.summary(&out); status != 0 {
		t.Errorf("status %d for a listed skip:\n%s", status, out.String())
	}
	if !strings.Contains(out.String(), "listed, line 2") || !strings.Contains(out.String(), "line 3 (libcontainer/seccomp TestLog/sub) did not skip") {
		t.Errorf("summary:\n%s", out.String())
	}
}
