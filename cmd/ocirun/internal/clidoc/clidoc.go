// Package clidoc writes man pages and bash, zsh and fish completions from a
// urfave/cli App's command and flag tables, so they say what --help says.
//
// It is never linked into the runtime: ocirun's hidden gendocs command,
// built only with the ocirun_gendocs tag (make man completions), calls it.
package clidoc

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// Spec is what the pages and scripts are generated from.
type Spec struct {
	App     *cli.App
	Section string // man section, e.g. "8"
	Source  string // the man page footer's source, e.g. "ocirun 1.2.0"
	Date    string // the footer's date; empty keeps the pages reproducible
	// Values lists the words a flag's value or a positional argument can be
	// when they are a fixed set, keyed "--flag" (global), "command --flag",
	// or "command N" (the Nth positional argument, from 1).
	Values map[string][]string
	// Containers are the commands whose first argument is an existing
	// container, completed from "<program> [--root DIR] list -q".
	Containers []string
	// Sections are added to the main page after its generated ones.
	Sections []Section
}

// Section is a man page section of prose: items with a term become tagged
// paragraphs, the others plain ones.
type Section struct {
	Title string
	Items []Item
}

// Item is one paragraph of a Section.
type Item struct{ Term, Text string }

// command and flag are the tables reduced to what every output needs.
type command struct {
	name, usage, argsUsage, description string
	aliases                             []string
	flags                               []flag
}

type flag struct {
	names       []string // with dashes, the main name first
	takesValue  bool
	repeatable  bool
	files       bool     // the value is a host path: complete file names
	values      []string // fixed set, if any
	placeholder string
	usage       string // without the placeholder's backquotes
	help        string // usage, default and env hint exactly as --help prints them
}

func (f flag) long() string { return f.names[0] }

// Write generates everything into dir: man/<name>.<section> and
// completions/{<name>.bash,_<name>,<name>.fish}.
func Write(s *Spec, dir string) error {
	files, err := Generate(s)
	if err != nil {
		return err
	}
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Generate returns every file Write writes, by relative path.
func Generate(s *Spec) (map[string][]byte, error) {
	global, cmds, err := s.model()
	if err != nil {
		return nil, err
	}
	name := s.App.Name
	out := map[string][]byte{
		"completions/" + name + ".bash": bash(s, global, cmds),
		"completions/_" + name:          zsh(s, global, cmds),
		"completions/" + name + ".fish": fish(s, global, cmds),
	}
	out[fmt.Sprintf("man/%s.%s", name, s.Section)] = mainPage(s, global, cmds)
	for _, c := range cmds {
		out[fmt.Sprintf("man/%s-%s.%s", name, c.name, s.Section)] = commandPage(s, c)
	}
	return out, nil
}

// model reads the App's visible commands and flags, with the help and
// version flags urfave/cli adds when it runs.
func (s *Spec) model() ([]flag, []command, error) {
	a := s.App
	gflags := slices.Clip(a.Flags)
	if !a.HideHelp {
		gflags = append(gflags, cli.HelpFlag)
	}
	if !a.HideVersion {
		gflags = append(gflags, cli.VersionFlag)
	}
	global, err := s.flags("", gflags)
	if err != nil {
		return nil, nil, err
	}
	var cmds []command
	for _, c := range a.Commands {
		if c.Hidden {
			continue
		}
		if len(c.Subcommands) > 0 {
			return nil, nil, fmt.Errorf("command %s: subcommands are not supported", c.Name)
		}
		cflags := slices.Clip(c.Flags)
		if !a.HideHelp && !c.HideHelp {
			cflags = append(cflags, cli.HelpFlag)
		}
		fl, err := s.flags(c.Name, cflags)
		if err != nil {
			return nil, nil, err
		}
		cmds = append(cmds, command{
			name: c.Name, aliases: c.Aliases, usage: c.Usage, argsUsage: c.ArgsUsage,
			description: c.Description, flags: fl,
		})
	}
	for key := range s.Values {
		if !s.knows(key, global, cmds) {
			return nil, nil, fmt.Errorf("values for %q: no such flag or argument", key)
		}
	}
	for _, name := range s.Containers {
		if findCommand(cmds, name) == nil {
			return nil, nil, fmt.Errorf("containers: no command %q", name)
		}
	}
	return global, cmds, nil
}

// pathWords marks a flag whose value is a host path (complete file names):
// the tables have no type for it, but their usage text says so. A path in
// the container or a cgroup is not one.
var (
	pathWords    = regexp.MustCompile(`(?i)\b(path|file|director(y|ies)|socket)\b`)
	notHostPaths = regexp.MustCompile(`(?i)\b(in|inside) the container\b|cgroup`)
)

func (s *Spec) flags(cmd string, fs []cli.Flag) ([]flag, error) {
	var out []flag
	for _, f := range fs {
		df, ok := f.(cli.DocGenerationFlag)
		if !ok {
			return nil, fmt.Errorf("flag %v: no usage to document", f.Names())
		}
		if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
			continue
		}
		var fl flag
		for _, n := range f.Names() {
			fl.names = append(fl.names, dashed(n))
		}
		fl.takesValue = df.TakesValue()
		if sf, ok := f.(cli.DocGenerationSliceFlag); ok {
			fl.repeatable = sf.IsSliceFlag()
		}
		placeholder, usage := unquoteUsage(df.GetUsage())
		if fl.takesValue && placeholder == "" {
			placeholder = "value"
		}
		fl.placeholder, fl.usage = placeholder, usage
		key := strings.TrimSpace(cmd + " " + fl.long())
		fl.values = s.Values[key]
		fl.files = fl.takesValue && fl.values == nil && !numeric(f) && pathWords.MatchString(usage) && !notHostPaths.MatchString(usage)
		_, fl.help, _ = strings.Cut(cli.FlagStringer(f), "\t")
		out = append(out, fl)
	}
	return out, nil
}

