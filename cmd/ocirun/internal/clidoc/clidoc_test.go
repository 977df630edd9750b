package clidoc

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func toyApp() *cli.App {
	return &cli.App{
		Name:  "toy",
		Usage: "a toy",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Usage: "state directory `DIR`"},
			&cli.BoolFlag{Name: "secret", Hidden: true},
		},
		Commands: []*cli.Command{
			{Name: "go", Usage: "go somewhere", ArgsUsage: "<id>", Description: ".dot first\n\n  indented \\ example",
				Flags: []cli.Flag{&cli.IntFlag{Name: "count", Aliases: []string{"c"}, Usage: "how many files"}}},
			{Name: "internal", Hidden: true},
		},
	}
}

func TestGenerate(t *testing.T) {
	files, err := Generate(&Spec{App: toyApp(), Section: "1", Source: "toy 1.0"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	for _, want := range []string{"man/toy.1", "man/toy-go.1", "completions/toy.bash", "completions/_toy", "completions/toy.fish"} {
		if files[want] == nil {
			t.Errorf("no %s in %v", want, names)
		}
	}
	if files["man/toy-internal.1"] != nil {
		t.Error("a hidden command has a page")
	}
	page := string(files["man/toy-go.1"])
	for _, want := range []string{
		`\fB\-\-count\fR, \fB\-c\fR \fIvalue\fR` + "\nhow many files (default: 0)\n", // names and --help's text
		"\\&.dot first\n",                       // a leading dot is text, not a request
		".RS\n.nf\nindented \\e example\n.fi\n", // indented lines are kept, backslash escaped
	} {
		if !strings.Contains(page, want) {
			t.Errorf("toy-go.1 lacks %q:\n%s", want, page)
		}
	}
	main := string(files["man/toy.1"])
	if !strings.Contains(main, `\fB\-\-root\fR \fIDIR\fR`) || strings.Contains(main, "secret") {
		t.Errorf("toy.1: want --root DIR and no hidden flag:\n%s", main)
	}
	// A path flag completes file names; a numeric one never does, whatever
	// its usage says.
	bash := string(files["completions/toy.bash"])
	if !strings.Contains(bash, "' --root')\n\t\t_toy_files") || strings.Contains(bash, "'go --count' | 'go -c')\n\t\t_toy_files") {
		t.Errorf("want files for --root only:\n%s", bash)
	}
}

func TestSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{Values: map[string][]string{"--nope": {"a"}}}, `values for "--nope": no such flag`},
		{Spec{Values: map[string][]string{"go --nope": {"a"}}}, `values for "go --nope"`},
		{Spec{Values: map[string][]string{"stop 1": {"a"}}}, `values for "stop 1"`},
		{Spec{Containers: []string{"stop"}}, `containers: no command "stop"`},
	} {
		tc.spec.App, tc.spec.Section = toyApp(), "1"
		if _, err := Generate(&tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.spec, err, tc.want)
		}
	}
	app := toyApp()
	app.Commands[0].Subcommands = []*cli.Command{{Name: "sub"}}
	if _, err := Generate(&Spec{App: app, Section: "1"}); err == nil {
		t.Error("subcommands were accepted; they are not documented")
	}
}

func TestRoff(t *testing.T) {
	for in, want := range map[string]string{
		"--all":      `\-\-all`,
		`a\b`:        `a\eb`,
		".x":         `\&.x`,
		"'quoted'":   `\&'quoted'`,
		"it's fine.": "it's fine.",
	} {
		if got := roff(in); got != want {
			t.Errorf("roff(%q) = %q, want %q", in, got, want)
		}
	}
}
