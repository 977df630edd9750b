package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/internal/sigrelay"
	"github.com/ocirun/ocirun/libcontainer"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/console"
	"github.com/ocirun/ocirun/specconv"
)

var execCommand = &cli.Command{
	Name:      "exec",
	Usage:     "execute new process inside the container",
	ArgsUsage: "<container-id> <command> [command options]  ||  -p process.json <container-id>",
	Description: `The exec command runs a new process in a running container. Its exit status
is the process's; when the process cannot be started it is 255.`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the exec process"},
		&cli.StringFlag{Name: "cwd", Usage: "current working directory in the container"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID (format: <uid>[:<gid>])"},
		&cli.Int64SliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional gids"},
		&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "path to the process.json"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
		&cli.StringFlag{Name: "process-label", Usage: "set the asm process label for the process commonly used with selinux"},
		&cli.StringFlag{Name: "apparmor", Usage: "set the apparmor profile for the process"},
		&cli.BoolFlag{Name: "no-new-privs", Usage: "set the no new privileges value for the process"},
		&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability to the bounding set for the process"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
		&cli.StringSliceFlag{Name: "cgroup", Usage: "run the process in an (existing) sub-cgroup(s): `path` or controller[,controller]:path"},
		&cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec in a paused container"},
	},
	Action: func(ctx *cli.Context) error {
		status, err := runExec(ctx)
		if err != nil {
			// runc's status for "could not start the process"; podman maps
			// its message to 126/127.
			return &exitError{code: 255, err: fmt.Errorf("exec failed: %w", err)}
		}
		if status != 0 {
			return &exitError{code: status}
		}
		return nil
	},
}

func runExec(ctx *cli.Context) (int, error) {
	if ctx.NArg() < 1 {
		return 0, errors.New("container id cannot be empty")
	}
	c, err := loadContainer(ctx)
	if err != nil {
		return 0, err
	}
	tracer.Mark("load")
	proc, err := execProcess(ctx, &c.Config().Process)
	if err != nil {
		return 0, err
	}
	logger.Debug("exec: process validated", "id", c.ID, "args", proc.Args, "uid", proc.UID, "cwd", proc.Cwd)
	detach := ctx.Bool("detach")
	var sigs *sigrelay.Relay
	if !detach {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return 0, os.NewSyscallError("prctl(PR_SET_CHILD_SUBREAPER)", err)
		}
		if sigs, err = sigrelay.Install(); err != nil {
			return 0, err
		}
	}
	sub, err := parseSubCgroups(ctx.StringSlice("cgroup"))
	if err != nil {
		return 0, err
	}
	pid, master, err := c.Exec(&libcontainer.ExecOpts{
		SubCgroup:     sub,
		Process:       proc,
		ConsoleSocket: ctx.String("console-socket"),
		PidFile:       ctx.String("pid-file"),
		PidfdSocket:   ctx.String("pidfd-socket"),
		PreserveFDs:   ctx.Int("preserve-fds"),
		Detach:        detach,
		IgnorePaused:  ctx.Bool("ignore-paused"),
		Log:           logger,
		Trace:         tracer,
	})
	if errors.Is(err, libcontainer.ErrExecPaused) {
		return 0, fmt.Errorf("%w (use --ignore-paused to override)", err)
	}
	if err != nil || detach {
		return 0, err
	}
	if master != nil {
		stop, err := console.Forward(master)
		if err != nil {
			return 0, err
		}
		defer stop()
	}
	return waitInit(pid, sigs), nil
}

// execProcess builds the process from --process or from the command line;
// what it leaves out is the container's (specconv).
func execProcess(ctx *cli.Context, base *configs.Process) (*configs.Process, error) {
	if path := ctx.String("process"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		p, err := specconv.DecodeExecProcess(b, base)
		if err != nil {
			return nil, fmt.Errorf("--process %s: %w", path, err)
		}
		return p, nil
	}
	f := specconv.ExecFlags{
		Args:         ctx.Args().Slice()[1:],
		Env:          ctx.StringSlice("env"),
		Cwd:          ctx.String("cwd"),
		Terminal:     ctx.Bool("tty"),
		AppArmor:     ctx.String("apparmor"),
		ProcessLabel: ctx.String("process-label"),
		Caps:         ctx.StringSlice("cap"),
	}
	if ctx.IsSet("no-new-privs") {
		nnp := ctx.Bool("no-new-privs")
		f.NoNewPrivs = &nnp
	}
	if u := ctx.String("user"); u != "" {
		uid, gid, err := parseUser(u)
		if err != nil {
			return nil, err
		}
		f.UID, f.GID = &uid, gid
	}
	for _, g := range ctx.Int64Slice("additional-gids") {
		if g < 0 || g > 1<<32-1 {
			return nil, fmt.Errorf("--additional-gids: invalid gid %d", g)
		}
		f.AdditionalGids = append(f.AdditionalGids, uint32(g))
	}
	return specconv.ExecProcess(base, f)
}

// parseUser parses uid[:gid] (numbers only, as runc without a passwd lookup).
func parseUser(s string) (uint32, *uint32, error) {
	us, gs, hasGid := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return 0, nil, fmt.Errorf("--user: invalid uid %q in %q", us, s)
	}
	if !hasGid {
		return uint32(uid), nil, nil
	}
	gid, err := strconv.ParseUint(gs, 10, 32)
	if err != nil {
		return 0, nil, fmt.Errorf("--user: invalid gid %q in %q", gs, s)
	}
	g := uint32(gid)
	return uint32(uid), &g, nil
}

// parseSubCgroups reads runc's --cgroup values: "path" for every hierarchy,
// or "controller[,controller]:path".
func parseSubCgroups(vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, v := range vals {
		ctrls, path, ok := strings.Cut(v, ":")
		if !ok {
			path, ctrls = v, ""
		}
		if path == "" {
			return nil, fmt.Errorf("--cgroup %q: empty path", v)
		}
		for _, c := range strings.Split(ctrls, ",") {
			if _, dup := out[c]; dup {
				return nil, fmt.Errorf("--cgroup %q: controller %q given twice", v, c)
			}
			out[c] = path
		}
	}
	return out, nil
}
