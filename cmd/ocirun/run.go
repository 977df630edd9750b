package main

import (
	"errors"
	"os"
	"os/signal"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/console"
)

var runCommand = &cli.Command{
	Name:      "run",
	Usage:     "create and run a container",
	ArgsUsage: "<container-id>",
	Description: `The run command creates and starts a container from a bundle. In the
foreground it forwards signals to the container and exits with its status
(128+N when signal N killed it); the container is deleted unless --keep.`,
	Flags: append(append([]cli.Flag{}, createFlags...),
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
		&cli.BoolFlag{Name: "no-subreaper", Usage: "disable the use of the subreaper used to reap reparented processes"},
	),
	Action: func(ctx *cli.Context) error {
		// With -d, --keep only keeps a container whose start failed, as
		// runc 1.4 accepts both.
		detach, keep := ctx.Bool("detach"), ctx.Bool("keep")
		if !detach && !ctx.Bool("no-subreaper") {
			// The init is our child (the C stage forks it with
			// CLONE_PARENT); as a subreaper we also reap what the container
			// orphans outside its pid namespace (none, or a shared one),
			// as runc does.
			if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
				return os.NewSyscallError("prctl(PR_SET_CHILD_SUBREAPER)", err)
			}
		}
		// Signals that arrive between create and wait must not be lost.
		sigs := make(chan os.Signal, 128)
		notified := func() {}
		if !detach {
			notified = notifyAll(sigs)
		}
		c, master, err := createContainer(ctx, !detach)
		if err != nil {
			return err
		}
		tracer.Mark("create")
		if err := c.Start(logger); err != nil {
			if !keep {
				_ = c.Delete(true, logger)
			}
			return err
		}
		tracer.Mark("start")
		if detach {
			return nil
		}
		var stopConsole func()
		if master != nil {
			stop, err := console.Forward(master)
			if err != nil {
				_ = c.Delete(true, logger)
				return err
			}
			stopConsole = stop
		}
		notified()
		status := waitInit(c.State().InitPid, sigs)
		tracer.Mark("wait")
		if stopConsole != nil {
			stopConsole()
		}
		if !keep {
			if err := c.Delete(true, logger); err != nil {
				logger.Warn("delete after run: " + err.Error())
			}
			tracer.Mark("delete")
		}
		if status != 0 {
			return &exitError{code: status}
		}
		return nil
	},
}

// notifyAll relays every signal to ch, enabled in the background: Go turns
// them on one at a time through its signal-mask thread, 1-4 ms of round
// trips measured here, which would otherwise hold up the container's start.
// The returned func waits until they are all on; call it before reading ch.
// A signal in the first milliseconds has its default effect on us, as it
// has before any runtime gets to install its handlers.
func notifyAll(ch chan os.Signal) (wait func()) {
	done := make(chan struct{})
	go func() {
		signal.Notify(ch)
		close(done)
	}()
	return func() { <-done }
}

// waitInit forwards signals to the init and reaps every child that comes to
// us, until the init itself exits; it returns the init's exit status.
func waitInit(pid int, sigs chan os.Signal) int {
	for {
		if status, done := reap(pid); done {
			return status
		}
		s := <-sigs
		switch s {
		case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH:
			// SIGURG is the Go runtime's preemption signal; SIGWINCH is the console's.
		default:
			_ = unix.Kill(pid, s.(unix.Signal))
		}
	}
}

// reap collects exited children without blocking; done reports the init's exit.
func reap(pid int) (int, bool) {
	for {
		var ws unix.WaitStatus
		p, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || p <= 0 {
			return 0, errors.Is(err, unix.ECHILD)
		}
		if p == pid {
			if ws.Signaled() {
				return 128 + int(ws.Signal()), true
			}
			return ws.ExitStatus(), true
		}
	}
}
