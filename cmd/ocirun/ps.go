package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

var psCommand = &cli.Command{
	Name:      "ps",
	Usage:     "ps displays the processes running inside a container",
	ArgsUsage: "<container-id> [ps options]",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "select one of: table or json"},
	},
	Action: func(ctx *cli.Context) error {
		if ctx.NArg() < 1 {
			return checkArgs(ctx, 1)
		}
		format := ctx.String("format")
		if format != "table" && format != "json" {
			return fmt.Errorf("--format: invalid format %q (want table or json)", format)
		}
		c, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		pids, err := c.Processes()
		if err != nil {
			return err
		}
		if format == "json" {
			// containerd's shim decodes this array; never print null.
			if pids == nil {
				pids = []int{}
			}
			return json.NewEncoder(os.Stdout).Encode(pids)
		}
		args := ctx.Args().Tail()
		if len(args) == 0 {
			args = []string{"-ef"}
		}
		out, err := exec.Command("ps", args...).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return fmt.Errorf("ps %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(ee.Stderr))
			}
			return fmt.Errorf("ps %s: %w", strings.Join(args, " "), err)
		}
		table, err := filterPS(out, pids)
		if err != nil {
			return err
		}
		_, err = os.Stdout.WriteString(table)
		return err
	},
}

// filterPS keeps ps's header and the lines whose PID column holds one of
// pids. ps runs in the host's pid namespace, as the pids from the cgroup are.
func filterPS(out []byte, pids []int) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	if !sc.Scan() {
		return "", errors.New("ps printed nothing")
	}
	header := sc.Text()
	col := slices.Index(strings.Fields(header), "PID")
	if col < 0 {
		return "", fmt.Errorf("no PID column in ps header %q (add pid to -o)", header)
	}
	var b strings.Builder
	b.WriteString(header + "\n")
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) <= col {
			continue
		}
		pid, err := strconv.Atoi(f[col])
		if err != nil {
			return "", fmt.Errorf("ps line %q: PID column holds %q", sc.Text(), f[col])
		}
		if slices.Contains(pids, pid) {
			b.WriteString(sc.Text() + "\n")
		}
	}
	return b.String(), sc.Err()
}
