package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/ocirun/ocirun/libcontainer/criu"
	"github.com/ocirun/ocirun/specconv"
)

// TestCompletion drives the generated bash, zsh and fish completions the way
// a shell does on Tab and checks what they offer against the command
// tables: every command and flag, the fixed value sets (each value accepted
// by the runtime, a bogus one refused), container ids from `list -q` under
// the --root on the line, and file names for paths.
func TestCompletion(t *testing.T) {
	gen := generate(t)
	work := t.TempDir()
	// A stand-in ocirun: `list -q` prints two ids and every call is logged.
	bin := filepath.Join(work, "bin")
	calls := filepath.Join(work, "calls")
	fake := fmt.Sprintf("#!/bin/sh\necho \"$*\" >>%s\ncase \"$*\" in *'list -q') printf 'alpha\\nbeta\\n' ;; esac\n", calls)
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "ocirun"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	// The shells run here: a path flag must offer this file.
	cwd := filepath.Join(work, "cwd")
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cwd, "some-file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := completionCases(t)
	lines := make([]string, len(cases))
	for i, c := range cases {
		lines[i] = c.line
	}
	env := append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "HOME="+work)

	for _, sh := range []struct {
		name, prog string
		drive      func(t *testing.T, prog, gen, cwd string, env, lines []string) map[string][]string
	}{
		{"bash", "bash", driveBash},
		{"zsh", "zsh", driveZsh},
		{"fish", "fish", driveFish},
	} {
		t.Run(sh.name, func(t *testing.T) {
			prog, err := exec.LookPath(sh.prog)
			if err != nil {
				t.Skipf("%s is not installed (.ci/run installs it)", sh.prog)
			}
			_ = os.Remove(calls)
			got := sh.drive(t, prog, gen, cwd, env, lines)
			for _, c := range cases {
				offered, ok := got[c.line]
				if !ok {
					t.Errorf("%q: no answer from the driver", c.line)
					continue
				}
				c.check(t, offered)
			}
			b, _ := os.ReadFile(calls)
			for _, want := range []string{"--root /r1 list -q", "--root /r2 list -q"} {
				if !strings.Contains(string(b), want+"\n") {
					t.Errorf("container ids were not listed with %q; calls:\n%s", want, b)
				}
			}
		})
	}
}

type completionCase struct {
	line  string
	check func(t *testing.T, offered []string)
}

func exactly(line string, want []string) completionCase {
	want = sortedSet(slices.Clone(want))
	return completionCase{line, func(t *testing.T, got []string) {
		if !slices.Equal(got, want) {
			t.Errorf("%q offers %q, want %q", line, got, want)
		}
	}}
}

func subsetOf(line string, want []string) completionCase {
	return completionCase{line, func(t *testing.T, got []string) {
		for _, w := range got {
			if !slices.Contains(want, w) {
				t.Errorf("%q offers %q, want nothing or some of %q", line, got, want)
				return
			}
		}
	}}
}

