//go:build ocirun_gendocs

// The man pages and shell completions come from the command tables, but the
// generator is not part of ./ocirun: only `make man completions` builds this
// file in, into a separate binary. gendocs_test.go checks the result.
package main

import (
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/cmd/ocirun/internal/clidoc"
	"github.com/ocirun/ocirun/specconv"
)

func init() {
	extraCommands = append(extraCommands, &cli.Command{
		Name:      "gendocs",
		Usage:     "write man pages and shell completions from the command tables",
		ArgsUsage: "<dir>",
		Hidden:    true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "date", Usage: "date in the man pages' footer"},
		},
		Action: func(ctx *cli.Context) error {
			if err := checkArgs(ctx, 1); err != nil {
				return err
			}
			// The root as the pages should show it, whoever runs make.
			os.Unsetenv("XDG_RUNTIME_DIR")
			return clidoc.Write(docSpec(newApp(), ctx.String("date")), ctx.Args().First())
		},
	})
}

func docSpec(app *cli.App, date string) *clidoc.Spec {
	both := func(key string, values []string) map[string][]string {
		return map[string][]string{"checkpoint " + key: values, "restore " + key: values}
	}
	values := map[string][]string{
		"--log-format":      {"text", "json"},
		"--rootless":        {"true", "false", "auto"},
		"list --format":     {"table", "json"},
		"ps --format":       {"table", "json"},
		"validate --format": {"text", "json"},
		"exec --cap":        specconv.KnownCapabilities(),
		"kill 2":            signalNames(),
	}
	for k, v := range both("--manage-cgroups-mode", []string{"soft", "full", "strict", "ignore"}) {
		values[k] = v
	}
	for k, v := range both("--empty-ns", []string{"network"}) {
		values[k] = v
	}
	return &clidoc.Spec{
		App:     app,
		Section: "8",
		Source:  "ocirun " + version,
		Date:    date,
		Values:  values,
		Containers: []string{
			"start", "state", "kill", "delete", "exec", "pause", "resume", "ps",
			"update", "events", "checkpoint",
		},
		Sections: manSections,
	}
}

// signalNames are the names kill takes (parseSignal also takes SIG-prefixed
// names and numbers).
func signalNames() []string {
	var out []string
	for s := unix.Signal(1); s < 32; s++ {
		if name := unix.SignalName(s); name != "" {
			out = append(out, name[len("SIG"):])
		}
	}
	return out
}

var manSections = []clidoc.Section{
	{Title: "Files", Items: []clidoc.Item{
		{Term: "/run/ocirun/<id>/", Text: `The state of container <id> under the default --root (as root;
$XDG_RUNTIME_DIR/ocirun otherwise): state.json, the normalized config.json and,
while the container is created but not started, exec.fifo. "ocirun delete"
removes it; "ocirun delete --force" also kills a running container first.`},
		{Term: "/run/ocirun-cache/seccomp/", Text: `Compiled seccomp programs ($XDG_RUNTIME_DIR/ocirun-cache/seccomp without root),
one per profile, binary and kernel, so that containers after the first skip
libseccomp. $OCIRUN_SECCOMP_CACHE names another directory, or "off". An entry
or a directory that is not the user's alone is not used; removing it is
always safe.`},
	}},
	{Title: "Exit status", Items: []clidoc.Item{
		{Text: `0 on success and 1 on an error, reported on stderr and, with --log, as one
line there ("level":"error" with --log-format json). "ocirun run" in the
foreground exits with the container's status, 128+N when signal N killed it;
"ocirun exec" likewise with its process's status, and 255 when the process
could not be started.`},
	}},
	{Title: "Notes", Items: []clidoc.Item{
		{Text: `A config.json field ocirun cannot apply is refused before anything is
created, with the JSON path of the field and the bad value; it is never
silently ignored.`},
	}},
}
