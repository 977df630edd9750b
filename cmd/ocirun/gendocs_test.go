package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// runtimeTags are the Makefile's BUILDTAGS for ./ocirun.
const runtimeTags = "urfave_cli_no_docs netgo osusergo"

func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Skip("no go tool to build the generator with")
	}
	return p
}

// generate builds the generator as `make man completions` does and runs
// it; it returns the output directory (man/, completions/).
func generate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "gendocs")
	build := exec.Command(goTool(t), "build", "-tags", runtimeTags+" ocirun_gendocs", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the generator: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "out")
	if b, err := exec.Command(bin, "gendocs", out).CombinedOutput(); err != nil {
		t.Fatalf("gendocs: %v\n%s", err, b)
	}
	return out
}

// TestGeneratorNotInRuntime: the generator must cost the runtime nothing: not
// one package of it in ./ocirun's build, and no gendocs command.
func TestGeneratorNotInRuntime(t *testing.T) {
	out, err := exec.Command(goTool(t), "list", "-deps", "-tags", runtimeTags, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasSuffix(pkg, "/clidoc") || strings.Contains(pkg, "go-md2man") {
			t.Errorf("./ocirun links the documentation generator: %s", pkg)
		}
	}
	if newApp().Command("gendocs") != nil {
		t.Error("the runtime has the gendocs command")
	}
}

// help returns what `ocirun [command] --help` prints.
func help(t *testing.T, command string) string {
	t.Helper()
	app := newApp()
	var out bytes.Buffer
	app.Writer, app.ErrWriter = &out, io.Discard
	args := []string{"ocirun", "--help"}
	if command != "" {
		args = []string{"ocirun", command, "--help"}
	}
	if err := app.Run(args); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// section returns the lines of a --help or rendered man section.
func section(text, title string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case line == title || line == title+":":
			in = true
		case in && line != "" && line[0] != ' ':
			return out
		case in:
			out = append(out, line)
		}
	}
	return out
}

var flagName = regexp.MustCompile(`(?:^|[ ,\[])(--?[a-z][a-z0-9-]*)`)

// helpFlags are the flag names in a --help OPTIONS section (the column
// before the usage).
func helpFlags(lines []string) []string {
	var out []string
	for _, l := range lines {
		left, _, _ := strings.Cut(strings.TrimSpace(l), "  ")
		for _, m := range flagName.FindAllStringSubmatch(left, -1) {
			out = append(out, m[1])
		}
	}
	return sortedSet(out)
}

// manFlags are the flag names in the tags of a rendered OPTIONS section.
func manFlags(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "       -") {
			for _, m := range flagName.FindAllStringSubmatch(strings.TrimSpace(l), -1) {
				out = append(out, m[1])
			}
		}
	}
	return sortedSet(out)
}

func sortedSet(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// render formats a page as man shows it, one paragraph per line.
func render(t *testing.T, page string) string {
	t.Helper()
	cmd := exec.Command("groff", "-man", "-Tascii", "-P-cbou", "-rLL=2000n", "-ww", page)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("groff %s: %v\n%s", page, err, stderr.String())
	}
	return string(out)
}

var spaces = regexp.MustCompile(`\s+`)

func squeeze(s string) string { return spaces.ReplaceAllString(strings.TrimSpace(s), " ") }

// TestManPages checks every page against --help: one page per command, the
// same flags, and each flag's text as --help prints it.
func TestManPages(t *testing.T) {
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip("groff (groff-base) is not installed: cannot render the pages")
	}
	man := filepath.Join(generate(t), "man")
	app := newApp()
	want := []string{"ocirun.8"}
	var visible []string
	for _, c := range app.Commands {
		if !c.Hidden {
			want = append(want, "ocirun-"+c.Name+".8")
			visible = append(visible, c.Name)
		}
	}
	entries, err := os.ReadDir(man)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if slices.Sort(want); !slices.Equal(got, want) {
		t.Fatalf("pages %v, want %v", got, want)
	}

	page := render(t, filepath.Join(man, "ocirun.8"))
	var cmds []string
	for _, l := range section(page, "COMMANDS") {
		if m := regexp.MustCompile(`^ {7}ocirun-(\S+)\(8\)$`).FindStringSubmatch(l); m != nil {
			cmds = append(cmds, m[1])
		}
	}
	if !slices.Equal(cmds, visible) {
		t.Errorf("ocirun(8) lists commands %v, --help %v", cmds, visible)
	}
	checkFlags(t, "ocirun(8)", page, "GLOBAL OPTIONS", help(t, ""), "GLOBAL OPTIONS", app.Flags)
	for _, c := range app.Commands {
		if c.Hidden {
			continue
		}
		name := "ocirun-" + c.Name + "(8)"
		page := render(t, filepath.Join(man, "ocirun-"+c.Name+".8"))
		if !strings.Contains(squeeze(page), squeeze("ocirun-"+c.Name+" - "+c.Usage)) {
			t.Errorf("%s: NAME is not %q", name, c.Usage)
		}
		checkFlags(t, name, page, "OPTIONS", help(t, c.Name), "OPTIONS", c.Flags)
	}
}

func checkFlags(t *testing.T, name, page, manSection, helpText, helpSection string, flags []cli.Flag) {
	t.Helper()
	got, want := manFlags(section(page, manSection)), helpFlags(section(helpText, helpSection))
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("%s documents flags %v, --help %v", name, got, want)
	}
	text := squeeze(page)
	for _, f := range flags {
		_, usage, _ := strings.Cut(cli.FlagStringer(f), "\t")
		if !strings.Contains(text, squeeze(usage)) {
			t.Errorf("%s: --%s is not described as in --help: %q", name, f.Names()[0], usage)
		}
	}
}
