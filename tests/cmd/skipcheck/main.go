// Command skipcheck runs `go test -json` (or reads its output, or test2json's,
// on stdin) and fails when a test skips without being listed, with the
// reason it gives, in the expected-skips file: CI must not pass by skipping.
//
//	skipcheck [-skips FILE] [-where host,goinit] -- go test -json ./...
//	go tool test2json -p PKG <log | skipcheck -where cgroupv2-vm
//
// It prints what `go test` would without -v (package results, and the
// output of failed tests), then every skip with its reason. Exit status:
// the command's when it failed, else 1 for an unexpected skip or a test
// that failed, 0 otherwise. Listed skips that did not happen are reported,
// not failed: most depend on the host.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// expected is one line of the expected-skips file:
//
//	WHERE  PACKAGE  TEST  REASON...
//
// WHERE is a run name (-where) or "*"; PACKAGE the package path relative to
// the module ("tests/integration"); TEST a path.Match pattern of the full
// test name; REASON a substring of the skip message. Everything after a "#"
// at the start of a line is a comment.
type expected struct {
	line                  int
	where, pkg, test, why string
	seen                  int
}

func parseSkips(r io.Reader) ([]*expected, error) {
	var out []*expected
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		if len(f) < 4 {
			return nil, fmt.Errorf("line %d: want WHERE PACKAGE TEST REASON, got %q", n, l)
		}
		if _, err := path.Match(f[2], ""); err != nil {
			return nil, fmt.Errorf("line %d: test pattern %q: %w", n, f[2], err)
		}
		out = append(out, &expected{line: n, where: f[0], pkg: f[1], test: f[2], why: afterFields(l, 3)})
	}
	return out, sc.Err()
}

// afterFields is l after its first n fields: the reason as written, inner
// spacing included.
func afterFields(l string, n int) string {
	for range n {
		l = strings.TrimLeft(l, " \t")
		i := strings.IndexAny(l, " \t")
		if i < 0 {
			return ""
		}
		l = l[i:]
	}
	return strings.TrimSpace(l)
}

// match returns the entry that allows pkg's test to skip with reason.
func match(list []*expected, where []string, pkg, test, reason string) *expected {
	for _, e := range list {
		if e.where != "*" && !slices.Contains(where, e.where) {
			continue
		}
		if pkg != e.pkg && !strings.HasSuffix(pkg, "/"+e.pkg) {
			continue
		}
		if ok, _ := path.Match(e.test, test); !ok {
			continue
		}
		if strings.Contains(reason, e.why) {
			return e
		}
	}
	return nil
}

type key struct{ pkg, test string }

func main() {
	skipsFile := flag.String("skips", "tests/expected-skips.txt", "the expected-skips file")
	where := flag.String("where", "host", "comma-separated names of this run, matched against the file's first column")
	flag.Parse()
	list, err := readSkips(*skipsFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "skipcheck:", err)
		os.Exit(2)
	}

	in := io.Reader(os.Stdin)
	var cmd *exec.Cmd
	if flag.NArg() > 0 {
		cmd = exec.Command(flag.Arg(0), flag.Args()[1:]...)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			fmt.Fprintln(os.Stderr, "skipcheck:", err)
			os.Exit(2)
		}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "skipcheck:", err)
			os.Exit(2)
		}
		in = out
	}

	r := newReport(list, strings.Split(*where, ","))
	if err := r.read(in); err != nil {
		fmt.Fprintln(os.Stderr, "skipcheck:", err)
	}
	status := 0
	if cmd != nil {
		if err := cmd.Wait(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				fmt.Fprintln(os.Stderr, "skipcheck:", err)
				os.Exit(2)
			}
			status = ee.ExitCode()
		}
	}
	if s := r.summary(os.Stdout); status == 0 {
		status = s
	}
	os.Exit(status)
}

func readSkips(name string) ([]*expected, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	list, err := parseSkips(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return list, nil
}

type skip struct {
	key
	reason string
	entry  *expected
}

type report struct {
	list   []*expected
	where  []string
	output map[key][]string // each running test's output lines
	skips  []skip
	failed []key
	passed int
	pkgs   map[string]bool // the packages that ran
}

func newReport(list []*expected, where []string) *report {
	return &report{list: list, where: where, output: map[key][]string{}, pkgs: map[string]bool{}}
}

// read prints package results and failed tests' output as they come.
func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Println(sc.Text()) // not an event: build output, a VM's console
			continue
		}
		k := key{e.Package, e.Test}
		r.pkgs[e.Package] = true
		switch {
		case e.Test == "" && e.Action == "output":
			// The package's own lines: "ok  pkg 1.2s", "FAIL", "--- FAIL".
			if !strings.HasPrefix(e.Output, "=== ") && !strings.HasPrefix(e.Output, "PASS") {
				fmt.Print(e.Output)
			}
		case e.Test == "":
		case e.Action == "output":
			r.output[k] = append(r.output[k], e.Output)
		case e.Action == "pass":
			r.passed++
			delete(r.output, k)
		case e.Action == "fail":
			r.failed = append(r.failed, k)
			fmt.Print(strings.Join(r.output[k], ""))
			delete(r.output, k)
		case e.Action == "skip":
			reason := skipReason(r.output[k])
			r.skips = append(r.skips, skip{key: k, reason: reason, entry: match(r.list, r.where, e.Package, e.Test, reason)})
			delete(r.output, k)
		}
	}
	return sc.Err()
}

// skipReason is what the test printed, without the framework's lines.
func skipReason(lines []string) string {
	var out []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		out = append(out, t)
	}
	return strings.Join(out, " ")
}

// summary prints the skips and returns 1 when one was not expected or a
// test failed.
func (r *report) summary(w io.Writer) int {
	status := 0
	var unexpected []skip
	for _, s := range r.skips {
		var mark string
		if s.entry == nil {
			unexpected = append(unexpected, s)
			mark = "NOT LISTED"
		} else {
			s.entry.seen++
			mark = fmt.Sprintf("listed, line %d", s.entry.line)
		}
		fmt.Fprintf(w, "SKIP %s %s [%s]: %s\n", s.pkg, s.test, mark, s.reason)
	}
	for _, e := range r.list {
		ran := false
		for p := range r.pkgs {
			ran = ran || p == e.pkg || strings.HasSuffix(p, "/"+e.pkg)
		}
		if e.seen == 0 && ran && (e.where == "*" || slices.Contains(r.where, e.where)) {
			fmt.Fprintf(w, "skipcheck: line %d (%s %s) did not skip in this run\n", e.line, e.pkg, e.test)
		}
	}
	fmt.Fprintf(w, "skipcheck: %d passed, %d failed, %d skipped (%d not listed in the expected skips)\n",
		r.passed, len(r.failed), len(r.skips), len(unexpected))
	if len(unexpected) > 0 {
		fmt.Fprintln(w, "skipcheck: these tests skipped without an entry in the expected-skips file; make them run, or add a line WHERE PACKAGE TEST REASON:")
		for _, s := range unexpected {
			fmt.Fprintf(w, "  %s %s: %s\n", s.pkg, s.test, s.reason)
		}
		status = 1
	}
	if len(r.failed) > 0 {
		status = 1
	}
	return status
}
