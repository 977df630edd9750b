// A command lives for milliseconds: the runtime's goroutine that follows
// the cgroup's CPU limit would only cost its start (~2 % of a run's CPU).
//
//go:debug updatemaxprocs=0

// Command ocirun is an OCI runtime with runc's command line.
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer"
	_ "github.com/ocirun/ocirun/libcontainer/nsexec" // the C stage of `ocirun init`
	"github.com/ocirun/ocirun/libcontainer/seccomp"
	"github.com/ocirun/ocirun/libcontainer/trace"
)

// version and commit are set with -ldflags by the Makefile.
var (
	version = "0.1.0-dev"
	commit  = ""
)

func main() {
	// init runs for every container start: skip the CLI machinery.
	if len(os.Args) == 2 && os.Args[1] == "init" {
		libcontainer.Init()
	}
	// Whatever the caller leaked to us (containerd's shim leaves a socket on
	// fd 3) must not reach a container: only what we pass on explicitly does.
	// --preserve-fds are passed as ExtraFiles, which clears the flag again.
	_ = unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	app := newApp()
	cacheFlagNames(app, os.Args[1:])
	err := app.Run(interleaveFlags(app, os.Args))
	tracer.Close()
	if err != nil {
		fail(err)
	}
}

func newApp() *cli.App {
	if commit == "" {
		commit = vcsRevision()
	}
	app := &cli.App{
		Name:  "ocirun",
		Usage: "Open Container Initiative runtime",
		Description: `ocirun runs containers from OCI bundles (a directory with config.json and a
root filesystem), with the same commands and flags as runc.`,
		// runc's layout, line for line: tools parse it.
		Version: fmt.Sprintf("%s\ncommit: %s\nspec: %s\ngo: %s\nlibseccomp: %s",
			version, commit, specs.Version, runtime.Version(), seccomp.LibraryVersion()),
		// runc never splits repeated flags on commas (--env A=1,2 is one value).
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: defaultRoot(), Usage: "root directory for storage of container state (this should be located in tmpfs)"},
			&cli.StringFlag{Name: "log", Usage: "set the log file to write ocirun logs to (default is stderr)"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "set the log format ('text' (default), or 'json')"},
			&cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "enable systemd cgroup support, expects cgroupsPath to be of form \"slice:prefix:name\" for e.g. \"system.slice:ocirun:434234\""},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors ('true', 'false', or 'auto')"},
			&cli.StringFlag{Name: "trace", EnvVars: []string{"OCIRUN_TRACE"}, Usage: "append per-phase timings of this command to `FILE` as JSON lines"},
			&cli.StringFlag{Name: "criu", Value: "criu", Usage: "path to the criu binary used for checkpoint and restore"},
		},
		Before: setup,
		Commands: append([]*cli.Command{
			createCommand, startCommand, runCommand, stateCommand, killCommand,
			deleteCommand, listCommand, specCommand, execCommand, featuresCommand,
			pauseCommand, resumeCommand, psCommand, updateCommand, eventsCommand,
			checkpointCommand, restoreCommand, validateCommand, initCommand,
		}, extraCommands...),
		// Errors are reported once, by fail, in the format the clients parse.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	return app
}

// extraCommands are added by files built with a tag (gendocs.go), never
// by the runtime's own build.
var extraCommands []*cli.Command

func defaultRoot() string {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" && honorXDGRuntimeDir() {
		return dir + "/ocirun"
	}
	return "/run/ocirun"
}

// honorXDGRuntimeDir: state goes to $XDG_RUNTIME_DIR for a user without
// root, and for "root" in a user namespace that is not the host's unless
// $USER says root (rootless podman runs us as uid 0 of its own user
// namespace, where /run is the host's and not writable), as runc decides.
func honorXDGRuntimeDir() bool {
	if os.Geteuid() != 0 {
		return true
	}
	if !libcontainer.InUserNS() {
		return false
	}
	u, ok := os.LookupEnv("USER")
	return !ok || u != "root"
}

// rootlessCgroups decides --rootless: with true, a cgroup the runtime may not
// create is skipped (refused if the config sets limits); auto means true for
// a user without root and for root in a user namespace other than the
// host's, where cgroup permissions are unknown, except with the systemd
// driver (systemd delegates the unit to us), as runc decides.
func rootlessCgroups(ctx *cli.Context) bool {
	switch ctx.String("rootless") {
	case "true":
		return true
	case "false":
		return false
	}
	if ctx.Bool("systemd-cgroup") {
		return false
	}
	return os.Geteuid() != 0 || libcontainer.InUserNS()
}

func vcsRevision() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// logger is the process-wide logger set up from --log/--log-format/--debug.
var (
	tracer    *trace.Tracer
	logger    = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	logToFile bool
)

func setup(ctx *cli.Context) error {
	switch r := ctx.String("rootless"); r {
	case "auto", "false", "true":
	default:
		return fmt.Errorf("--rootless: want true, false or auto, got %q", r)
	}
	level := slog.LevelInfo
	if ctx.Bool("debug") {
		level = slog.LevelDebug
	}
	var out io.Writer = os.Stderr
	if path := ctx.String("log"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("open log file: %w", err)
		}
		out, logToFile = f, true
	} else if !ctx.Bool("debug") {
		level = slog.LevelWarn
	}
	if path := ctx.String("trace"); path != "" {
		t, err := trace.Open(path, ctx.Args().First())
		if err != nil {
			return fmt.Errorf("--trace: %w", err)
		}
		tracer = t
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: logrusCompat}
	switch ctx.String("log-format") {
	case "json":
		logger = slog.New(slog.NewJSONHandler(out, opts))
	case "text":
		logger = slog.New(slog.NewTextHandler(out, opts))
	default:
		return fmt.Errorf("--log-format: unknown format %q (want text or json)", ctx.String("log-format"))
	}
	return nil
}

// logrusCompat writes levels as runc's logrus does, in lower case and with
// "warning" for slog's WARN: containerd's shim looks for "level":"error"
// lines in log.json, and scripts grep runc's level=warning.
func logrusCompat(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.LevelKey {
		if lvl, ok := a.Value.Any().(slog.Level); ok && lvl == slog.LevelWarn {
			return slog.String(slog.LevelKey, "warning")
		}
		return slog.String(slog.LevelKey, strings.ToLower(a.Value.String()))
	}
	return a
}

// fail reports err on stderr and, with --log, as one error line there, then
// exits 1 (or the status an exitError carries).
func fail(err error) {
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			os.Exit(code)
		}
		err = ee.err
	}
	if logToFile {
		logger.Error(err.Error())
	}
	fmt.Fprintln(os.Stderr, "ocirun:", err)
	os.Exit(code)
}

// exitError carries a specific exit status (run's container status).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func root(ctx *cli.Context) *libcontainer.Root {
	return &libcontainer.Root{Path: ctx.String("root"), Log: logger, Trace: tracer, RootlessCgroups: rootlessCgroups(ctx),
		SeccompCache: seccompCacheDir()}
}

// seccompCacheDir is where compiled seccomp programs are kept:
// $OCIRUN_SECCOMP_CACHE ("off" or empty: nowhere), else beside the default
// state root, on the same tmpfs, shared by every --root of this user.
func seccompCacheDir() string {
	if dir, ok := os.LookupEnv("OCIRUN_SECCOMP_CACHE"); ok {
		if dir == "off" {
			return ""
		}
		return dir
	}
	return defaultRoot() + "-cache/seccomp"
}