// completionCases are derived from the tables: nothing in them is listed
// by hand but the commands whose first argument is an existing container
// and the validators of the fixed value sets.
func completionCases(t *testing.T) []completionCase {
	app := newApp()
	var cases []completionCase
	var commands, globals []string
	for _, c := range app.Commands {
		if !c.Hidden {
			commands = append(commands, c.Name)
			commands = append(commands, c.Aliases...)
		}
	}
	commands = append(commands, "help", "h")
	for _, f := range append(slices.Clone(app.Flags), cli.HelpFlag, cli.VersionFlag) {
		globals = append(globals, dashedNames(f.Names())...)
	}
	cases = append(cases, exactly("ocirun ", commands), exactly("ocirun -", globals),
		exactly("ocirun help ", commands))

	validate := valueValidators(t)
	seen := map[string]bool{}
	valueCase := func(key, line string) completionCase {
		seen[key] = true
		check := validate[key]
		return completionCase{line, func(t *testing.T, got []string) {
			switch {
			case slices.Contains(got, "some-file"):
				if check != nil {
					t.Errorf("%q offers file names, want the values of %s", line, key)
				}
			case len(got) > 0 && check == nil:
				t.Errorf("%q offers %q: a fixed set with no check here; add one to valueValidators", line, got)
			case check != nil:
				if len(got) == 0 {
					t.Errorf("%q offers nothing, want the values of %s", line, key)
				}
				for _, v := range got {
					if err := check(v); err != nil {
						t.Errorf("%q offers %q, which the runtime refuses: %v", line, v, err)
					}
				}
				if check("bogus-value") == nil {
					t.Errorf("%s accepts any value: it is not a fixed set", key)
				}
			}
		}}
	}
	for _, f := range app.Flags {
		if takesValue(f) {
			n := dashedNames(f.Names())[0]
			cases = append(cases, valueCase(n, "ocirun "+n+" "))
		}
	}
	cases = append(cases, valueCase("--log-format", "ocirun --log-format="))

	// First arguments that are existing containers; create, run and
	// restore name a new one.
	existing := map[string]bool{}
	for _, c := range app.Commands {
		if strings.HasPrefix(c.ArgsUsage, "<container-id>") && !slices.Contains([]string{"create", "run", "restore"}, c.Name) {
			existing[c.Name] = true
		}
	}
	for _, c := range app.Commands {
		if c.Hidden {
			continue
		}
		names := dashedNames([]string{"help", "h"})
		for _, f := range c.Flags {
			names = append(names, dashedNames(f.Names())...)
			if takesValue(f) {
				n := dashedNames(f.Names())[0]
				cases = append(cases, valueCase(c.Name+" "+n, fmt.Sprintf("ocirun %s %s ", c.Name, n)))
			}
		}
		cases = append(cases, exactly("ocirun "+c.Name+" -", names))
		if existing[c.Name] {
			cases = append(cases, exactly("ocirun "+c.Name+" ", []string{"alpha", "beta"}))
		} else {
			// zsh offers the flags where there is no argument to complete.
			cases = append(cases, subsetOf("ocirun "+c.Name+" ", names))
		}
	}
	for key := range validate {
		if !seen[key] && !strings.Contains(key, " 2") {
			t.Errorf("valueValidators has %q, which no flag has", key)
		}
	}
	cases = append(cases,
		valueCase("kill 2", "ocirun kill alpha "),
		// --root reaches `list -q`, also as --root=DIR and after a
		// --flag=value and a uid:gid (split by bash's COMP_WORDBREAKS).
		exactly("ocirun --root /r1 kill ", []string{"alpha", "beta"}),
		exactly("ocirun --root=/r2 exec -e A=1 -u 0:0 b", []string{"beta"}),
		// Flags end at the first argument.
		exactly("ocirun kill alpha -", nil),
		exactly("ocirun exec alpha -", nil),
		exactly("ocirun list --format=j", []string{"json"}),
		exactly("ocirun kill alpha KIL", []string{"KILL"}),
		exactly("ocirun run --bundle some-f", []string{"some-file"}),
		exactly("ocirun --log some-", []string{"some-file"}),
		exactly("ocirun create --preserve-fds ", nil),
	)
	return cases
}

// valueValidators say, for each flag or argument with a fixed set, whether
// the runtime accepts a value: nil, or the error that refuses it.
func valueValidators(t *testing.T) map[string]func(string) error {
	root := t.TempDir()
	// run runs the app and reports an error that names the value: what
	// refuses it, not what fails later (no such container).
	run := func(v string, args ...string) error {
		app := newApp()
		app.Writer, app.ErrWriter = io.Discard, io.Discard
		stdout := os.Stdout
		os.Stdout, _ = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		err := app.Run(append([]string{"ocirun", "--root", root}, args...))
		os.Stdout.Close()
		os.Stdout = stdout
		if err != nil && strings.Contains(err.Error(), strconv.Quote(v)) {
			return err
		}
		return nil
	}
	criuMode := func(v string) error { return criu.ParseCgroupsMode(v) }
	emptyNs := func(v string) error { _, err := criu.EmptyNsFlag(v); return err }
	return map[string]func(string) error{
		"--log-format": func(v string) error { return run(v, "--log-format", v, "list") },
		// As root "true" is refused as not supported yet, without quoting it.
		"--rootless":    func(v string) error { return run(v, "--rootless", v, "list") },
		"list --format": func(v string) error { return run(v, "list", "--format", v) },
		"ps --format":   func(v string) error { return run(v, "ps", "--format", v, "no-such-id") },
		"exec --cap": func(v string) error {
			// An unknown name is only warned about (runtime-spec 1.3): the
			// values to offer are the ones the runtime maps to the kernel.
			if !slices.Contains(specconv.KnownCapabilities(), v) {
				return fmt.Errorf("unknown capability %q", v)
			}
			return nil
		},
		"checkpoint --manage-cgroups-mode": criuMode,
		"restore --manage-cgroups-mode":    criuMode,
		"checkpoint --empty-ns":            emptyNs,
		"restore --empty-ns":               emptyNs,
		"kill 2":                           func(v string) error { _, err := parseSignal(v); return err },
	}
}

func takesValue(f cli.Flag) bool {
	df, ok := f.(cli.DocGenerationFlag)
	return ok && df.TakesValue()
}

func dashedNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "--" + n
		if len(n) == 1 {
			out[i] = "-" + n
		}
	}
	return out
}

