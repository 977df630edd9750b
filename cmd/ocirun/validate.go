package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ocirun/ocirun/internal/problem"
	"github.com/ocirun/ocirun/specconv"
)

var validateCommand = &cli.Command{
	Name:      "validate",
	Usage:     "check a bundle without creating anything",
	ArgsUsage: "[container-id]",
	Description: `The validate command checks a bundle the way create would, with the same
flags, and creates nothing. It reports every problem at once, each with the
JSON path of the field, the bad value and a hint: the config itself, then
what it asks of this host (namespaces, cgroup controllers, seccomp actions,
flags and architectures, LSMs, mount types and options, hook programs, the
container's program in the rootfs and whether its user may run it). With a
container id, the id and --root are checked too. Exits 0 when create would
go ahead (warnings aside), 1 otherwise; create fails with the first error
listed here.`,
	Flags: append(append([]cli.Flag{}, createFlags...),
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "text", Usage: `select one of: text or json`},
	),
	Action: func(ctx *cli.Context) error {
		if ctx.NArg() > 1 {
			return checkArgs(ctx, 1)
		}
		format := ctx.String("format")
		if format != "text" && format != "json" {
			return fmt.Errorf("--format: invalid format %q (want text or json)", format)
		}
		ps := validateBundle(ctx)
		if format == "json" {
			if ps == nil {
				ps = problem.List{}
			}
			b, err := json.MarshalIndent(ps, "", "  ")
			if err != nil {
				return err
			}
			os.Stdout.Write(append(b, '\n'))
		} else {
			printProblems(ps)
		}
		if ps.Err() != nil {
			return &exitError{code: 1}
		}
		return nil
	},
}

// validateBundle is what create checks, in create's order, collected.
func validateBundle(ctx *cli.Context) problem.List {
	var ps problem.List
	id := ctx.Args().First()
	if ctx.NArg() == 1 {
		var p *problem.Problem
		if err := specconv.ValidateID(id); errors.As(err, &p) {
			ps.Add(p)
			id = "" // checked: the config's checks need not say it again
		}
	}
	bundle, err := bundleDir(ctx)
	if err != nil {
		ps.Errorf("--bundle", ctx.String("bundle"), "", "%v", err)
		return ps
	}
	spec, err := specconv.LoadSpec(bundle)
	if err != nil {
		ps.Add(specconv.LoadProblem(err))
		return ps
	}
	cfg, more := specconv.Validate(spec, specOptions(ctx, id, bundle, os.Getenv("NOTIFY_SOCKET")))
	ps.AddAll(more)
	if cfg != nil {
		ps.AddAll(root(ctx).Check(id, cfg, createOpts(ctx, bundle, false)))
	}
	return ps
}

func printProblems(ps problem.List) {
	for _, p := range ps {
		fmt.Printf("%s: %s\n", p.Severity, p.Error())
		if p.Value != nil {
			if b, err := json.Marshal(p.Value); err == nil {
				fmt.Printf("    value: %s\n", b)
			}
		}
		if p.Hint != "" {
			fmt.Printf("    hint: %s\n", p.Hint)
		}
	}
	errs, warns := ps.Count(problem.Error), ps.Count(problem.Warning)
	switch {
	case errs > 0:
		fmt.Printf("%d error(s), %d warning(s): create would fail with the first error\n", errs, warns)
	case warns > 0:
		fmt.Printf("%d warning(s): the bundle would run\n", warns)
	default:
		fmt.Println("ok: the bundle would run")
	}
}
