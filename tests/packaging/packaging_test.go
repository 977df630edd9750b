// Package packaging tests what an operator installs: `make install` into a
// DESTDIR, and the Debian package from `make deb` through dpkg.
package packaging

import (
	"debug/elf"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "Makefile")); err != nil {
		t.Fatalf("no Makefile at %s: %v", root, err)
	}
	return root
}

// runMake runs a target of the repository's Makefile as a fresh shell
// would: without the jobserver of a `make test` that may be running us.
func runMake(t *testing.T, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	cmd := exec.Command("make", append([]string{"-C", repoRoot(t), "--no-print-directory"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MAKEFLAGS=") && !strings.HasPrefix(kv, "MFLAGS=") && !strings.HasPrefix(kv, "MAKELEVEL=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// versionLayout is runc's --version, line for line.
var versionLayout = regexp.MustCompile(`^ocirun version \S+\ncommit: \S+\nspec: \S+\ngo: go\S+\nlibseccomp: \d+\.\d+\.\d+\n$`)

// commands are the visible commands, as `ocirun --help` lists them.
func commands(t *testing.T, ocirun string) []string {
	t.Helper()
	var out []string
	in := false
	for _, l := range strings.Split(run(t, ocirun, "--help"), "\n") {
		switch {
		case l == "COMMANDS:":
			in = true
		case in && !strings.HasPrefix(l, "   "):
			in = false
		case in:
			name := strings.TrimSuffix(strings.Fields(l)[0], ",")
			if name != "help" {
				out = append(out, name)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no commands in %s --help", ocirun)
	}
	return out
}

// files lists the regular files and symlinks under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, "/"+rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// wantFiles is what an install puts under prefix, man pages with suffix.
func wantFiles(prefix, zshDir, manSuffix string, cmds []string) []string {
	out := []string{
		prefix + "/sbin/ocirun",
		prefix + "/share/bash-completion/completions/ocirun",
		prefix + "/share/fish/vendor_completions.d/ocirun.fish",
		zshDir + "/_ocirun",
		prefix + "/share/man/man8/ocirun.8" + manSuffix,
	}
	for _, c := range cmds {
		out = append(out, prefix+"/share/man/man8/ocirun-"+c+".8"+manSuffix)
	}
	slices.Sort(out)
	return out
}

// TestMakeInstall installs into a DESTDIR: the binary, a man page per
// command and the three completions in the paths their shells search; then
// `make uninstall` removes every file again.
func TestMakeInstall(t *testing.T) {
	tmp := t.TempDir()
	dest := filepath.Join(tmp, "dest")
	vars := []string{"DESTDIR=" + dest, "PREFIX=/usr/local", "BUILDDIR=" + filepath.Join(tmp, "build")}
	runMake(t, append([]string{"install"}, vars...)...)

	ocirun := filepath.Join(dest, "usr/local/sbin/ocirun")
	if v := run(t, ocirun, "--version"); !versionLayout.MatchString(v) {
		t.Errorf("installed ocirun --version:\n%s", v)
	}
	want := wantFiles("/usr/local", "/usr/local/share/zsh/site-functions", "", commands(t, ocirun))
	if got := files(t, dest); !slices.Equal(got, want) {
		t.Errorf("make install put\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	runMake(t, append([]string{"uninstall"}, vars...)...)
	if left := files(t, dest); len(left) > 0 {
		t.Errorf("make uninstall left %v", left)
	}
}

// TestDebPackage builds the .deb, installs it with dpkg -i, uses it as an
// operator would (--version, man, bash completion), removes and purges it,
// and checks that nothing it brought is left.
func TestDebPackage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("dpkg -i needs root")
	}
	for _, tool := range []string{"dpkg", "dpkg-deb", "dpkg-gencontrol", "man"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (dpkg-dev and man-db; .ci/run installs them)", tool)
		}
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", "ocirun").Output(); err == nil && string(out) != "not-installed" {
		t.Skipf("an ocirun package is already on this host (%s): the test would replace it", out)
	}
	build := filepath.Join(t.TempDir(), "build")
	runMake(t, "deb", "BUILDDIR="+build)
	debs, _ := filepath.Glob(filepath.Join(build, "*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb made %v, want one .deb", debs)
	}
	deb := debs[0]
	field := func(name string) string { return strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, name)) }
	if want := "ocirun_" + field("Version") + "_" + field("Architecture") + ".deb"; filepath.Base(deb) != want {
		t.Errorf("package file %s, want %s", filepath.Base(deb), want)
	}
	static := isStatic(t, filepath.Join(repoRoot(t), "ocirun"))
	if depends := field("Depends"); static && depends != "" || !static && !strings.Contains(depends, "libseccomp") {
		t.Errorf("Depends: %q for a static=%v binary", depends, static)
	}
	if static && !strings.Contains(field("Built-Using"), "libseccomp") {
		t.Errorf("Built-Using: %q, want the static libseccomp's source", field("Built-Using"))
	}

	var contents []string
	for _, l := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "-c", deb)), "\n") {
		f := strings.Fields(l)
		contents = append(contents, strings.TrimPrefix(strings.TrimSuffix(f[5], "/"), "."))
	}
	want := wantFiles("/usr", "/usr/share/zsh/vendor-completions", ".gz", commands(t, filepath.Join(repoRoot(t), "ocirun")))
	want = append(want, "/usr/share/doc/ocirun/copyright", "/usr/share/doc/ocirun/changelog.gz",
		"/usr/share/doc/ocirun/examples/containerd-config.toml",
		"/usr/share/doc/ocirun/examples/containerd-runtime-handler.toml",
		"/usr/share/doc/ocirun/examples/kubernetes-runtimeclass.yaml",
		"/usr/share/doc/ocirun/examples/containers.conf")
	for _, w := range want {
		if !slices.Contains(contents, w) {
			t.Errorf("the package lacks %s", w)
		}
	}
	// What the package brings; shared directories like /usr/share/man
	// were there before and stay.
	var brought []string
	for _, p := range contents {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) && p != "" {
			brought = append(brought, p)
		}
	}
	if len(brought) == 0 {
		t.Fatal("every path of the package is already on the host")
	}

	t.Cleanup(func() { _ = exec.Command("dpkg", "--purge", "ocirun").Run() })
	run(t, "dpkg", "-i", deb)
	if v := run(t, "/usr/sbin/ocirun", "--version"); !versionLayout.MatchString(v) {
		t.Errorf("installed ocirun --version:\n%s", v)
	}
	if page := strings.TrimSpace(run(t, "man", "-w", "ocirun-run")); page != "/usr/share/man/man8/ocirun-run.8.gz" {
		t.Errorf("man -w ocirun-run: %s", page)
	}
	if _, err := os.Stat("/usr/share/bash-completion/bash_completion"); err == nil {
		// bash-completion loads a command's completion from its directory on
		// first use.
		out := run(t, "bash", "-c", "source /usr/share/bash-completion/bash_completion && _completion_loader ocirun; complete -p ocirun")
		if !strings.HasPrefix(out, "complete -F _ocirun ocirun") {
			t.Errorf("bash-completion does not find the installed completion: %s", out)
		}
	}

	run(t, "dpkg", "-r", "ocirun")
	run(t, "dpkg", "--purge", "ocirun")
	if out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", "ocirun").Output(); err == nil && string(out) != "not-installed" {
		t.Errorf("after dpkg --purge the package is %q", out)
	}
	for _, p := range brought {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("dpkg -r and --purge left %s", p)
		}
	}
}

func isStatic(t *testing.T, path string) bool {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}
