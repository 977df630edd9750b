package clidoc

import (
	"fmt"
	"strings"
)

// zsh writes an autoloadable _<name> for compsys: one _arguments call for
// the global flags and the command, then one per command. -A '-*' stops
// offering flags after the first argument, as Go's flag package stops
// parsing them there.
func zsh(s *Spec, global []flag, cmds []command) []byte {
	fn := "_" + ident(s.App.Name)
	var b strings.Builder
	fmt.Fprintf(&b, "#compdef %s\n# zsh completion for %[1]s. Generated from its command tables by clidoc: do not edit.\n\n", s.App.Name)

	fmt.Fprintf(&b, `# The ids of the containers under the --root given on the command line.
%[1]s_containers() {
	local prog=$%[1]s_prog
	local -a ids
	[[ $prog == '~/'* ]] && prog=$HOME/${prog#'~/'}
	ids=(${(f)"$($prog ${%[1]s_root:+--root} $%[1]s_root list -q 2>/dev/null)"})
	_wanted containers expl container compadd -a ids
}

%[1]s() {
	local curcontext=$curcontext state state_descr line ret=1
	local %[1]s_prog=$words[1] %[1]s_root
	typeset -A opt_args
	local -a commands=(
`, fn)
	for _, w := range s.commandWords(cmds) {
		fmt.Fprintf(&b, "\t\t%s\n", shQuote(strings.ReplaceAll(w.name, ":", `\:`)+":"+w.usage))
	}
	b.WriteString("\t)\n\n\t_arguments -C -S -A '-*' \\\n")
	for _, spec := range zshFlags(global) {
		fmt.Fprintf(&b, "\t\t%s \\\n", spec)
	}
	b.WriteString("\t\t'1:command:->command' \\\n\t\t'*::argument:->argument' && ret=0\n")
	fmt.Fprintf(&b, "\t%s_root=${(Q)opt_args[--root]}\n", fn)
	fmt.Fprintf(&b, `
	case $state in
	command)
		_describe -t commands command commands && ret=0
		;;
	argument)
		curcontext=${curcontext%%:*:*}:%s-$words[1]:
		case $words[1] in
`, s.App.Name)
	for _, c := range cmds {
		fmt.Fprintf(&b, "\t\t%s)\n\t\t\t_arguments -S -A '-*' \\\n", strings.Join(append([]string{c.name}, c.aliases...), "|"))
		for _, spec := range zshFlags(c.flags) {
			fmt.Fprintf(&b, "\t\t\t\t%s \\\n", spec)
		}
		for n := 1; n <= s.maxPositional(c.name); n++ {
			values, containers := s.positional(c.name, n)
			action := " "
			switch {
			case containers:
				action = fn + "_containers"
			case values != nil:
				action = "(" + strings.Join(values, " ") + ")"
			}
			fmt.Fprintf(&b, "\t\t\t\t%s \\\n", shQuote(fmt.Sprintf("%d:%s:%s", n, argName(c.argsUsage, n), action)))
		}
		b.WriteString("\t\t\t\t&& ret=0\n\t\t\t;;\n")
	}
	if s.hasHelpCommand() {
		b.WriteString("\t\thelp|h)\n\t\t\t_describe -t commands command commands && ret=0\n\t\t\t;;\n")
	}
	fmt.Fprintf(&b, "\t\tesac\n\t\t;;\n\tesac\n\treturn ret\n}\n\n%s \"$@\"\n", fn)
	return []byte(b.String())
}

// zshFlags writes one _arguments spec per flag name; the names of one flag
// exclude each other unless the flag may be repeated.
func zshFlags(fs []flag) []string {
	var out []string
	for _, f := range fs {
		prefix := ""
		if f.repeatable {
			prefix = "*"
		} else if len(f.names) > 1 {
			prefix = "(" + strings.Join(f.names, " ") + ")"
		}
		// --flag=[description]:message:action; "=" takes --flag=v and --flag v.
		eq, arg := "", ""
		if f.takesValue {
			action := " "
			switch {
			case f.values != nil:
				action = "(" + strings.Join(f.values, " ") + ")"
			case f.files:
				action = "_files"
			}
			eq, arg = "=", ":"+zshEscape(f.placeholder)+":"+action
		}
		for _, n := range f.names {
			out = append(out, shQuote(prefix+n+eq+"["+zshEscape(f.usage)+"]"+arg))
		}
	}
	return out
}

// zshEscape escapes what ends or splits an _arguments description or
// message.
func zshEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`, `:`, `\:`).Replace(s)
}

// argName is the nth <word> of a command's ArgsUsage, for the message zsh
// shows while completing that argument.
func argName(argsUsage string, n int) string {
	fields := strings.Fields(argsUsage)
	if n <= len(fields) {
		return zshEscape(strings.Trim(fields[n-1], "<>[]"))
	}
	return "argument"
}
