package main

import (
	"slices"

	"github.com/urfave/cli/v2"
)

// cacheFlagNames exists because urfave/cli computes a flag's names on every
// call of Names() with a regexp (FlagNames strips a v1-style "name, n"
// suffix), and looks flags up by scanning every flag's names: runFlagActions
// and IsSet make that quadratic in the number of flags. `ocirun create` called
// Names() 166 times, 0.7 M instructions, a third of its command-line parse.
//
// cacheFlagNames wraps the global flags and those of the commands named in
// args in types whose Names() returns the names computed once, the same way
// without the regexp (wrapping every command's flags would cost more than it
// saves). Every other method is the original's (embedded), so parsing and
// help text are unchanged: String() still formats the original flag. It is
// applied in main only, so that anything inspecting newApp()'s flag tables
// (docs, completion generators) sees the original types. Hidden bool flags
// keep their type: urfave's bash completion type-asserts *cli.BoolFlag to
// skip them.
func cacheFlagNames(app *cli.App, args []string) {
	// urfave adds these two to the flags of the app and of every command.
	cli.HelpFlag = cachedNames([]cli.Flag{cli.HelpFlag})[0]
	cli.VersionFlag = cachedNames([]cli.Flag{cli.VersionFlag})[0]
	app.Flags = cachedNames(app.Flags)
	for _, c := range app.Commands {
		if slices.ContainsFunc(args, c.HasName) {
			c.Flags = cachedNames(c.Flags)
		}
	}
}

// cachedNames returns a new slice: commands share flag tables (create, run).
func cachedNames(flags []cli.Flag) []cli.Flag {
	out := make([]cli.Flag, len(flags))
	for i, f := range flags {
		out[i] = f
		switch f := f.(type) {
		case *cli.BoolFlag:
			if !f.Hidden {
				out[i] = &boolFlag{f, flagNames(f.Name, f.Aliases)}
			}
		case *cli.StringFlag:
			out[i] = &stringFlag{f, flagNames(f.Name, f.Aliases)}
		case *cli.StringSliceFlag:
			out[i] = &stringSliceFlag{f, flagNames(f.Name, f.Aliases)}
		case *cli.IntFlag:
			out[i] = &intFlag{f, flagNames(f.Name, f.Aliases)}
		case *cli.Int64SliceFlag:
			out[i] = &int64SliceFlag{f, flagNames(f.Name, f.Aliases)}
		case *cli.DurationFlag:
			out[i] = &durationFlag{f, flagNames(f.Name, f.Aliases)}
		}
	}
	return out
}

// flagNames is cli.FlagNames without its regexp "[, ]+.*": each name is cut
// at its first comma or space. The result has no spare capacity, so a
// caller's append cannot write into the cached array.
func flagNames(name string, aliases []string) []string {
	names := make([]string, 1+len(aliases))
	names[0] = name
	copy(names[1:], aliases)
	for i, n := range names {
		for j := 0; j < len(n); j++ {
			if n[j] == ',' || n[j] == ' ' {
				names[i] = n[:j]
				break
			}
		}
	}
	return names
}

type boolFlag struct {
	*cli.BoolFlag
	names []string
}

func (f *boolFlag) Names() []string { return f.names }

type stringFlag struct {
	*cli.StringFlag
	names []string
}

func (f *stringFlag) Names() []string { return f.names }

type stringSliceFlag struct {
	*cli.StringSliceFlag
	names []string
}

func (f *stringSliceFlag) Names() []string { return f.names }

type intFlag struct {
	*cli.IntFlag
	names []string
}

func (f *intFlag) Names() []string { return f.names }

type int64SliceFlag struct {
	*cli.Int64SliceFlag
	names []string
}

func (f *int64SliceFlag) Names() []string { return f.names }

type durationFlag struct {
	*cli.DurationFlag
	names []string
}

func (f *durationFlag) Names() []string { return f.names }
