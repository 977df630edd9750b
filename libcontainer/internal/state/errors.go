package state

import "errors"

// The errors a container's existence or status gives. Callers test them
// with errors.Is; their texts are runc's, which clients (containerd's
// shim, podman, scripts) match in stderr: wrap them, never reword them.
var (
	ErrNotExist   = errors.New("container does not exist")
	ErrExist      = errors.New("container with id exists")
	ErrNotRunning = errors.New("container not running")
	ErrNotPaused  = errors.New("container not paused")
	ErrPaused     = errors.New("container paused")
	ErrRunning    = errors.New("container still running")
)
