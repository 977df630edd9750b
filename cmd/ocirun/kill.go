package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

var killCommand = &cli.Command{
	Name:      "kill",
	Usage:     "kill sends the specified signal (default: SIGTERM) to the container's init process",
	ArgsUsage: "<container-id> [signal]",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "send the specified signal to all processes inside the container"},
	},
	Action: func(ctx *cli.Context) error {
		if ctx.NArg() < 1 || ctx.NArg() > 2 {
			return checkArgs(ctx, 2)
		}
		sig := unix.SIGTERM
		if ctx.NArg() == 2 {
			s, err := parseSignal(ctx.Args().Get(1))
			if err != nil {
				return err
			}
			sig = s
		}
		c, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		return c.Signal(sig, ctx.Bool("all"))
	},
}

// parseSignal accepts a number, a name, or a SIG-prefixed name, in any case.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("unknown signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
