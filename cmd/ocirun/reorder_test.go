package main

import (
	"slices"
	"strings"
	"testing"
)

func TestInterleaveFlags(t *testing.T) {
	app := newApp()
	for _, tc := range []struct{ in, want string }{
		// runc 1.4 takes flags after the container id.
		{"delete ID -f", "delete -f ID"},
		{"delete ID --force", "delete --force ID"},
		{"--root /r delete ID -f", "--root /r delete -f ID"},
		{"--log-format json --root /r kill ID KILL --all", "--log-format json --root /r kill --all ID KILL"},
		{"update ID --memory 1M", "update --memory 1M ID"},
		{"update ID --memory=1M --pids-limit 10", "update --memory=1M --pids-limit 10 ID"},
		{"update --resources - ID", "update --resources - ID"},
		{"run ID -d --bundle /b", "run -d --bundle /b ID"},
		{"list --no-such-flag", "list --no-such-flag"},
		// Global flags after the command go in front of it (urfave/cli v3).
		{"list --root /r", "--root /r list"},
		{"list -q --root=/r", "--root=/r list -q"},
		{"--debug delete ID --root /r -f", "--debug --root /r delete -f ID"},
		{"exec --root /r ID sh", "--root /r exec ID sh"},
		{"exec ID sh --root /r", "exec ID sh --root /r"},
		{"ps --root /r ID -ef", "--root /r ps ID -ef"},
		// A command's flag wins over a global flag of the same name.
		{"checkpoint --image-path /i ID", "checkpoint --image-path /i ID"},
		{"spec --rootless", "spec --rootless"},
		{"state ID -h", "state -h ID"},
		// Already in order, or nothing to move: unchanged.
		{"delete -f ID", "delete -f ID"},
		{"kill ID 9", "kill ID 9"},
		{"create --bundle /b ID", "create --bundle /b ID"},
		// An unknown dash argument is an argument; "--" ends flags.
		{"kill ID -x", "kill ID -x"},
		{"delete ID -- -f", "delete ID -- -f"},
		// exec's and ps's arguments after the id are the program's and ps(1)'s.
		{"exec ID sh -c true --env A=1", "exec ID sh -c true --env A=1"},
		{"exec ID -t sh", "exec ID -t sh"},
		{"ps ID -ef", "ps ID -ef"},
		{"ps ID --format json", "ps ID --format json"},
		// No command, or an unknown one.
		{"--version", "--version"},
		{"nosuch ID -f", "nosuch ID -f"},
	} {
		in := append([]string{"ocirun"}, strings.Fields(tc.in)...)
		got := interleaveFlags(app, in)
		want := append([]string{"ocirun"}, strings.Fields(tc.want)...)
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", tc.in, got[1:], want[1:])
		}
	}
}

// TestFlagNameClashes: the command flags that share a name with a global flag
// are the command's: list them, so that a new clash is a decision.
func TestFlagNameClashes(t *testing.T) {
	app := newApp()
	var clashes []string
	for _, c := range app.Commands {
		for _, f := range c.Flags {
			for _, n := range f.Names() {
				if lookupFlag(app.Flags, "--"+n) != nil {
					clashes = append(clashes, c.Name+" --"+n)
				}
			}
		}
	}
	// runc's `spec --rootless` (a template switch) is not the global one.
	if want := []string{"spec --rootless"}; !slices.Equal(clashes, want) {
		t.Errorf("command flags named like global ones: %q, want %q", clashes, want)
	}
}
