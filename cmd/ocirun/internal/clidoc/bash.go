package clidoc

import (
	"fmt"
	"regexp"
	"strings"
)

// bash writes a completion function that needs nothing but bash 4 (it uses
// bash-completion's _filedir for paths when that is loaded). The tables
// become case statements; one parser walks the words the way urfave/cli and
// Go's flag package do: global flags, the command, its flags until the first
// argument or "--", then arguments.
func bash(s *Spec, global []flag, cmds []command) []byte {
	fn := "_" + ident(s.App.Name)
	var b strings.Builder
	fmt.Fprintf(&b, "# bash completion for %s. Generated from its command tables by clidoc: do not edit.\n", s.App.Name)
	fmt.Fprintf(&b, "# Install as $(pkg-config --variable=completionsdir bash-completion)/%s.\n\n", s.App.Name)

	var valued, files []string
	valueArms := map[string][]string{} // word list -> keys
	var valueOrder []string
	addValues := func(key string, values []string) {
		w := strings.Join(values, " ")
		if _, ok := valueArms[w]; !ok {
			valueOrder = append(valueOrder, w)
		}
		valueArms[w] = append(valueArms[w], key)
	}
	each := func(cmd string, fs []flag) {
		for _, f := range fs {
			if !f.takesValue {
				continue
			}
			for _, n := range f.names {
				key := cmd + " " + n
				valued = append(valued, key)
				switch {
				case f.values != nil:
					addValues(key, f.values)
				case f.files:
					files = append(files, key)
				}
			}
		}
	}
	each("", global)
	for _, c := range cmds {
		each(c.name, c.flags)
		for _, a := range c.aliases {
			each(a, c.flags)
		}
	}

	fmt.Fprintf(&b, "# %s_valued COMMAND FLAG: does FLAG take a value? (COMMAND is empty for a global flag)\n", fn)
	fmt.Fprintf(&b, "%s_valued() {\n\tcase \"$1 $2\" in\n", fn)
	arm(&b, valued, "return 0")
	b.WriteString("\tesac\n\treturn 1\n}\n\n")

	fmt.Fprintf(&b, "# %s_value COMMAND FLAG: completes FLAG's value.\n", fn)
	fmt.Fprintf(&b, "%s_value() {\n\tcase \"$1 $2\" in\n", fn)
	for _, w := range valueOrder {
		arm(&b, valueArms[w], fmt.Sprintf("%s_words %s", fn, shQuote(w)))
	}
	arm(&b, files, fn+"_files")
	b.WriteString("\tesac\n}\n\n")

	fmt.Fprintf(&b, "# %s_arg COMMAND N: completes COMMAND's Nth argument.\n", fn)
	fmt.Fprintf(&b, "%s_arg() {\n\tcase \"$1 $2\" in\n", fn)
	var containers []string
	for _, c := range cmds {
		for n := 1; n <= s.maxPositional(c.name); n++ {
			values, isContainer := s.positional(c.name, n)
			var keys []string
			for _, name := range append([]string{c.name}, c.aliases...) {
				keys = append(keys, fmt.Sprintf("%s %d", name, n))
			}
			switch {
			case isContainer:
				containers = append(containers, keys...)
			case values != nil:
				arm(&b, keys, fmt.Sprintf("%s_words %s", fn, shQuote(strings.Join(values, " "))))
			}
		}
	}
	arm(&b, containers, fn+"_containers")
	var names []string
	for _, w := range s.commandWords(cmds) {
		names = append(names, w.name)
	}
	if s.hasHelpCommand() {
		arm(&b, []string{"help 1", "h 1"}, fmt.Sprintf("%s_words %s", fn, shQuote(strings.Join(names, " "))))
	}
	b.WriteString("\tesac\n}\n\n")

	fmt.Fprintf(&b, "# %s_flags COMMAND: completes COMMAND's flags (the global ones if empty).\n", fn)
	fmt.Fprintf(&b, "%s_flags() {\n\tcase $1 in\n", fn)
	arm(&b, []string{""}, fmt.Sprintf("%s_words %s", fn, shQuote(strings.Join(allNames(global), " "))))
	for _, c := range cmds {
		arm(&b, append([]string{c.name}, c.aliases...), fmt.Sprintf("%s_words %s", fn, shQuote(strings.Join(allNames(c.flags), " "))))
	}
	b.WriteString("\tesac\n}\n\n")

	fmt.Fprintf(&b, bashMain, fn, shQuote(strings.Join(names, " ")), s.App.Name)
	return []byte(b.String())
}

