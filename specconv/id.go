package specconv

import (
	"fmt"

	"github.com/ocirun/ocirun/internal/problem"
)

// maxIDLen bounds the id so that paths built from it (<root>/<id>/exec.fifo,
// cgroup names) stay well under PATH_MAX.
const maxIDLen = 1024

const idHint = "an id is 1 to 1024 of [A-Za-z0-9_+.-], starting with a letter or digit"

// ValidateID accepts [A-Za-z0-9][A-Za-z0-9_+.-]*, at most 1024 bytes, and
// never "." or "..": the id becomes a directory name under the state root.
func ValidateID(id string) error {
	if p := checkID(id); p != nil {
		return p
	}
	return nil
}

func checkID(id string) *problem.Problem {
	bad := func(format string, args ...any) *problem.Problem {
		return &problem.Problem{Path: "container id", Value: id, Problem: fmt.Sprintf(format, args...), Hint: idHint, Severity: problem.Error}
	}
	if id == "" {
		return bad("must not be empty")
	}
	if len(id) > maxIDLen {
		return bad("longer than %d bytes (%d)", maxIDLen, len(id))
	}
	if id == "." || id == ".." {
		return bad("%q is not allowed", id)
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		alnum := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9'
		if alnum || (i > 0 && (ch == '_' || ch == '+' || ch == '.' || ch == '-')) {
			continue
		}
		return bad("invalid character %q at offset %d in %s, want [A-Za-z0-9][A-Za-z0-9_+.-]*", ch, i, problem.Q(id))
	}
	return nil
}
