//go:build nocriu

package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// A build with the nocriu tag leaves CRIU out (no RPC codec, no protowire):
// checkpoint and restore say so instead of disappearing, so a client gets a
// clear error rather than "unknown command".
const checkpointBuilt = false

var errNoCriu = errors.New("this ocirun was built without checkpoint/restore support (build tag nocriu)")

var (
	checkpointCommand = &cli.Command{
		Name: "checkpoint", Usage: "checkpoint a running container (not in this build)", ArgsUsage: "<container-id>",
		SkipFlagParsing: true, Action: func(*cli.Context) error { return errNoCriu },
	}
	restoreCommand = &cli.Command{
		Name: "restore", Usage: "restore a container from a previous checkpoint (not in this build)", ArgsUsage: "<container-id>",
		SkipFlagParsing: true, Action: func(*cli.Context) error { return errNoCriu },
	}
)
