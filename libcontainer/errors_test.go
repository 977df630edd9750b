package libcontainer

import (
	"errors"
	"fmt"
	"testing"
)

// TestRefusalWords: a refusal keeps runc's words to the letter and is its
// sentinel for errors.Is, also wrapped once more.
func TestRefusalWords(t *testing.T) {
	for _, tc := range []struct {
		err  error
		why  error
		text string
	}{
		{ErrExecPaused, ErrPaused, "cannot exec in a paused container"},
		{refuse(ErrNotRunning, "cannot start a container that has stopped"), ErrNotRunning, "cannot start a container that has stopped"},
		{refuse(ErrRunning, "cannot delete container %s that is not stopped: %s", "c1", Running), ErrRunning, "cannot delete container c1 that is not stopped: running"},
		{fmt.Errorf("%w: %s", ErrExist, "c1"), ErrExist, "container with id exists: c1"},
		{fmt.Errorf("%w: %q", ErrNotExist, "c1"), ErrNotExist, `container does not exist: "c1"`},
	} {
		if tc.err.Error() != tc.text {
			t.Errorf("text %q, want %q", tc.err, tc.text)
		}
		if w := fmt.Errorf("kill: %w", tc.err); !errors.Is(w, tc.why) || !errors.Is(w, tc.err) {
			t.Errorf("%q: errors.Is does not find %q", tc.err, tc.why)
		}
	}
}