// bashMain is the parser; %[1]s is the function prefix, %[2]s the quoted
// command words, %[3]s the program name.
const bashMain = `%[1]s_words() {
	mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur")
}

%[1]s_files() {
	if declare -F _filedir >/dev/null; then
		_filedir
	else
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
	fi
}

# The ids of the containers under the --root given on the command line.
%[1]s_containers() {
	[[ $prog == \~/* ]] && prog=$HOME/${prog:2}
	%[1]s_words "$("$prog" "${root[@]}" list -q 2>/dev/null)"
}

%[1]s() {
	local cur prog cmd='' w rest i j=-1 n=0 flags=1
	local -a words=() root=()
	COMPREPLY=()
	# Join what COMP_WORDBREAKS split (--flag=value, uid:gid) back into the
	# words the flag parser will see: parts with no blank between them.
	rest=$COMP_LINE
	for ((i = 0; i <= COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if ((i > 0)) && [[ -n $w && ${rest%%%%"$w"*} == "" ]]; then
			words[j]+=$w
		else
			words[++j]=$w
		fi
		[[ -n $w ]] && rest=${rest#*"$w"}
	done
	prog=${words[0]}
	cur=${words[j]}
	for ((i = 1; i < j; i++)); do
		w=${words[i]}
		if ((flags)) && [[ $w == -?* ]]; then
			# Go's flag package reads -name as --name.
			[[ $w == -[!-]?* ]] && w=-$w
			if [[ $w == -- ]]; then
				[[ -n $cmd ]] && flags=0
			elif [[ $w == *=* ]]; then
				[[ -z $cmd && ${w%%%%=*} == --root ]] && root=(--root "${w#*=}")
			elif %[1]s_valued "$cmd" "$w"; then
				if ((++i == j)); then
					%[1]s_value "$cmd" "$w"
					return
				fi
				[[ -z $cmd && $w == --root ]] && root=(--root "${words[i]}")
			fi
		elif [[ -z $cmd ]]; then
			cmd=$w
		else
			# Flags end at the first argument, as in Go's flag package.
			((n++))
			flags=0
		fi
	done
	if ((flags)) && [[ $cur == -?*=* ]]; then
		w=${cur%%%%=*}
		[[ $w == -[!-]?* ]] && w=-$w
		cur=${cur#*=}
		%[1]s_value "$cmd" "$w"
	elif [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			%[1]s_flags ''
		else
			%[1]s_words %[2]s
		fi
	elif ((flags)) && [[ $cur == -* ]]; then
		%[1]s_flags "$cmd"
	else
		%[1]s_arg "$cmd" $((n + 1))
	fi
	# Readline replaces only what follows the last ':' of the word.
	if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
		w=${cur%%"${cur##*:}"}
		COMPREPLY=("${COMPREPLY[@]#"$w"}")
	fi
}

complete -F %[1]s %[3]s
`

// arm writes one case arm matching any of keys, or nothing without keys.
func arm(b *strings.Builder, keys []string, action string) {
	if len(keys) == 0 {
		return
	}
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = shQuote(k)
	}
	fmt.Fprintf(b, "\t%s)\n\t\t%s\n\t\t;;\n", strings.Join(quoted, " | "), action)
}

func allNames(fs []flag) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.names...)
	}
	return out
}

// shQuote single-quotes s for sh, bash and zsh (a quote inside closes
// the quoting, is escaped, and reopens it).
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9_]`)

func ident(s string) string { return nonIdent.ReplaceAllString(s, "_") }
