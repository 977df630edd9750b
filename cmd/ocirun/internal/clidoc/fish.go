package clidoc

import (
	"fmt"
	"strings"
)

// fish writes `complete` lines guarded by two conditions that parse the
// command line as urfave/cli does: <fn>_in CMD (CMD's flags are still read;
// an empty CMD: no command yet) and <fn>_arg CMD N (the token is CMD's Nth
// argument).
func fish(s *Spec, global []flag, cmds []command) []byte {
	name := s.App.Name
	fn := "__" + ident(name)
	var b strings.Builder
	fmt.Fprintf(&b, "# fish completion for %s. Generated from its command tables by clidoc: do not edit.\n\n", name)

	var valued []string
	for _, f := range global {
		if f.takesValue {
			for _, n := range f.names {
				valued = append(valued, fishQuote(" "+n))
			}
		}
	}
	for _, c := range cmds {
		for _, f := range c.flags {
			if !f.takesValue {
				continue
			}
			for _, cn := range append([]string{c.name}, c.aliases...) {
				for _, n := range f.names {
					valued = append(valued, fishQuote(cn+" "+n))
				}
			}
		}
	}
	fmt.Fprintf(&b, fishMain, fn, strings.Join(valued, " "))

	fmt.Fprintf(&b, "\ncomplete -c %s -f\n", name)
	for _, w := range s.commandWords(cmds) {
		fmt.Fprintf(&b, "complete -c %s -n %s -a %s -d %s\n", name, fishQuote(fn+"_in ''"), fishQuote(w.name), fishQuote(w.usage))
	}
	fishFlags(&b, name, fishQuote(fn+"_in ''"), global)
	for _, c := range cmds {
		for _, cn := range append([]string{c.name}, c.aliases...) {
			fishFlags(&b, name, fishQuote(fn+"_in "+cn), c.flags)
			for n := 1; n <= s.maxPositional(c.name); n++ {
				cond := fishQuote(fmt.Sprintf("%s_arg %s %d", fn, cn, n))
				values, containers := s.positional(c.name, n)
				switch {
				case containers:
					fmt.Fprintf(&b, "complete -c %s -n %s -a '(%s_containers)'\n", name, cond, fn)
				case values != nil:
					fmt.Fprintf(&b, "complete -c %s -n %s -a %s\n", name, cond, fishQuote(strings.Join(values, " ")))
				}
			}
		}
	}
	if s.hasHelpCommand() {
		for _, h := range []string{"help", "h"} {
			for _, w := range s.commandWords(cmds) {
				fmt.Fprintf(&b, "complete -c %s -n %s -a %s -d %s\n", name, fishQuote(fn+"_arg "+h+" 1"), fishQuote(w.name), fishQuote(w.usage))
			}
		}
	}
	return []byte(b.String())
}

// fishMain holds the parser; %[1]s is the function prefix, %[2]s the
// quoted "COMMAND FLAG" pairs of flags that take a value.
const fishMain = `# Prints where the command line is: the command (empty before it), how
# many arguments it has, and whether its flags are still read (1 or 0).
function %[1]s_where
    set -l toks (commandline -opc)
    set -l cmd
    set -l n 0
    set -l flags 1
    set -l i 2
    while test $i -le (count $toks)
        set -l w $toks[$i]
        # Go's flag package reads -name as --name.
        set w (string replace -r -- '^-([^-].+)$' '--$1' $w)
        if test $flags -eq 1; and string match -qr -- '^-.' $w
            if test "$w" = --
                test -n "$cmd"; and set flags 0
            else if not string match -q -- '*=*' $w; and contains -- "$cmd $w" %[2]s
                set i (math $i + 1)
            end
        else if test -z "$cmd"
            set cmd $w
        else
            # Flags end at the first argument, as in Go's flag package.
            set n (math $n + 1)
            set flags 0
        end
        set i (math $i + 1)
    end
    echo "c:$cmd"
    echo $n
    echo $flags
end

# True while CMD's flags are read ('' before the command).
function %[1]s_in --argument-names cmd
    set -l st (%[1]s_where)
    test "$st[1]" = "c:$cmd"; and test $st[2] -eq 0; and test $st[3] -eq 1
end

# True when the token is CMD's Nth argument.
function %[1]s_arg --argument-names cmd pos
    set -l st (%[1]s_where)
    test "$st[1]" = "c:$cmd"; and test (math $st[2] + 1) -eq $pos
end

# The ids of the containers under the --root given on the command line.
function %[1]s_containers
    set -l toks (commandline -opc)
    set -l prog (string replace -r -- '^~/' "$HOME/" $toks[1])
    set -l root
    set -l i (contains -i -- --root $toks)
    and set root --root $toks[(math $i + 1)]
    set -l eq (string replace -rf -- '^--?root=' '' $toks)[1]
    and set root --root $eq
    $prog $root list -q 2>/dev/null
end
`

// fishFlags writes one complete line per flag: -l for long names, -s for
// one-letter ones; -x with the fixed values, -r -F for paths, -x otherwise.
func fishFlags(b *strings.Builder, prog, cond string, fs []flag) {
	for _, f := range fs {
		var opts []string
		for _, n := range f.names {
			if strings.HasPrefix(n, "--") {
				opts = append(opts, "-l "+n[2:])
			} else {
				opts = append(opts, "-s "+n[1:])
			}
		}
		switch {
		case !f.takesValue:
		case f.values != nil:
			opts = append(opts, "-x -a "+fishQuote(strings.Join(f.values, " ")))
		case f.files:
			opts = append(opts, "-r -F")
		default:
			opts = append(opts, "-x")
		}
		fmt.Fprintf(b, "complete -c %s -n %s %s -d %s\n", prog, cond, strings.Join(opts, " "), fishQuote(f.usage))
	}
}

func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
