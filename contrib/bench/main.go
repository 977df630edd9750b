// Command bench measures ocirun against runc and crun side by side (`make bench`):
// interleaved rounds in one private mount namespace, a markdown/JSON report and a chart.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

type options struct {
	ocirun, runc, crun string
	busybox            string
	out                string
	quick, publish     bool
	publishDir         string
	seed               int64

	// Set by the outer process when it re-executes itself.
	inner, cleanup bool
	benchPid       int
	tmp            string
}

func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	def := os.Getenv("OCIRUN_BENCH_BIN")
	if def == "" {
		def = "./ocirun"
	}
	fs.StringVar(&o.ocirun, "ocirun", def, "ocirun binary under test (env OCIRUN_BENCH_BIN)")
	fs.StringVar(&o.runc, "runc", "runc", `runc binary ("" to skip)`)
	fs.StringVar(&o.crun, "crun", "crun", `crun binary ("" to skip)`)
	fs.StringVar(&o.busybox, "busybox", "/bin/busybox", "static busybox for the shared rootfs")
	fs.StringVar(&o.out, "o", "bench-results", "results go to DIR/<timestamp>/")
	fs.BoolVar(&o.quick, "quick", false, "fewer samples (~30 s smoke run)")
	fs.BoolVar(&o.publish, "publish", false, "also copy results.md and chart.png to -publish-dir as latest.{md,png}")
	fs.StringVar(&o.publishDir, "publish-dir", "contrib/bench", "where -publish copies the results")
	fs.Int64Var(&o.seed, "seed", 0, "seed of the per-round runtime order (0: from the clock)")
	fs.BoolVar(&o.inner, "inner", false, "internal: run the bench in this (private) mount namespace")
	fs.BoolVar(&o.cleanup, "cleanup", false, "internal: remove what the run with -bench-pid left")
	fs.IntVar(&o.benchPid, "bench-pid", 0, "internal")
	fs.StringVar(&o.tmp, "tmp", "", "internal")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.seed == 0 {
		o.seed = time.Now().UnixNano()
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		os.Exit(2)
	}
	switch {
	case o.cleanup:
		err = cleanupMain(o)
	case o.inner:
		err = innerMain(o)
	default:
		err = outerMain(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// reexec runs this binary again in a new mount namespace; Go makes / rprivate
// in the child before exec, like `unshare -m --propagation private`.
func reexec(args ...string) *exec.Cmd {
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	return cmd
}

// outerMain stays in the host mount namespace: it owns the temp dir and, once
// the inner run is over (even SIGKILLed), repeats the cgroup cleanup.
func outerMain(o *options) error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root (cgroups, mounts, runtimes)")
	}
	tmp, err := os.MkdirTemp("", "ocirun-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	pid := strconv.Itoa(os.Getpid())
	inner := reexec(append(os.Args[1:], "-inner", "-bench-pid", pid, "-tmp", tmp, "-seed", strconv.FormatInt(o.seed, 10))...)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	if err := inner.Start(); err != nil {
		return err
	}
	go func() {
		for s := range sigs {
			// A terminal's Ctrl-C reaches the inner process too; sending it
			// again is harmless and covers a signal sent to this pid only.
			_ = inner.Process.Signal(s)
		}
	}()
	runErr := inner.Wait()
	if err := reexec("-cleanup", "-bench-pid", pid, "-tmp", tmp).Run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench: final cleanup:", err)
	}
	return runErr
}

func cleanupMain(o *options) error {
	ps, err := loadPreState(filepath.Join(o.tmp, "pre.json"))
	if errors.Is(err, unix.ENOENT) {
		return nil // the inner run never got as far as touching cgroups
	}
	if err != nil {
		return err
	}
	h, err := discoverHost()
	if err != nil {
		return err
	}
	if err := hideUnified(h); err != nil {
		return err
	}
	return errors.Join(removeCgroups(ps)...)
}

// benchEnv is the state of one inner run.
type benchEnv struct {
	ctx     context.Context
	o       *options
	p       params
	host    *host
	base    string // bench cgroup relative to a hierarchy root
	work    string // tmpfs: state roots and bundles
	outDir  string
	rootfs  string
	tmpl    map[string]any
	tmplSrc string
	rng     *rand.Rand
	rts     []*runtime
	res     *results
}

// active returns the runtimes still measured, in a fresh random order: a
// fixed order would always give a runtime the same predecessor, whose
// asynchronous teardown then biases it.
func (e *benchEnv) active() []*runtime {
	var rts []*runtime
	for _, i := range e.rng.Perm(len(e.rts)) {
		if e.rts[i].Disabled == "" {
			rts = append(rts, e.rts[i])
		}
	}
	return rts
}

func (e *benchEnv) logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "[%s] "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

