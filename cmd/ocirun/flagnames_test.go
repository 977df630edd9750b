package main

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// withFreshCommands runs f on a new app and then restores the package-level
// commands, which urfave/cli changes as it runs (help flag, help name) and
// cacheFlagNames changes too.
func withFreshCommands(f func(app *cli.App)) {
	app := newApp()
	cmds := slices.Clone(app.Commands)
	saved := make([]cli.Command, len(cmds))
	for i, c := range cmds {
		saved[i] = *c
	}
	help, version := cli.HelpFlag, cli.VersionFlag
	defer func() {
		for i, c := range cmds {
			*c = saved[i]
		}
		cli.HelpFlag, cli.VersionFlag = help, version
	}()
	f(app)
}

// TestCacheFlagNames checks that the wrapped flags have the original names
// and that help and error output is byte for byte the same.
func TestCacheFlagNames(t *testing.T) {
	type flagText struct {
		names []string
		text  string
	}
	texts := func(app *cli.App) map[string][]flagText {
		m := map[string][]flagText{}
		for _, f := range app.Flags {
			m[""] = append(m[""], flagText{f.Names(), f.String()})
		}
		for _, c := range app.Commands {
			for _, f := range c.Flags {
				m[c.Name] = append(m[c.Name], flagText{f.Names(), f.String()})
			}
		}
		return m
	}
	var orig, cached map[string][]flagText
	withFreshCommands(func(app *cli.App) { orig = texts(app) })
	withFreshCommands(func(app *cli.App) {
		var all []string
		for _, c := range app.Commands {
			all = append(all, c.Name)
		}
		cacheFlagNames(app, all)
		if _, ok := app.Flags[0].(*stringFlag); !ok {
			t.Errorf("--root: %T, want stringFlag", app.Flags[0])
		}
		if _, ok := cli.HelpFlag.(*boolFlag); !ok {
			t.Errorf("--help: %T, want boolFlag", cli.HelpFlag)
		}
		cached = texts(app)
	})
	for cmd, fs := range orig {
		if len(cached[cmd]) != len(fs) {
			t.Fatalf("%q: %d flags, want %d", cmd, len(cached[cmd]), len(fs))
		}
		for i, f := range fs {
			if g := cached[cmd][i]; !slices.Equal(g.names, f.names) || g.text != f.text {
				t.Errorf("%q flag %d: %q %q, want %q %q", cmd, i, g.names, g.text, f.names, f.text)
			}
		}
	}

	// Each run in a new process: urfave/cli keeps state across runs (its
	// help command collects the help flag).
	run := func(cache bool, args []string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCacheFlagNamesRun$")
		cmd.Env = append(os.Environ(), "OCIRUN_TEST_FLAGNAMES="+strconv.FormatBool(cache)+"\x1f"+strings.Join(args, "\x1f"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v: %s", args, err, out)
		}
		return string(out)
	}
	for _, args := range [][]string{
		{"--help"}, {"--version"}, {"create", "--help"}, {"exec", "-h"}, {"help", "run"},
		{"run", "--bogus"}, {"--root"}, {"update", "--help"}, {"events", "--help"}, {"delete", "-f", "-f=false", "--force"},
		{"-v"}, {"-h"}, {"state", "-h"}, {"help"}, {"list", "--help", "x"},
	} {
		if want, got := run(false, args), run(true, args); got != want || want == "" {
			t.Errorf("ocirun %q: output differs:\n%s\nwant:\n%s", args, got, want)
		}
	}
}

// TestCacheFlagNamesRun is TestCacheFlagNames's child: it runs the app once
// and prints what it wrote.
func TestCacheFlagNamesRun(t *testing.T) {
	env := os.Getenv("OCIRUN_TEST_FLAGNAMES")
	if env == "" {
		t.Skip("run by TestCacheFlagNames")
	}
	args := strings.Split(env, "\x1f")
	app := newApp()
	if args[0] == "true" {
		cacheFlagNames(app, args[1:])
	}
	var out bytes.Buffer
	app.Writer, app.ErrWriter = &out, &out
	if err := app.Run(append([]string{"ocirun"}, args[1:]...)); err != nil {
		out.WriteString("error: " + err.Error())
	}
	os.Stdout.Write(out.Bytes())
	os.Exit(0)
}
