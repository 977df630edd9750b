package main

import (
	"bytes"
	"regexp"
	"runtime"
	"testing"
)

// Tools (and the other runtimes' users) parse `--version` by its lines: it
// must be runc's layout, line for line.
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
