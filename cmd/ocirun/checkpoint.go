package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// errNoCRIU: checkpoint/restore need CRIU integration, which ocirun does not
// have yet (and Debian's criu 3.17 fails on this kernel for every runtime).
// The commands exist so that containerd's and podman's calls get a clear
// error instead of "No help topic".
var errNoCRIU = errors.New("checkpoint/restore is not supported yet")

var checkpointCommand = &cli.Command{
	Name:            "checkpoint",
	Usage:           "checkpoint a running container (not supported yet)",
	ArgsUsage:       "<container-id>",
	SkipFlagParsing: true,
	Action:          func(*cli.Context) error { return errNoCRIU },
}

var restoreCommand = &cli.Command{
	Name:            "restore",
	Usage:           "restore a container from a previous checkpoint (not supported yet)",
	ArgsUsage:       "<container-id>",
	SkipFlagParsing: true,
	Action:          func(*cli.Context) error { return errNoCRIU },
}
