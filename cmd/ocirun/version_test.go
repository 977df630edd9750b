package main

import (
	"bytes"
	"regexp"
	"runtime"
	"testing"
)

// TestVersionLayout: tools (and the other runtimes' users) parse `--version` by
// its lines: it must be runc's layout, line for line.
func TestVersionLayout(t *testing.T) {
	app := newApp()
	var out bytes.Buffer
	app.Writer = &out
	if err := app.Run([]string{"ocirun", "--version"}); err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^ocirun version \S+
commit: \S+
spec: \d+\.\d+\.\d+\S*
go: ` + regexp.QuoteMeta(runtime.Version()) + `
libseccomp: \d+\.\d+\.\d+
$`)
	if !want.Match(out.Bytes()) {
		t.Errorf("--version printed\n%s\nwant runc's layout %s", out.String(), want)
	}
}

// TestHelpVersionLayout: -h shows the version as runc's help does, the
// four detail lines flush left under the indented version; -v is --version.
func TestHelpVersionLayout(t *testing.T) {
	run := func(arg string) string {
		app := newApp()
		var out bytes.Buffer
		app.Writer = &out
		if err := app.Run([]string{"ocirun", arg}); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	want := regexp.MustCompile(`\nVERSION:
   \S+
commit: \S+
spec: \d+\.\d+\.\d+\S*
go: ` + regexp.QuoteMeta(runtime.Version()) + `
libseccomp: \d+\.\d+\.\d+
\n`)
	if h := run("-h"); !want.MatchString(h) || !regexp.MustCompile(`(?m)^USAGE:\n   ocirun \[global options\] command`).MatchString(h) {
		t.Errorf("-h printed\n%s\nwant runc's layout %s", h, want)
	}
	if v, long := run("-v"), run("--version"); v != long {
		t.Errorf("-v printed %q, --version %q", v, long)
	}
}
