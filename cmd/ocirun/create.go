package main

import "github.com/urfave/cli/v2"

var createCommand = &cli.Command{
	Name:      "create",
	Usage:     "create a container",
	ArgsUsage: "<container-id>",
	Description: `The create command creates an instance of a container for a bundle. The
container waits in "created" state until "ocirun start" runs its process.`,
	Flags: createFlags,
	Action: func(ctx *cli.Context) error {
		_, _, err := createContainer(ctx, false)
		return err
	},
}
