//go:build !nocriu

package main

import (
	"errors"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/internal/sigrelay"
	"github.com/ocirun/ocirun/libcontainer"
)

var restoreCommand = &cli.Command{
	Name:      "restore",
	Usage:     "restore a container from a previous checkpoint",
	ArgsUsage: "<container-id>",
	Description: `The restore command creates container <container-id> from the bundle's
config.json and has CRIU restore its processes from the checkpoint images.
In the foreground it forwards signals and exits with the container's status,
and deletes the container afterwards, as run does. As with runc, the prestart
and createRuntime hooks run again once criu has recreated the namespaces (with
the restored init's pid), and poststart once the processes run. A network
namespace of the container's own is restored empty, with lo up: interfaces
set up from outside are the caller's to recreate, e.g. from those hooks.`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
		&cli.StringFlag{Name: "image-path", Usage: "path to criu image files for restoring (default ./checkpoint)"},
		&cli.StringFlag{Name: "work-path", Usage: "path for saving work files and logs (default: the image path)"},
		&cli.BoolFlag{Name: "tcp-established", Usage: "allow open tcp connections"},
		&cli.BoolFlag{Name: "ext-unix-sk", Usage: "allow external unix sockets"},
		&cli.BoolFlag{Name: "shell-job", Usage: "allow shell jobs"},
		&cli.BoolFlag{Name: "file-locks", Usage: "handle file locks, for safety"},
		&cli.StringFlag{Name: "manage-cgroups-mode", Usage: "cgroups mode: soft|full|strict|ignore (default: soft)"},
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory, defaults to the current directory"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
		&cli.BoolFlag{Name: "no-subreaper", Usage: "disable the use of the subreaper used to reap reparented processes"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot root to jail process inside rootfs"},
		&cli.StringSliceFlag{Name: "empty-ns", Usage: "create a namespace, but don't restore its properties"},
		&cli.BoolFlag{Name: "auto-dedup", Usage: "enable auto deduplication of memory images"},
		&cli.BoolFlag{Name: "lazy-pages", Usage: "use userfaultfd to lazily restore memory pages"},
		&cli.StringFlag{Name: "lsm-profile", Usage: "set the LSM profile used during restore (TYPE:NAME, e.g. apparmor:foo)"},
		&cli.StringFlag{Name: "lsm-mount-context", Usage: "set the mount context used during restore"},
	},
	Action: func(ctx *cli.Context) error {
		id, bundle, cfg, err := loadBundle(ctx, "")
		if err != nil {
			return err
		}
		co, err := criuOptions(ctx)
		if err != nil {
			return err
		}
		co.LsmProfile = ctx.String("lsm-profile")
		co.LsmMountContext = ctx.String("lsm-mount-context")
		if err := checkCriuFlags(co, true); err != nil {
			return err
		}
		if ctx.String("console-socket") != "" && !cfg.Process.Terminal {
			return errors.New("--console-socket: only for a container with a terminal (process.terminal)")
		}
		detach := ctx.Bool("detach")
		if !detach && !ctx.Bool("no-subreaper") {
			// The restored init is our child (criu's rst_sibling); its own
			// children that outlive it come to us too.
			if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
				return os.NewSyscallError("prctl(PR_SET_CHILD_SUBREAPER)", err)
			}
		}
		var sigs *sigrelay.Relay
		if !detach {
			if sigs, err = sigrelay.Install(); err != nil {
				return err
			}
		}
		c, err := root(ctx).Restore(id, cfg, &libcontainer.RestoreOpts{
			Opts:          *co,
			Bundle:        bundle,
			ConsoleSocket: ctx.String("console-socket"),
			PidFile:       ctx.String("pid-file"),
		})
		if err != nil {
			return err
		}
		if detach {
			return nil
		}
		status := waitInit(c.State().InitPid, sigs)
		if err := c.Delete(true, logger); err != nil {
			logger.Warn("delete after restore: " + err.Error())
		}
		if status != 0 {
			return &exitError{code: status}
		}
		return nil
	},
}
