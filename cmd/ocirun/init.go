package main

import (
	"github.com/urfave/cli/v2"

	"github.com/ocirun/ocirun/libcontainer"
)

var initCommand = &cli.Command{
	Name:   "init",
	Usage:  "initialize the namespaces and launch the process (do not call it outside of ocirun)",
	Hidden: true,
	Action: func(*cli.Context) error {
		libcontainer.Init()
		return nil
	},
}
