package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/tests/internal/bundle"
)

// badRow is one malformed bundle or command line of the catalogue.
type badRow struct {
	name string
	// edit changes the bundle's spec; raw, when set, is config.json's
	// content instead.
	edit func(*specs.Spec)
	raw  func(b *bundle.Bundle) []byte
	// setup prepares files the row needs and returns create flags to add.
	setup func(t *testing.T, b *bundle.Bundle) []string
	// id replaces the bundle's container id on the command line (idSet:
	// even when empty).
	id    string
	idSet bool
	// cmd, when set, is the whole command line instead of create's.
	cmd func(b *bundle.Bundle, id string) []string
	// want are substrings of the error: the field and the bad value.
	want []string
	// late: found while creating (a hook's exit status, a socket nobody
	// reads), which validate cannot know: it must accept the bundle.
	late bool
}

// TestInvalidCatalogue runs each malformed bundle and command line of
// invalidRows: the runtime must exit 1 with an error naming the field and the
// value, and leave nothing behind: no state dir under --root (nor any change
// to one that was there), no cgroup dir for the container in any hierarchy of
// this mount namespace, no new mount on the host, no process. For create's
// command lines, `validate` with the same flags must agree: exit 1 with
// create's error as its first (or, for a late row, exit 0).
//
// Not parallel with other tests (its rows run in parallel among themselves):
// the host's mount table is compared before and after each row.
func TestInvalidCatalogue(t *testing.T) {
	if !bundle.IsOcirun(t) {
		t.Skip("the catalogue pins ocirun's validation and messages; other runtimes accept some of these bundles")
	}
	rows := invalidRows()
	if len(rows) < 80 {
		t.Fatalf("the catalogue has %d rows, want at least 80", len(rows))
	}
	seen := map[string]bool{}
	for _, row := range rows {
		if seen[row.name] {
			t.Fatalf("two rows are named %q", row.name)
		}
		seen[row.name] = true
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			runBadRow(t, row)
		})
	}
}

