package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ocirun/ocirun/internal/plainjson"
)

var stateCommand = &cli.Command{
	Name:      "state",
	Usage:     "output the state of a container",
	ArgsUsage: "<container-id>",
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1); err != nil {
			return err
		}
		c, err := loadContainerState(ctx)
		if err != nil {
			return err
		}
		b, err := plainjson.MarshalIndent(c.OCIState(), "", "  ")
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(append(b, '\n'))
		return err
	},
}
