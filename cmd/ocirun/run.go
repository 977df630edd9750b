package main

import (
	"errors"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/internal/sigrelay"
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
		var sigs *sigrelay.Relay
		if !detach {
			var err error
			if sigs, err = sigrelay.Install(); err != nil {
				return err
			}
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

// waitInit forwards signals to the init and reaps every child that comes to
// us, until the init itself exits; it returns the init's exit status.
func waitInit(pid int, sigs *sigrelay.Relay) int {
	for {
		if status, done := reap(pid); done {
			return status
		}
		s, err := sigs.Next()
		if err != nil {
			// Not expected of a pipe we hold both ends of; still wait.
			return waitBlocking(pid)
		}
		if s != unix.SIGCHLD {
			_ = unix.Kill(pid, s)
		}
	}
}

// waitBlocking waits for the init alone, forwarding nothing.
func waitBlocking(pid int) int {
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 255
		}
		return exitStatus(ws)
	}
}

// exitStatus is a status as a shell reports it: 128+N for signal N.
func exitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
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
			return exitStatus(ws), true
		}
	}
}
