package console

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

// drainQuiet is how long stop waits for more output once the master stops
// producing it. The master only reports EOF (EIO) when every slave fd is
// closed; a process the container left in the background may hold one forever.
const drainQuiet = 250 * time.Millisecond

// Forward connects the caller's terminal to master: stdin is copied to the
// master and the master's output to stdout. If stdin is a terminal it is put in
// raw mode, so keys like ^C reach the container's line discipline instead of
// signalling the runtime, and its size follows SIGWINCH.
//
// stop waits for the output to drain and restores the terminal. The stdin copy
// is not waited for: it blocks on a read of the caller's stdin until the
// process exits.
func Forward(master *os.File) (stop func(), err error) {
	return forward(master, os.Stdin, os.Stdout)
}

func forward(master, in, out *os.File) (func(), error) {
	var (
		current console.Console
		winch   chan os.Signal
		quit    = make(chan struct{})
		resized = make(chan struct{})
	)
	if c, err := console.ConsoleFromFile(in); err == nil {
		current = c
		if err := current.SetRaw(); err != nil {
			return nil, fmt.Errorf("raw mode on %s: %w", in.Name(), err)
		}
		if err := resize(master, current); err != nil {
			_ = current.Reset()
			return nil, err
		}
		winch = make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		go func() {
			defer close(resized)
			for {
				select {
				case <-winch:
					// Best effort: a failed resize leaves the old size,
					// and there is nobody to report it to.
					_ = resize(master, current)
				case <-quit:
					return
				}
			}
		}()
	}

	go func() { _, _ = io.Copy(master, in) }()

	var lastRead atomic.Int64
	lastRead.Store(time.Now().UnixNano())
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 32*1024)
		for {
			n, err := master.Read(buf)
			if n > 0 {
				lastRead.Store(time.Now().UnixNano())
				if _, werr := out.Write(buf[:n]); werr != nil {
					return
				}
			}
			// EIO: every slave fd is closed, the pty's EOF.
			if err != nil {
				return
			}
		}
	}()

	var once sync.Once
	stop := func() {
		once.Do(func() {
			waitDrained(done, &lastRead)
			if current != nil {
				signal.Stop(winch)
				close(quit)
				// The caller may close master once stop returns.
				<-resized
				_ = current.Reset()
			}
		})
	}
	return stop, nil
}

// waitDrained returns when the output copy ended or has been idle for drainQuiet.
func waitDrained(done <-chan struct{}, lastRead *atomic.Int64) {
	ticker := time.NewTicker(drainQuiet / 5)
	defer ticker.Stop()
	for {
		select {
		case <-done:
			return
		case <-ticker.C:
			if time.Since(time.Unix(0, lastRead.Load())) > drainQuiet {
				return
			}
		}
	}
}

func resize(master *os.File, from console.Console) error {
	ws, err := from.Size()
	if err != nil {
		return fmt.Errorf("terminal size: %w", err)
	}
	return SetSize(master, ws.Height, ws.Width)
}
