package cgfile

import (
	"io"
	"os"
	"time"
)

// Watch turns the wake-ups of f into notifications, for the OOM watchers of
// both versions (v1: an eventfd, v2: inotify on the event files). f must be
// non-blocking, so that a read deadline can end a pending read when stop is
// closed. After each read, check says whether to notify and whether the
// watch is over (the cgroup is gone). The channel is closed, and f and
// alsoClose with it, when the watch is over or stop is closed.
func Watch(stop <-chan struct{}, f *os.File, check func() (notify, over bool), alsoClose ...io.Closer) <-chan struct{} {
	ch := make(chan struct{})
	done := make(chan struct{})
	go func() {
		select {
		case <-stop:
		case <-done:
		}
		_ = f.SetReadDeadline(time.Now())
	}()
	go func() {
		defer close(ch)
		defer close(done)
		defer func() {
			f.Close()
			for _, c := range alsoClose {
				c.Close()
			}
		}()
		buf := make([]byte, 4096) // an inotify event, or the eventfd's 8-byte counter
		for {
			if _, err := f.Read(buf); err != nil {
				return
			}
			notify, over := check()
			if notify {
				select {
				case ch <- struct{}{}:
				case <-stop:
					return
				}
			}
			if over {
				return
			}
		}
	}()
	return ch
}
