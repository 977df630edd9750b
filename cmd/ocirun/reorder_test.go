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
		{"list --root-is-not-a-list-flag", "list --root-is-not-a-list-flag"},
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
