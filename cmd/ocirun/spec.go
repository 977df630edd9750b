package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/ocirun/ocirun/specconv"
)

var specCommand = &cli.Command{
	Name:  "spec",
	Usage: "create a new specification file",
	Description: `The spec command writes a config.json for a bundle whose root filesystem
is in ./rootfs; edit it, then "ocirun run ID" from the bundle directory.`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory"},
		&cli.BoolFlag{Name: "rootless", Usage: "generate a configuration for a rootless container"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 0); err != nil {
			return err
		}
		s := specconv.Example()
		if ctx.Bool("rootless") {
			specconv.ToRootless(s)
		}
		path := filepath.Join(ctx.String("bundle"), "config.json")
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("file %s exists: remove it first", path)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		b, err := json.MarshalIndent(s, "", "\t")
		if err != nil {
			return err
		}
		return os.WriteFile(path, append(b, '\n'), 0o666)
	},
}