func runBadRow(t *testing.T, row badRow) {
	b := bundle.New(t)
	if row.edit != nil {
		b.Edit(t, row.edit)
	}
	if row.raw != nil {
		if err := os.WriteFile(filepath.Join(b.Dir, "config.json"), row.raw(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var extra []string
	if row.setup != nil {
		extra = row.setup(t, b)
	}
	id := b.ID
	if row.idSet || row.id != "" {
		id = row.id
	}
	before := snapshotHost(t, b, id)

	args := append(append([]string{"create", "--bundle", b.Dir}, extra...), id)
	if row.cmd != nil {
		args = row.cmd(b, id)
	}
	r := b.Run(t, args...)
	if r.Code != 1 {
		t.Errorf("exit %d, want 1: %v", r.Code, r)
	}
	// The error is the last line (warnings may come before it), and the
	// only one.
	lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
	msg := lines[len(lines)-1]
	for _, w := range row.want {
		if !strings.Contains(msg, w) {
			t.Errorf("the error does not name %q: %s", w, clip(msg))
		}
	}
	for _, l := range lines[:len(lines)-1] {
		if strings.HasPrefix(l, "ocirun: ") {
			t.Errorf("more than one error on stderr: %s", clip(r.Stderr))
		}
	}
	if row.cmd == nil {
		checkValidateAgrees(t, b, row, extra, id, msg)
	}
	before.diff(snapshotHost(t, b, id), t.Errorf)
}

// checkValidateAgrees runs validate with create's flags: the same first
// error, or no error for a late row.
func checkValidateAgrees(t *testing.T, b *bundle.Bundle, row badRow, extra []string, id, createErr string) {
	t.Helper()
	args := append(append([]string{"validate", "--format", "json", "--bundle", b.Dir}, extra...), id)
	v := b.Run(t, args...)
	var ps []struct {
		Path, Problem, Hint, Severity, Message string
		Value                                  any
	}
	if err := json.Unmarshal([]byte(v.Stdout), &ps); err != nil {
		t.Fatalf("validate --format json: %v: %v", err, v)
	}
	var errs []string
	for _, p := range ps {
		if p.Severity == "error" {
			errs = append(errs, p.Message)
			if p.Problem == "" || p.Message == "" {
				t.Errorf("validate: problem without a text: %+v", p)
			}
		}
	}
	if row.late {
		if v.Code != 0 || len(errs) > 0 {
			t.Errorf("validate refused a bundle only create can find wrong (exit %d): %s", v.Code, clip(strings.Join(errs, "; ")))
		}
		return
	}
	if v.Code != 1 || len(errs) == 0 {
		t.Fatalf("validate accepted what create refused (exit %d): %v", v.Code, v)
	}
	if want := "ocirun: " + errs[0]; want != createErr {
		t.Errorf("validate's first error is not create's:\nvalidate: %s\ncreate:   %s", clip(want), clip(createErr))
	}
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "..."
	}
	return s
}

// hostSnapshot is what a failed command must not change.
type hostSnapshot struct {
	root    map[string]string // --root's tree: path -> content hash or "dir"
	cgroups []string          // existing cgroup dirs of the container
	mounts  []string          // mountinfo lines that name the bundle, --root or the id
	procs   []int             // processes of the container
}

func snapshotHost(t *testing.T, b *bundle.Bundle, id string) hostSnapshot {
	t.Helper()
	s := hostSnapshot{root: map[string]string{}}
	err := filepath.WalkDir(b.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(b.Root, p)
		if d.IsDir() {
			s.root[rel] = "dir"
			return nil
		}
		if !d.Type().IsRegular() {
			s.root[rel] = d.Type().String() // exec.fifo: opening it would block
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		s.root[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	// A state root made by a failed create may stay, empty, as runc's does.
	if len(s.root) == 1 && s.root["."] == "dir" {
		delete(s.root, ".")
	}
	names := []string{b.CgroupsPath}
	if id != "" && id != "." && id != ".." && !strings.Contains(id, "/") && len(id) < 256 {
		names = append(names, id)
	}
	for _, n := range names {
		dirs, err := bundle.CgroupDirs(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dirs {
			if _, err := os.Stat(d); err == nil {
				s.cgroups = append(s.cgroups, d)
			}
		}
	}
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(info), "\n") {
		if strings.Contains(l, b.Dir) || strings.Contains(l, b.Root) || (len(id) > 8 && strings.Contains(l, id)) {
			s.mounts = append(s.mounts, l)
		}
	}
	s.procs = b.LeftoverProcesses()
	return s
}

// diff reports with errorf what after has that s had not.
func (s hostSnapshot) diff(after hostSnapshot, errorf func(string, ...any)) {
	for p, h := range after.root {
		if s.root[p] != h {
			errorf("--root: %s was left or changed by the failed command", p)
		}
	}
	for p := range s.root {
		if _, ok := after.root[p]; !ok {
			errorf("--root: %s was removed by the failed command", p)
		}
	}
	for _, d := range after.cgroups {
		if !slices.Contains(s.cgroups, d) {
			errorf("cgroup dir %s left behind", d)
		}
	}
	for _, m := range after.mounts {
		if !slices.Contains(s.mounts, m) {
			errorf("mount left behind: %s", m)
		}
	}
	for _, p := range after.procs {
		if !slices.Contains(s.procs, p) {
			errorf("process %d left behind", p)
		}
	}
}

// TestInvalidCatalogueSeesLeftovers: the catalogue's check finds each kind
// of leftover when there is one (a check that cannot fail checks nothing).
func TestInvalidCatalogueSeesLeftovers(t *testing.T) {
	b := bundle.New(t)
	before := snapshotHost(t, b, b.ID)
	if err := os.MkdirAll(filepath.Join(b.Root, b.ID), 0o711); err != nil {
		t.Fatal(err)
	}
	dirs, err := bundle.CgroupDirs(b.CgroupsPath)
	if err != nil || len(dirs) == 0 {
		t.Fatalf("cgroup dirs: %v %v", dirs, err)
	}
	if err := os.Mkdir(dirs[0], 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dirs[0]) })
	if err := unix.Mount(b.Rootfs, b.Rootfs, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(b.Rootfs, unix.MNT_DETACH) })
	sleep := exec.Command("/bin/busybox", "sh", "-c", "sleep 60; : "+b.ID)
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	var found []string
	before.diff(snapshotHost(t, b, b.ID), func(format string, args ...any) { found = append(found, fmt.Sprintf(format, args...)) })
	for _, want := range []string{"--root: " + b.ID, "cgroup dir", "mount left behind", "process"} {
		if !slices.ContainsFunc(found, func(f string) bool { return strings.HasPrefix(f, want) }) {
			t.Errorf("no %q leftover reported; reported: %q", want, found)
		}
	}
	// The bundle's cleanup must not trip on what this test made.
	os.RemoveAll(filepath.Join(b.Root, b.ID))
}
