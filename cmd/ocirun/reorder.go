package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// inOrder are the commands whose arguments after the container id belong to
// something else: exec's to the program it runs, ps's to ps(1). runc 1.4
// stops parsing their flags there too (urfave/cli v3 StopOnNthArg).
var inOrder = map[string]bool{"exec": true, "ps": true, "init": true}

// interleaveFlags moves a command's flags that follow its positional
// arguments in front of them: runc 1.4 (urfave/cli v3) parses `delete ID -f`,
// `kill ID KILL --all` and `update ID --memory 1M` as flags, while urfave/cli
// v2 stops at the first argument and would take "-f" for one. Only the
// command's own flag names move, with the value of a flag that takes one (the
// next argument, as Go's flag package reads it); anything after "--" stays
// where it is.
func interleaveFlags(app *cli.App, args []string) []string {
	i := 1
	for i < len(args) && isFlagArg(args[i]) {
		if args[i] == "--" {
			return args
		}
		if f := lookupFlag(app.Flags, args[i]); f != nil && flagTakesValue(f, args[i]) {
			i++
		}
		i++
	}
	if i >= len(args) {
		return args
	}
	cmd := app.Command(args[i])
	if cmd == nil || inOrder[cmd.Name] {
		return args
	}
	var flags, positional []string
	rest := args[i+1:]
	moved := false
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			positional = append(positional, rest[j:]...)
			break
		}
		f := lookupFlag(cmd.Flags, a)
		if f == nil && (a == "-h" || a == "--help") {
			f = cli.HelpFlag
		}
		if f == nil || !isFlagArg(a) {
			positional = append(positional, a)
			continue
		}
		moved = moved || len(positional) > 0
		flags = append(flags, a)
		if flagTakesValue(f, a) && j+1 < len(rest) {
			j++
			flags = append(flags, rest[j])
		}
	}
	if !moved {
		return args
	}
	out := append([]string{}, args[:i+1]...)
	out = append(out, flags...)
	return append(out, positional...)
}

func isFlagArg(a string) bool { return len(a) > 1 && a[0] == '-' }

// lookupFlag finds the flag arg names ("-f", "--force", "--force=true").
func lookupFlag(flags []cli.Flag, arg string) cli.Flag {
	name := strings.TrimLeft(arg, "-")
	name, _, _ = strings.Cut(name, "=")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// flagTakesValue: the flag reads the next argument (no "=value" in arg).
func flagTakesValue(f cli.Flag, arg string) bool {
	if strings.Contains(arg, "=") {
		return false
	}
	v, ok := f.(interface{ TakesValue() bool })
	return ok && v.TakesValue()
}
