package specconv

import (
	"errors"
	"fmt"
)

// maxIDLen bounds the id so that paths built from it (<root>/<id>/exec.fifo,
// cgroup names) stay well under PATH_MAX.
const maxIDLen = 1024

// ValidateID accepts [A-Za-z0-9][A-Za-z0-9_+.-]*, at most 1024 bytes, and
// never "." or "..": the id becomes a directory name under the state root.
func ValidateID(id string) error {
	if id == "" {
		return errors.New("container id: must not be empty")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("container id: longer than %d bytes (%d)", maxIDLen, len(id))
	}
	if id == "." || id == ".." {
		return fmt.Errorf("container id: %q is not allowed", id)
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		alnum := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9'
		if alnum || (i > 0 && (ch == '_' || ch == '+' || ch == '.' || ch == '-')) {
			continue
		}
		return fmt.Errorf("container id: invalid character %q at offset %d in %q, want [A-Za-z0-9][A-Za-z0-9_+.-]*", ch, i, id)
	}
	return nil
}
