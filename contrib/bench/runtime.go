package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// runtime is one OCI runtime under test, with its own state root.
type runtime struct {
	Name    string
	Path    string
	Root    string
	Version string
	// Disabled says why the runtime is no longer measured (empty while it is).
	Disabled string

	env   *benchEnv
	logMu sync.Mutex
	log   *os.File
}

// result is what one timed runtime command cost.
type result struct {
	Wall time.Duration
	CPU  time.Duration // user+sys of the command and the children it reaped
}

// run executes "<runtime> --root <root> args..." and times it. Each command
// gets its own process group: a Ctrl-C on the terminal must reach only the
// bench, which then cleans up, not a runtime in the middle of a create.
func (r *runtime) run(args ...string) (result, error) {
	cmd := exec.Command(r.Path, append([]string{"--root", r.Root}, args...)...)
	// A file, not a pipe: a detached container inherits the runtime's stdio,
	// and a pipe would make Wait block until the container exits.
	errFile, err := os.CreateTemp(r.env.work, "stderr-")
	if err != nil {
		return result{}, err
	}
	defer os.Remove(errFile.Name())
	defer errFile.Close()
	cmd.Stderr = errFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	err = cmd.Run()
	res := result{Wall: time.Since(start)}
	stderr, _ := os.ReadFile(errFile.Name())
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			res.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	if len(stderr) > 0 || err != nil {
		r.logf("$ %s %s (%v)\n%s", r.Name, strings.Join(args, " "), err, stderr)
	}
	if err != nil {
		msg := strings.TrimSpace(string(stderr))
		if len(msg) > 300 {
			msg = msg[len(msg)-300:]
		}
		return res, fmt.Errorf("%s %s: %w: %s", r.Name, strings.Join(args, " "), err, msg)
	}
	return res, nil
}

func (r *runtime) logf(format string, a ...any) {
	if r.log == nil {
		return
	}
	r.logMu.Lock()
	defer r.logMu.Unlock()
	fmt.Fprintf(r.log, format+"\n", a...)
}

// output runs an untimed command and returns its stdout.
func (r *runtime) output(args ...string) (string, error) {
	cmd := exec.Command(r.Path, append([]string{"--root", r.Root}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", r.Name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// cgroupRel is the container's cgroup relative to a hierarchy root. It is
// absolute in config.json so that runc and crun place it the same way.
func (r *runtime) cgroupRel(id string) string {
	return filepath.Join(r.env.base, r.Name, id)
}

func (r *runtime) bundle(id string) string {
	return filepath.Join(r.env.work, "bundles", r.Name, id)
}

// prepare writes the bundle (config.json only; the rootfs is shared) for
// container id running args.
func (r *runtime) prepare(id string, args ...string) (string, error) {
	return r.prepareFrom(r.env.tmpl, id, args...)
}

// prepareFrom is prepare with another config template than the bench's.
func (r *runtime) prepareFrom(tmpl map[string]any, id string, args ...string) (string, error) {
	dir := r.bundle(id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	b, err := makeConfig(tmpl, r.env.rootfs, r.cgroupRel(id), args)
	if err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
}

// exists reports whether the runtime still has state for id: runc, crun and
// ocirun all keep it in <root>/<id>.
func (r *runtime) exists(id string) bool {
	_, err := os.Stat(filepath.Join(r.Root, id))
	return err == nil
}

// deleteAll force-deletes every container the runtime lists, p at a time.
func (r *runtime) deleteAll(p int) error {
	out, err := r.output("list", "-q")
	if err != nil {
		return err
	}
	ids := strings.Fields(out)
	return parallel(len(ids), p, func(i int) error {
		_, err := r.run("delete", "-f", ids[i])
		return err
	})
}

// parallel runs f(0..n-1) on p workers and returns the first error.
func parallel(n, p int, f func(i int) error) error {
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan int)
	for w := 0; w < p; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return firstErr
}

// readPidFile reads a --pid-file written by create.
func readPidFile(file string) (int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("pid file %s: %w", file, err)
	}
	return pid, nil
}

// waitExit polls until pid is gone or a zombie: who reaps it (pid 1 or a
// subreaper) must not change the figure.
func waitExit(pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	file := fmt.Sprintf("/proc/%d/stat", pid)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil
		}
		// The state follows the parenthesised comm, which may contain spaces.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return nil
		}
		time.Sleep(200 * time.Microsecond)
	}
	return fmt.Errorf("pid %d still running after %v", pid, timeout)
}

// pssKB sums Pss from /proc/<pid>/smaps_rollup over pids.
func pssKB(pids []int) (int64, error) {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			return 0, err
		}
		v, err := rollupField(string(b), "Pss:")
		if err != nil {
			return 0, fmt.Errorf("pid %d: %w", pid, err)
		}
		total += v
	}
	return total, nil
}

func rollupField(s, key string) (int64, error) {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == key {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("smaps_rollup: no %q line", key)
}

// version returns the first line of "<path> --version".
func version(path string) string {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// lookRuntime resolves a runtime binary; an empty path means "not installed".
func lookRuntime(path string) string {
	p, err := exec.LookPath(path)
	if err != nil {
		return ""
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// configTemplate returns the base config.json: `runc spec` when runc is
// installed (the common reference), else the first runtime's own `spec`.
func configTemplate(dir string, specBins []string) (map[string]any, string, error) {
	var errs []error
	for _, bin := range specBins {
		d, err := os.MkdirTemp(dir, "spec-")
		if err != nil {
			return nil, "", err
		}
		cmd := exec.Command(bin, "spec")
		cmd.Dir = d
		if out, err := cmd.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("%s spec: %w: %s", bin, err, bytes.TrimSpace(out)))
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "config.json"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			errs = append(errs, fmt.Errorf("%s spec: %w", bin, err))
			continue
		}
		return m, bin, nil
	}
	return nil, "", fmt.Errorf("no usable spec template: %w", errors.Join(errs...))
}

// makeConfig specialises the template: no terminal, the given args, the
// shared read-only rootfs, an absolute cgroup path and no network namespace
// (not needed for `true`, and its setup would dominate every figure).
func makeConfig(tmpl map[string]any, rootfs, cgroupsPath string, args []string) ([]byte, error) {
	// The template is shared: copy through JSON rather than alias its maps.
	b, err := json.Marshal(tmpl)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	proc, _ := m["process"].(map[string]any)
	if proc == nil {
		return nil, errors.New("spec template: no process object")
	}
	proc["terminal"] = false
	proc["args"] = args
	m["root"] = map[string]any{"path": rootfs, "readonly": true}
	linux, _ := m["linux"].(map[string]any)
	if linux == nil {
		return nil, errors.New("spec template: no linux object")
	}
	linux["cgroupsPath"] = cgroupsPath
	if nss, ok := linux["namespaces"].([]any); ok {
		kept := []any{}
		for _, ns := range nss {
			if n, ok := ns.(map[string]any); ok && n["type"] == "network" {
				continue
			}
			kept = append(kept, ns)
		}
		linux["namespaces"] = kept
	}
	return json.MarshalIndent(m, "", "\t")
}

// makeRootfs builds the shared busybox rootfs: a static busybox and the
// applets the containers run, plus the mount points so that concurrent
// creates never race to make them.
func makeRootfs(dir, busybox string) error {
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	src, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), src, 0o755); err != nil {
		return err
	}
	for _, applet := range []string{"true", "sleep", "sh"} {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil {
			return err
		}
	}
	return nil
}
