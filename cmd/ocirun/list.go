package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ocirun/ocirun/libcontainer"
)

var listCommand = &cli.Command{
	Name:  "list",
	Usage: "lists containers started by ocirun with the given root",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: `select one of: table or json`},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "display only container IDs"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 0); err != nil {
			return err
		}
		cs, err := root(ctx).List()
		// The default root does not exist before the first container; a
		// --root the caller named must (runc 1.4): a typo is not "none".
		if errors.Is(err, os.ErrNotExist) && !ctx.IsSet("root") {
			cs, err = nil, nil
		}
		if err != nil {
			return err
		}
		if ctx.Bool("quiet") {
			for _, c := range cs {
				fmt.Println(c.ID)
			}
			return nil
		}
		states := libcontainer.OCIStates(cs)
		switch ctx.String("format") {
		case "table":
			// tabwriter writes each cell and its padding on its own: one
			// write(2) per cell without the buffer.
			out := bufio.NewWriterSize(os.Stdout, 64<<10)
			w := tabwriter.NewWriter(out, 12, 1, 3, ' ', 0)
			fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, s := range states {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			return out.Flush()
		case "json":
			return json.NewEncoder(os.Stdout).Encode(states)
		default:
			return fmt.Errorf("--format: invalid format %q (want table or json)", ctx.String("format"))
		}
	},
}
