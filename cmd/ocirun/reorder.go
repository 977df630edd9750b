package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// inOrder are the commands whose arguments after the container id belong to
// something else: exec's to the program it runs, ps's to ps(1). runc 1.4
// stops parsing their flags there too (urfave/cli v3 StopOnNthArg).
var inOrder = map[string]bool{"exec": true, "ps": true, "init": true}

// interleaveFlags puts the flags of a command line where urfave/cli v2 looks
// for them. runc 1.4 (urfave/cli v3) parses a command's flags after its
// positional arguments (`delete ID -f`, `kill ID KILL --all`, `update ID
// --memory 1M`) and the global flags after the command (`list --root DIR`);
// v2 stops at the first argument and knows global flags only before the
// command. So a command's own flags after its arguments move in front of
// them, and global flags given after the command move in front of it, each
// with its value when it takes one (the next argument, as Go's flag package
// reads it). A command's flag wins over a global one of the same name.
// Arguments after "--", unknown dash arguments, and for exec and ps
// everything after the first argument, stay where they are.
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
	if cmd == nil || cmd.Name == "init" {
		return args
	}
	var globals, flags, positional []string
	rest := args[i+1:]
	moved := false
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" || (inOrder[cmd.Name] && len(positional) > 0) {
			positional = append(positional, rest[j:]...)
			break
		}
		if !isFlagArg(a) {
			positional = append(positional, a)
			continue
		}
		dst := &flags
		f := lookupFlag(cmd.Flags, a)
		if f == nil && (a == "-h" || a == "--help") {
			f = cli.HelpFlag
		}
		if f == nil {
			if f = lookupFlag(app.Flags, a); f == nil {
				positional = append(positional, a)
				continue
			}
			dst, moved = &globals, true
		} else {
			moved = moved || len(positional) > 0
		}
		*dst = append(*dst, a)
		if flagTakesValue(f, a) && j+1 < len(rest) {
			j++
			*dst = append(*dst, rest[j])
		}
	}
	if !moved {
		return args
	}
	out := append([]string{}, args[:i]...)
	out = append(out, globals...)
	out = append(out, args[i])
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
