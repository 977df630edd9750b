package libcontainer

import (
	"fmt"

	"github.com/ocirun/ocirun/libcontainer/internal/state"
)

// The errors a lifecycle call returns when the container's existence or
// status forbids what was asked (they are internal/state's). Callers test
// them with errors.Is. Their texts, and the texts of the refusals that wrap
// them, are runc's: clients (containerd's shim, podman, scripts) match them
// in stderr, so they are wrapped, never reworded.
var (
	ErrNotExist   = state.ErrNotExist
	ErrExist      = state.ErrExist
	ErrNotRunning = state.ErrNotRunning
	ErrNotPaused  = state.ErrNotPaused
	ErrPaused     = state.ErrPaused
	ErrRunning    = state.ErrRunning
)

// ErrExecPaused is an exec into a paused container without IgnorePaused.
var ErrExecPaused = refuse(ErrPaused, "cannot exec in a paused container")

// refusal is a status error in the words of the call it refuses, which
// errors.Is matches to the sentinel that says why.
type refusal struct {
	msg string
	why error
}

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() error { return e.why }

// refuse words a refusal for why: errors.Is(err, why) holds, and the text is
// exactly format's.
func refuse(why error, format string, args ...any) error {
	return &refusal{msg: fmt.Sprintf(format, args...), why: why}
}
