package clidoc

import (
	"bytes"
	"fmt"
	"strings"
)

// mainPage is <name>(section): synopsis, description, the commands with a
// pointer to each one's page, the global options and the extra sections.
func mainPage(s *Spec, global []flag, cmds []command) []byte {
	name := s.App.Name
	var b bytes.Buffer
	header(&b, s, name)
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", roff(name), roff(s.App.Usage))
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n[\\fIglobal options\\fR] \\fIcommand\\fR [\\fIcommand options\\fR] [\\fIarguments\\fR...]\n", roff(name))
	if s.App.Description != "" {
		b.WriteString(".SH DESCRIPTION\n")
		text(&b, s.App.Description)
	}
	b.WriteString(".SH COMMANDS\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, ".TP\n.BR %s\\-%s (%s)\n%s\n", roff(name), roff(c.name), s.Section, roff(c.usage))
	}
	b.WriteString(".SH GLOBAL OPTIONS\n")
	options(&b, global)
	var env []string
	for _, f := range global {
		if _, hint, ok := strings.Cut(f.help, " [$"); ok {
			for _, v := range strings.Split(strings.TrimSuffix(hint, "]"), ", $") {
				env = append(env, fmt.Sprintf(".TP\n.B %s\nSets %s.\n", roff(v), names(f)))
			}
		}
	}
	if len(env) > 0 {
		b.WriteString(".SH ENVIRONMENT\n" + strings.Join(env, ""))
	}
	for _, sec := range s.Sections {
		fmt.Fprintf(&b, ".SH %s\n", roff(strings.ToUpper(sec.Title)))
		for _, it := range sec.Items {
			if it.Term != "" {
				fmt.Fprintf(&b, ".TP\n.B %s\n", roff(it.Term))
			} else {
				b.WriteString(".PP\n")
			}
			text(&b, it.Text)
		}
	}
	b.WriteString(".SH SEE ALSO\n")
	var refs []string
	for _, c := range cmds {
		refs = append(refs, fmt.Sprintf(".BR %s\\-%s (%s)", roff(name), roff(c.name), s.Section))
	}
	b.WriteString(strings.Join(refs, " ,\n") + "\n")
	return b.Bytes()
}

// commandPage is <name>-<command>(section).
func commandPage(s *Spec, c command) []byte {
	name := s.App.Name
	var b bytes.Buffer
	header(&b, s, name+"-"+c.name)
	fmt.Fprintf(&b, ".SH NAME\n%s\\-%s \\- %s\n", roff(name), roff(c.name), roff(c.usage))
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n[\\fIglobal options\\fR]\n.B %s\n", roff(name), roff(c.name))
	if len(c.flags) > 0 {
		b.WriteString("[\\fIoptions\\fR]")
		if c.argsUsage != "" {
			fmt.Fprintf(&b, " \\fI%s\\fR", roff(c.argsUsage))
		}
		b.WriteString("\n")
	} else if c.argsUsage != "" {
		fmt.Fprintf(&b, "\\fI%s\\fR\n", roff(c.argsUsage))
	}
	b.WriteString(".SH DESCRIPTION\n")
	if c.description != "" {
		text(&b, c.description)
	} else {
		text(&b, c.usage)
	}
	if len(c.aliases) > 0 {
		fmt.Fprintf(&b, ".PP\nAlso called as: %s.\n", roff(strings.Join(c.aliases, ", ")))
	}
	if len(c.flags) > 0 {
		b.WriteString(".SH OPTIONS\n")
		options(&b, c.flags)
	}
	fmt.Fprintf(&b, ".SH SEE ALSO\n.BR %s (%s)\n", roff(name), s.Section)
	return b.Bytes()
}

func header(b *bytes.Buffer, s *Spec, page string) {
	fmt.Fprintf(b, ".\\\" Generated from %s's command tables by clidoc: do not edit.\n", s.App.Name)
	fmt.Fprintf(b, ".TH %s %s %s %s \"System Manager's Manual\"\n",
		quoted(strings.ToUpper(page)), s.Section, quoted(s.Date), quoted(s.Source))
	// Flags are copied from the page: no hyphenation, no justification.
	b.WriteString(".nh\n.ad l\n")
}

// options writes one tagged paragraph per flag: its names and placeholder,
// then the text --help prints for it.
func options(b *bytes.Buffer, fs []flag) {
	for _, f := range fs {
		fmt.Fprintf(b, ".TP\n%s\n%s\n", names(f), roff(f.help))
		if f.repeatable {
			b.WriteString(".br\nMay be given more than once.\n")
		}
	}
}

func names(f flag) string {
	var parts []string
	for _, n := range f.names {
		parts = append(parts, "\\fB"+roff(n)+"\\fR")
	}
	s := strings.Join(parts, ", ")
	if f.takesValue {
		s += " \\fI" + roff(f.placeholder) + "\\fR"
	}
	return s
}

// text writes prose: blank lines separate paragraphs, and indented lines
// are kept as they are (examples), less the first one's indentation.
func text(b *bytes.Buffer, s string) {
	indent := ""
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		trimmed := strings.TrimLeft(line, " \t")
		literal, indented := indent != "", len(line)-len(trimmed) >= 2 || strings.HasPrefix(line, "\t")
		switch {
		case trimmed == "":
			if literal {
				b.WriteString(".fi\n.RE\n")
				indent = ""
			}
			b.WriteString(".PP\n")
			continue
		case indented && !literal:
			b.WriteString(".RS\n.nf\n")
			indent = line[:len(line)-len(trimmed)]
		case !indented && literal:
			b.WriteString(".fi\n.RE\n")
			indent = ""
		}
		if indent != "" {
			line = strings.TrimPrefix(line, indent)
		} else {
			line = trimmed
		}
		b.WriteString(roff(line) + "\n")
	}
	if indent != "" {
		b.WriteString(".fi\n.RE\n")
	}
}

// roff escapes text for a roff input line: backslashes, minus signs (so
// "--flag" is copied as typed), and a leading control character.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

func quoted(s string) string {
	return `"` + strings.ReplaceAll(roff(s), `"`, `\(dq`) + `"`
}
