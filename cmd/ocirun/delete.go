package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/ocirun/ocirun/libcontainer"
)

var deleteCommand = &cli.Command{
	Name:      "delete",
	Usage:     "delete any resources held by the container often used with detached container",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "forcibly deletes the container if it is still running (uses SIGKILL)"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1); err != nil {
			return err
		}
		c, err := loadContainer(ctx)
		if err != nil {
			// containerd's shim runs `delete --force` after every failure,
			// also for ids that never got created.
			if ctx.Bool("force") && errors.Is(err, libcontainer.ErrNotExist) {
				return nil
			}
			return err
		}
		tracer.Mark("load")
		err = c.Delete(ctx.Bool("force"), logger)
		tracer.Mark("delete")
		return err
	},
}
