package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/ocirun/ocirun/libcontainer"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/specconv"
)

// containerID returns the validated id, the first argument.
func containerID(ctx *cli.Context) (string, error) {
	if ctx.NArg() < 1 {
		return "", errors.New("container id cannot be empty")
	}
	id := ctx.Args().First()
	if err := specconv.ValidateID(id); err != nil {
		return "", err
	}
	return id, nil
}

func checkArgs(ctx *cli.Context, n int) error {
	if ctx.NArg() != n {
		return fmt.Errorf("%s: expected %d argument(s), got %d (usage: %s %s)", ctx.Command.Name, n, ctx.NArg(), ctx.Command.Name, ctx.Command.ArgsUsage)
	}
	return nil
}

func loadContainer(ctx *cli.Context) (*libcontainer.Container, error) {
	id, err := containerID(ctx)
	if err != nil {
		return nil, err
	}
	return root(ctx).Load(id)
}

// loadContainerState is loadContainer without the config, for commands
// that only report status.
func loadContainerState(ctx *cli.Context) (*libcontainer.Container, error) {
	id, err := containerID(ctx)
	if err != nil {
		return nil, err
	}
	return root(ctx).LoadState(id)
}

var createFlags = []cli.Flag{
	&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: "", Usage: "path to the root of the bundle directory, defaults to the current directory"},
	&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
	&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
	&cli.StringFlag{Name: "pidfd-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the init process"},
	&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot root to jail process inside rootfs"},
	&cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a new session keyring for the container"},
	&cli.IntFlag{Name: "preserve-fds", Usage: "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
}

// loadBundle reads and validates --bundle's config.json for the container
// ID (the one argument) the way create, run and restore share; create and
// run pass the caller's NOTIFY_SOCKET through.
func loadBundle(ctx *cli.Context, notifySocket string) (id, bundle string, cfg *configs.Config, err error) {
	if err := checkArgs(ctx, 1); err != nil {
		return "", "", nil, err
	}
	if id, err = containerID(ctx); err != nil {
		return "", "", nil, err
	}
	if bundle, err = bundleDir(ctx); err != nil {
		return "", "", nil, err
	}
	spec, err := specconv.LoadSpec(bundle)
	if err != nil {
		return "", "", nil, err
	}
	cfg, err = specconv.ToConfig(spec, specOptions(ctx, id, bundle, notifySocket))
	if err != nil {
		return "", "", nil, err
	}
	return id, bundle, cfg, nil
}

// bundleDir is --bundle, absolute (the current directory by default).
func bundleDir(ctx *cli.Context) (string, error) {
	bundle := ctx.String("bundle")
	if bundle == "" {
		bundle = "."
	}
	return filepath.Abs(bundle)
}

// specOptions are what create, run, restore and validate tell specconv.
func specOptions(ctx *cli.Context, id, bundle, notifySocket string) specconv.Options {
	return specconv.Options{
		ID:       id,
		Bundle:   bundle,
		NoPivot:  ctx.Bool("no-pivot"),
		Rootless: os.Geteuid() != 0,
		// A global flag: clients put it before the subcommand. Later
		// commands find the driver in the saved state.
		SystemdCgroup: ctx.Bool("systemd-cgroup"),
		NotifySocket:  notifySocket,
		NotifyDir:     root(ctx).NotifyDir(id),
	}
}

// createOpts are create's (and run's, and validate's) flags for libcontainer.
func createOpts(ctx *cli.Context, bundle string, foreground bool) *libcontainer.CreateOpts {
	return &libcontainer.CreateOpts{
		Bundle:        bundle,
		ConsoleSocket: ctx.String("console-socket"),
		PidFile:       ctx.String("pid-file"),
		PidfdSocket:   ctx.String("pidfd-socket"),
		PreserveFDs:   ctx.Int("preserve-fds"),
		NoNewKeyring:  ctx.Bool("no-new-keyring"),
		Foreground:    foreground,
	}
}

// createContainer is the common part of create and run.
func createContainer(ctx *cli.Context, foreground bool) (*libcontainer.Container, *os.File, error) {
	id, bundle, cfg, err := loadBundle(ctx, os.Getenv("NOTIFY_SOCKET"))
	if err != nil {
		return nil, nil, err
	}
	tracer.Mark("validate")
	logger.Debug("config.json validated", "id", id, "bundle", bundle)
	opts := createOpts(ctx, bundle, foreground)
	opts.StartsHere = ctx.Command.Name == "run"
	return root(ctx).Create(id, cfg, opts)
}
