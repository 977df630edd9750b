//go:build !nocriu

package main

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/criu"
)

var checkpointCommand = &cli.Command{
	Name:      "checkpoint",
	Usage:     "checkpoint a running container",
	ArgsUsage: "<container-id>",
	Description: `The checkpoint command saves the state of the container instance with CRIU.
Unless --leave-running or --pre-dump, the container's processes end and the
container is deleted, as with runc, so that "ocirun restore" can reuse its id.`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "image-path", Usage: "path for saving criu image files (default ./checkpoint)"},
		&cli.StringFlag{Name: "work-path", Usage: "path for saving work files and logs (default: the image path)"},
		&cli.StringFlag{Name: "parent-path", Usage: "path for previous criu image files in pre-dump, relative to the image path"},
		&cli.BoolFlag{Name: "leave-running", Usage: "leave the process running after checkpointing"},
		&cli.BoolFlag{Name: "tcp-established", Usage: "allow open tcp connections"},
		&cli.BoolFlag{Name: "ext-unix-sk", Usage: "allow external unix sockets"},
		&cli.BoolFlag{Name: "shell-job", Usage: "allow shell jobs"},
		&cli.BoolFlag{Name: "lazy-pages", Usage: "use userfaultfd to lazily restore memory pages"},
		&cli.IntFlag{Name: "status-fd", Value: -1, Usage: "criu writes \\0 to this FD once lazy-pages is ready"},
		&cli.StringFlag{Name: "page-server", Usage: "ADDRESS:PORT of the page server"},
		&cli.BoolFlag{Name: "file-locks", Usage: "handle file locks, for safety"},
		&cli.BoolFlag{Name: "pre-dump", Usage: "dump container's memory information only, leave the container running after this"},
		&cli.StringFlag{Name: "manage-cgroups-mode", Usage: "cgroups mode: soft|full|strict|ignore (default: soft)"},
		&cli.StringSliceFlag{Name: "empty-ns", Usage: "create a namespace, but don't restore its properties"},
		&cli.BoolFlag{Name: "auto-dedup", Usage: "enable auto deduplication of memory images"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1); err != nil {
			return err
		}
		c, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		o, err := criuOptions(ctx)
		if err != nil {
			return err
		}
		o.ParentImage = ctx.String("parent-path")
		o.LeaveRunning = ctx.Bool("leave-running")
		o.PreDump = ctx.Bool("pre-dump")
		o.StatusFd = ctx.Int("status-fd")
		if ps := ctx.String("page-server"); ps != "" {
			host, port, err := net.SplitHostPort(ps)
			n, perr := strconv.ParseUint(port, 10, 16)
			if err != nil || host == "" || perr != nil {
				return fmt.Errorf("--page-server %q: want ADDRESS:PORT", ps)
			}
			o.PageServerAddress, o.PageServerPort = host, int32(n)
		}
		if err := checkCriuFlags(o, false); err != nil {
			return err
		}
		return c.Checkpoint(o, logger)
	},
}

// checkpointBuilt is what `features` says of checkpoint/restore.
const checkpointBuilt = true

// criuOptions reads the flags checkpoint and restore share.
func criuOptions(ctx *cli.Context) (*criu.Opts, error) {
	images := ctx.String("image-path")
	if images == "" {
		images = "checkpoint"
	}
	images, err := filepath.Abs(images)
	if err != nil {
		return nil, err
	}
	work := ctx.String("work-path")
	if work != "" {
		if work, err = filepath.Abs(work); err != nil {
			return nil, err
		}
	}
	mode := ctx.String("manage-cgroups-mode")
	if err := criu.ParseCgroupsMode(mode); err != nil {
		return nil, fmt.Errorf("--manage-cgroups-mode: %w", err)
	}
	// As runc: network interfaces are not the runtime's to dump or restore.
	empty := uint32(unix.CLONE_NEWNET)
	for _, ns := range ctx.StringSlice("empty-ns") {
		f, err := criu.EmptyNsFlag(ns)
		if err != nil {
			return nil, fmt.Errorf("--empty-ns: %w", err)
		}
		empty |= f
	}
	return &criu.Opts{
		CriuPath:          ctx.String("criu"),
		ImagesDir:         images,
		WorkDir:           work,
		TCPEstablished:    ctx.Bool("tcp-established"),
		ExtUnixSk:         ctx.Bool("ext-unix-sk"),
		ShellJob:          ctx.Bool("shell-job"),
		FileLocks:         ctx.Bool("file-locks"),
		AutoDedup:         ctx.Bool("auto-dedup"),
		LazyPages:         ctx.Bool("lazy-pages"),
		StatusFd:          -1,
		ManageCgroupsMode: mode,
		EmptyNs:           empty,
	}, nil
}

// checkCriuFlags rejects flag combinations criu would refuse late or
// silently ignore.
func checkCriuFlags(o *criu.Opts, restore bool) error {
	if o.StatusFd >= 0 && !o.LazyPages {
		return errors.New("--status-fd: only meaningful with --lazy-pages")
	}
	if o.PreDump && o.LazyPages {
		return errors.New("--pre-dump and --lazy-pages cannot be combined")
	}
	if o.ParentImage != "" && filepath.IsAbs(o.ParentImage) {
		return fmt.Errorf("--parent-path %q: must be relative to --image-path", o.ParentImage)
	}
	if o.PageServerAddress != "" && o.LazyPages && restore {
		return errors.New("--page-server: not supported with restore --lazy-pages")
	}
	return nil
}