func innerMain(o *options) (err error) {
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	// Never stop(): a second Ctrl-C must not kill the run in its cleanup.
	_ = stop
	e := &benchEnv{ctx: ctx, o: o, p: defaultParams(o.quick), rng: rand.New(rand.NewSource(o.seed))}
	e.res = newResults()
	go func() {
		<-ctx.Done()
		e.logf("interrupted: stopping after the current step, then cleaning up")
	}()
	if e.host, err = discoverHost(); err != nil {
		return err
	}
	if err := hideUnified(e.host); err != nil {
		return err
	}
	if e.host.UnifiedHidden {
		e.res.note("cgroup2 at %s unmounted inside the bench's private mount namespace (crun refuses the hybrid layout); all runtimes see the same v1 layout", unifiedPath)
	}
	e.base = e.host.benchBase(o.benchPid)
	ps, err := recordPreState(e.host, o.benchPid, filepath.Join(o.tmp, "pre.json"))
	if err != nil {
		return err
	}
	e.work = filepath.Join(o.tmp, "work")
	if err := os.Mkdir(e.work, 0o700); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", e.work, "tmpfs", 0, "mode=0700"); err != nil {
		return &os.PathError{Op: "mount tmpfs", Path: e.work, Err: err}
	}
	restore, err := e.enterHarnessCgroup()
	if err != nil {
		return err
	}
	defer func() {
		e.logf("cleaning up")
		for _, rt := range e.rts {
			if err := rt.deleteAll(4); err != nil {
				e.logf("cleanup %s: %v", rt.Name, err)
			}
		}
		restore()
		for _, err := range removeCgroups(ps) {
			e.logf("cleanup: %v", err)
		}
	}()
	if err := e.setup(); err != nil {
		return err
	}
	// ocirun's compiled seccomp programs stay in the bench's tmpfs.
	if _, ok := os.LookupEnv("OCIRUN_SECCOMP_CACHE"); !ok {
		os.Setenv("OCIRUN_SECCOMP_CACHE", filepath.Join(e.work, "seccomp-cache"))
	}
	if err := e.runPhases(); err != nil {
		return err
	}
	return e.report()
}

// enterHarnessCgroup moves the bench into <base>/harness in the memory
// hierarchy, so that the runtimes' own charges (state files on tmpfs,
// kernel memory) count in the bench's cgroup, and the memory figure is not
// polluted by other processes in the caller's cgroup.
func (e *benchEnv) enterHarnessCgroup() (func(), error) {
	m, ok := e.host.memMount()
	if !ok {
		return nil, errors.New("no memory cgroup hierarchy mounted")
	}
	leaf := filepath.Join(m.Path, e.base, "harness")
	if err := os.MkdirAll(leaf, 0o755); err != nil {
		return nil, err
	}
	self := []byte(strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), self, 0o644); err != nil {
		return nil, fmt.Errorf("enter %s: %w", leaf, err)
	}
	orig := filepath.Join(m.Path, e.host.MemRel, "cgroup.procs")
	return func() {
		if err := os.WriteFile(orig, self, 0o644); err != nil {
			e.logf("leave harness cgroup: %v", err)
		}
	}, nil
}

func (e *benchEnv) setup() error {
	stamp := time.Now().Format("20060102-150405")
	e.outDir = filepath.Join(e.o.out, stamp)
	if err := os.MkdirAll(filepath.Join(e.outDir, "logs"), 0o755); err != nil {
		return err
	}
	e.rootfs = filepath.Join(e.work, "rootfs")
	if err := makeRootfs(e.rootfs, e.o.busybox); err != nil {
		return fmt.Errorf("rootfs from %s: %w", e.o.busybox, err)
	}
	cands := []struct{ name, path string }{{"ocirun", e.o.ocirun}, {"runc", e.o.runc}, {"crun", e.o.crun}}
	var specBins []string
	for _, c := range cands {
		path := ""
		if c.path != "" {
			path = lookRuntime(c.path)
		}
		if c.path == "" && c.name != "ocirun" {
			e.res.note("%s: skipped (empty -%s)", c.name, c.name)
			continue
		}
		if path == "" {
			if c.name == "ocirun" {
				return fmt.Errorf("ocirun binary %q not found (build it: make ocirun)", c.path)
			}
			e.res.note("%s: not installed (%q not found), skipped", c.name, c.path)
			continue
		}
		rt := &runtime{Name: c.name, Path: path, Root: filepath.Join(e.work, "state", c.name), env: e, Version: version(path)}
		log, err := os.Create(filepath.Join(e.outDir, "logs", c.name+".log"))
		if err != nil {
			return err
		}
		rt.log = log
		e.rts = append(e.rts, rt)
		if c.name == "runc" {
			specBins = append([]string{path}, specBins...)
		} else {
			specBins = append(specBins, path)
		}
	}
	var err error
	if e.tmpl, e.tmplSrc, err = configTemplate(e.work, specBins); err != nil {
		return err
	}
	e.logf("runtimes: %v; config template from %s; seed %d; results in %s", e.names(), e.tmplSrc, e.o.seed, e.outDir)
	for _, rt := range e.rts {
		if err := e.preflight(rt); err != nil {
			rt.Disabled = "preflight failed: " + err.Error()
			e.res.note("%s: %s", rt.Name, rt.Disabled)
			e.logf("%s: %s", rt.Name, rt.Disabled)
		}
	}
	return nil
}

func (e *benchEnv) names() []string {
	var n []string
	for _, rt := range e.rts {
		n = append(n, rt.Name)
	}
	return n
}

// preflight creates one container and checks that its init sits in the
// expected memory cgroup leaf: otherwise every memory figure would be wrong.
func (e *benchEnv) preflight(rt *runtime) error {
	const id = "preflight"
	b, err := rt.prepare(id, "true")
	if err != nil {
		return err
	}
	pidFile := filepath.Join(b, "pid")
	if _, err := rt.run("create", "--bundle", b, "--pid-file", pidFile, id); err != nil {
		return err
	}
	defer rt.run("delete", "-f", id)
	pid, err := readPidFile(pidFile)
	if err != nil {
		return err
	}
	pids, err := e.host.procsIn(rt.cgroupRel(id))
	if err != nil {
		return fmt.Errorf("container cgroup: %w", err)
	}
	for _, p := range pids {
		if p == pid {
			return nil
		}
	}
	return fmt.Errorf("init pid %d not in memory cgroup %s (holds %v)", pid, rt.cgroupRel(id), pids)
}