// shellRun runs a driver script that prints "LINE<TAB>offered words" per
// line, and returns the words by line, normalized across shells: a
// directory's slash and a "--flag=" prefix (fish keeps them) dropped.
func shellRun(t *testing.T, cmd *exec.Cmd) map[string][]string {
	t.Helper()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd.Path, err, stderr.String())
	}
	got := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		line, words, ok := strings.Cut(l, "\t")
		if !ok {
			t.Fatalf("driver printed %q\nstderr: %s", l, stderr.String())
		}
		var norm []string
		for _, w := range strings.Fields(words) {
			w = strings.TrimSuffix(w, "/")
			if i := strings.LastIndex(w, "="); i >= 0 && strings.HasPrefix(w, "-") {
				w = w[i+1:]
			}
			norm = append(norm, w)
		}
		got[line] = sortedSet(norm)
	}
	return got
}

// driveBash calls the function `complete -p ocirun` names with COMP_WORDS
// split as readline splits them (also at COMP_WORDBREAKS' = and :).
func driveBash(t *testing.T, bash, gen, cwd string, env, lines []string) map[string][]string {
	script := `source "$1" || exit
shift
spec=$(complete -p ocirun) || exit
[[ $spec == "complete -F "*" ocirun" ]] || { echo "complete -p: $spec" >&2; exit 1; }
fn=${spec#complete -F }
fn=${fn%% *}
for line; do
	COMP_WORDS=()
	for tok in $line; do
		while [[ $tok =~ ^([^=:]*)([=:]+)(.*)$ ]]; do
			[[ -n ${BASH_REMATCH[1]} ]] && COMP_WORDS+=("${BASH_REMATCH[1]}")
			COMP_WORDS+=("${BASH_REMATCH[2]}")
			tok=${BASH_REMATCH[3]}
		done
		[[ -n $tok ]] && COMP_WORDS+=("$tok")
	done
	[[ $line == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) COMP_LINE=$line COMP_POINT=${#line}
	COMPREPLY=()
	"$fn" ocirun "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
	printf '%s\t%s\n' "$line" "${COMPREPLY[*]}"
done
`
	cmd := exec.Command(bash, append([]string{"--norc", "--noprofile", "-c", script, "bash", filepath.Join(gen, "completions", "ocirun.bash")}, lines...)...)
	cmd.Dir, cmd.Env = cwd, env
	return shellRun(t, cmd)
}

// driveZsh types each line and Tab into an interactive zsh (zpty) with
// compinit and _ocirun on its fpath, and records what reaches compadd.
func driveZsh(t *testing.T, zsh, gen, cwd string, env, lines []string) map[string][]string {
	script := `zmodload zsh/zpty || exit
out=$1 fdir=$2
shift 2
zpty z zsh -f -i
zpty -w z "PS1= PROMPT_EOL_MARK=; fpath=($fdir \$fpath); autoload -Uz compinit; compinit -u -D"
# What is offered reaches compadd (its -O/-A/-D calls are queries); the
# widget marks the end of each completion.
zpty -w z "compadd() { if (( ! \${@[(I)-[OAD]*]} )); then local -a m; builtin compadd -O m \"\$@\"; (( \$#m )) && print -rl -- \$m >>$out; fi; builtin compadd \"\$@\"; }"
zpty -w z "_drive() { zle complete-word; print -r -- '#done' >>$out; }; zle -N _drive; bindkey '^I' _drive"
for line; do
	: >$out
	zpty -w -n z "$line"$'\t'
	for i in {1..200}; do
		grep -qx '#done' $out && break
		zpty -r -t z junk
		sleep 0.05
	done
	grep -qx '#done' $out || { print -u2 "no completion for: $line"; exit 1; }
	print -r -- "$line"$'\t'"${(j: :)${(f)"$(grep -vx '#done' $out)"}}"
	zpty -w -n z $'\C-a\C-k'
	while zpty -r -t z junk; do :; done
done
zpty -d z
`
	cmd := exec.Command(zsh, append([]string{"-f", "-c", script, "zsh", filepath.Join(t.TempDir(), "offered"), filepath.Join(gen, "completions")}, lines...)...)
	cmd.Dir, cmd.Env = cwd, env
	return shellRun(t, cmd)
}

// driveFish asks fish's own `complete -C` what it would offer.
func driveFish(t *testing.T, fish, gen, cwd string, env, lines []string) map[string][]string {
	script := `source $argv[1]; or exit 1
for line in $argv[2..]
	printf '%s\t%s\n' $line (complete -C $line | string split -f1 \t | string join ' ')
end
`
	cmd := exec.Command(fish, append([]string{"--no-config", "-c", script, filepath.Join(gen, "completions", "ocirun.fish")}, lines...)...)
	cmd.Dir, cmd.Env = cwd, env
	return shellRun(t, cmd)
}