func (s *Spec) knows(key string, global []flag, cmds []command) bool {
	cmd, rest, found := strings.Cut(key, " ")
	if !found {
		return findFlag(global, key) != nil
	}
	c := findCommand(cmds, cmd)
	if c == nil {
		return false
	}
	if strings.HasPrefix(rest, "-") {
		return findFlag(c.flags, rest) != nil
	}
	var n int
	_, err := fmt.Sscanf(rest, "%d", &n)
	return err == nil && n > 0
}

func findCommand(cmds []command, name string) *command {
	for i := range cmds {
		if cmds[i].name == name {
			return &cmds[i]
		}
	}
	return nil
}

func findFlag(fs []flag, long string) *flag {
	for i := range fs {
		if fs[i].long() == long {
			return &fs[i]
		}
	}
	return nil
}

func numeric(f cli.Flag) bool {
	switch f.(type) {
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag, *cli.Float64Flag,
		*cli.DurationFlag, *cli.IntSliceFlag, *cli.Int64SliceFlag, *cli.UintSliceFlag,
		*cli.Uint64SliceFlag, *cli.Float64SliceFlag:
		return true
	}
	return false
}

func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// unquoteUsage splits "write to `FILE`" into its placeholder and text, as
// urfave/cli's help does.
func unquoteUsage(usage string) (string, string) {
	before, rest, ok := strings.Cut(usage, "`")
	if !ok {
		return "", usage
	}
	name, after, ok := strings.Cut(rest, "`")
	if !ok {
		return "", usage
	}
	return name, before + name + after
}

// positional returns the completion of a command's nth argument: a fixed
// set, the containers, or nothing.
func (s *Spec) positional(cmd string, n int) (values []string, containers bool) {
	if v, ok := s.Values[fmt.Sprintf("%s %d", cmd, n)]; ok {
		return v, false
	}
	return nil, n == 1 && slices.Contains(s.Containers, cmd)
}

// maxPositional is the highest argument index with a completion.
func (s *Spec) maxPositional(cmd string) int {
	last := 0
	for key := range s.Values {
		var n int
		if c, rest, ok := strings.Cut(key, " "); ok && c == cmd && !strings.HasPrefix(rest, "-") {
			if _, err := fmt.Sscanf(rest, "%d", &n); err == nil {
				last = max(last, n)
			}
		}
	}
	if _, containers := s.positional(cmd, 1); containers {
		last = max(last, 1)
	}
	return last
}

// word is something to type in a command's place, with its summary.
type word struct{ name, usage string }

// commandWords are the visible commands, their aliases, and the help
// command urfave/cli adds (with its alias h).
func (s *Spec) commandWords(cmds []command) []word {
	var out []word
	for _, c := range cmds {
		for _, n := range append([]string{c.name}, c.aliases...) {
			out = append(out, word{n, c.usage})
		}
	}
	if s.hasHelpCommand() {
		out = append(out, word{"help", "show the commands, or one command's help"}, word{"h", "same as help"})
	}
	return out
}

func (s *Spec) hasHelpCommand() bool { return !s.App.HideHelp && !s.App.HideHelpCommand }
