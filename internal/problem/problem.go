// Package problem is what validation reports: each problem of a bundle or a
// command line with the JSON path of its field, the bad value and a hint.
package problem

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Severity says whether a problem stops `create`.
type Severity string

const (
	// Error: create would fail (and does, with the first one).
	Error Severity = "error"
	// Warning: create goes on, but something may not be what the author meant.
	Warning Severity = "warning"
)

// Problem is one thing wrong. Error() is "Path: Problem", the text create
// fails with.
type Problem struct {
	Path     string   `json:"path"`            // JSON path in config.json ("process.cwd"), or a flag ("--pid-file")
	Value    any      `json:"value,omitempty"` // the bad value (long strings cut, see Cut)
	Problem  string   `json:"problem"`         // what is wrong, without the path
	Hint     string   `json:"hint,omitempty"`  // what would be accepted, or how to find out
	Severity Severity `json:"severity"`
	// Text, when set, is Error()'s text: a message older than this package
	// that clients and tests match, not in the "Path: Problem" form.
	Text string `json:"-"`
}

// MarshalJSON adds "message", the text create fails with.
func (p *Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	return json.Marshal(struct {
		*plain
		Message string `json:"message"`
	}{(*plain)(p), p.Error()})
}

func (p *Problem) Error() string {
	if p.Text != "" {
		return p.Text
	}
	if p.Path == "" {
		return p.Problem
	}
	return p.Path + ": " + p.Problem
}

// List collects problems in the order they were found.
type List []*Problem

// Add appends p, cutting a long string value.
func (l *List) Add(p *Problem) {
	if p == nil {
		return
	}
	if s, ok := p.Value.(string); ok {
		p.Value = cutString(s)
	}
	if p.Severity == "" {
		p.Severity = Error
	}
	*l = append(*l, p)
}

// Errorf adds an error: path, value, hint and the problem's text.
func (l *List) Errorf(path string, value any, hint, format string, args ...any) {
	l.Add(&Problem{Path: path, Value: value, Hint: hint, Problem: fmt.Sprintf(format, args...), Severity: Error})
}

// Warnf adds a warning.
func (l *List) Warnf(path string, value any, hint, format string, args ...any) {
	l.Add(&Problem{Path: path, Value: value, Hint: hint, Problem: fmt.Sprintf(format, args...), Severity: Warning})
}

// AddAll appends every problem of m.
func (l *List) AddAll(m List) {
	for _, p := range m {
		l.Add(p)
	}
}

// Err returns the first error (what create fails with), nil when there is
// none.
func (l List) Err() error {
	for _, p := range l {
		if p.Severity == Error {
			return p
		}
	}
	return nil
}

// Count returns how many problems have severity s.
func (l List) Count(s Severity) int {
	n := 0
	for _, p := range l {
		if p.Severity == s {
			n++
		}
	}
	return n
}

// maxQuoted bounds a value quoted in a message: a 64 KiB hostname must not
// come back as a 64 KiB error line (containerd logs each one).
const maxQuoted = 128

// Q quotes s as %q does, cut to its first 128 bytes with its length said
// when it is longer.
func Q(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return strconv.Quote(cut(s)) + fmt.Sprintf("... (%d bytes)", len(s))
}

// cutString is the value a problem carries for s.
func cutString(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	return cut(s) + fmt.Sprintf("... (%d bytes)", len(s))
}

// cut returns the first maxQuoted bytes of s, never splitting a rune.
func cut(s string) string {
	n := maxQuoted
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
