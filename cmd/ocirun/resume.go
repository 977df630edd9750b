package main

import "github.com/urfave/cli/v2"

var resumeCommand = &cli.Command{
	Name:        "resume",
	Usage:       "resumes all processes that have been previously paused",
	ArgsUsage:   "<container-id>",
	Description: `The resume command thaws all processes of a paused container.`,
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1); err != nil {
			return err
		}
		c, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		return c.Resume()
	},
}
