package seccomp

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

func cacheProfile(errno uint16) *configs.Seccomp {
	return &configs.Seccomp{
		DefaultAction: configs.ActAllow,
		Architectures: []string{"SCMP_ARCH_X86"},
		Syscalls: []configs.Syscall{
			{Name: "mkdirat", Action: configs.ActErrno, Errno: errno},
			{Name: "getcwd", Action: configs.ActErrno, Errno: uint16(unix.EXDEV)},
		},
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestCacheHitIsCompile: a hit returns exactly what compiling returns, and
// another profile is another entry.
func TestCacheHitIsCompile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	k := Cache{Dir: dir}
	c := cacheProfile(uint16(unix.EPERM))
	prog, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	want := EncodeBPF(prog)
	for i, wantHit := range []bool{false, true, true} {
		got, hit, err := k.Compile(c)
		if err != nil {
			t.Fatal(err)
		}
		if hit != wantHit || !bytes.Equal(got, want) {
			t.Fatalf("call %d: hit %v (want %v), program equal %v", i, hit, wantHit, bytes.Equal(got, want))
		}
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir: %v, mode %v; want 0700", err, st.Mode())
	}
	es := entries(t, dir)
	if len(es) != 1 {
		t.Fatalf("entries %v, want one", es)
	}
	if st, _ := os.Stat(es[0]); st.Mode().Perm() != 0o600 {
		t.Errorf("entry mode %v, want 0600", st.Mode())
	}
	other := cacheProfile(uint16(unix.EACCES))
	if _, hit, err := k.Compile(other); err != nil || hit {
		t.Fatalf("another profile: hit %v, %v; want a miss", hit, err)
	}
	if es := entries(t, dir); len(es) != 2 {
		t.Fatalf("entries %v, want two", es)
	}
}

// TestCacheDistrust: whatever is not plainly ours and intact is compiled
// afresh, and the fresh entry replaces it.
func TestCacheDistrust(t *testing.T) {
	c := cacheProfile(uint16(unix.EPERM))
	key, err := cacheKey(c)
	if err != nil {
		t.Fatal(err)
	}
	prog, _ := Compile(c)
	want := EncodeBPF(prog)
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, dir, entry string)
	}{
		{"truncated", func(t *testing.T, dir, entry string) {
			if err := os.Truncate(entry, int64(len(cacheMagic)+len(key)+1+5)); err != nil {
				t.Fatal(err)
			}
		}},
		{"header of another key", func(t *testing.T, dir, entry string) {
			data, _ := os.ReadFile(entry)
			data = bytes.Replace(data, []byte(key), []byte(strings.Repeat("0", len(key))), 1)
			if err := os.WriteFile(entry, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"not ours", func(t *testing.T, dir, entry string) {
			if err := os.Chown(entry, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}},
		{"writable by others", func(t *testing.T, dir, entry string) {
			if err := os.Chmod(entry, 0o666); err != nil {
				t.Fatal(err)
			}
		}},
		{"symlink", func(t *testing.T, dir, entry string) {
			real := filepath.Join(t.TempDir(), "real")
			data, _ := os.ReadFile(entry)
			if err := os.WriteFile(real, data, 0o600); err != nil {
				t.Fatal(err)
			}
			os.Remove(entry)
			if err := os.Symlink(real, entry); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if os.Geteuid() != 0 && tc.name == "not ours" {
				t.Skip("chown needs root")
			}
			dir := filepath.Join(t.TempDir(), "cache")
			k := Cache{Dir: dir}
			if _, _, err := k.Compile(c); err != nil {
				t.Fatal(err)
			}
			entry := filepath.Join(dir, key)
			tc.spoil(t, dir, entry)
			var reasons []string
			k.Debug = func(msg string, args ...any) { reasons = append(reasons, fmt.Sprint(msg, args)) }
			got, hit, err := k.Compile(c)
			if err != nil || hit || !bytes.Equal(got, want) {
				t.Fatalf("hit %v, err %v, program equal %v; want a fresh compile", hit, err, bytes.Equal(got, want))
			}
			if len(reasons) == 0 {
				t.Errorf("no debug line says why the entry was not used")
			}
			if _, hit, _ := k.Compile(c); !hit {
				t.Errorf("the fresh entry did not replace the spoiled one")
			}
		})
	}
}

// TestCacheDirNotOurs: a directory others can write to is not used at all.
func TestCacheDirNotOurs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	k := Cache{Dir: dir}
	for i := 0; i < 2; i++ {
		if _, hit, err := k.Compile(cacheProfile(uint16(unix.EPERM))); err != nil || hit {
			t.Fatalf("hit %v, %v", hit, err)
		}
	}
	if es := entries(t, dir); len(es) != 0 {
		t.Errorf("entries %v written to a directory others can write to", es)
	}
}

// TestCacheEviction: the directory keeps at most cacheMax entries, the
// oldest going first.
func TestCacheEviction(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < cacheMax+5; i++ {
		name := filepath.Join(dir, fmt.Sprintf("%064x", i))
		if err := os.WriteFile(name, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(name, time.Unix(int64(i+1), 0), time.Unix(int64(i+1), 0)); err != nil {
			t.Fatal(err)
		}
	}
	k := Cache{Dir: dir}
	if _, _, err := k.Compile(cacheProfile(uint16(unix.EPERM))); err != nil {
		t.Fatal(err)
	}
	es := entries(t, dir)
	if len(es) != cacheMax {
		t.Fatalf("%d entries, want %d", len(es), cacheMax)
	}
	if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("%064x", 0))); err == nil {
		t.Errorf("the oldest entry was kept")
	}
	key, _ := cacheKey(cacheProfile(uint16(unix.EPERM)))
	if _, err := os.Stat(filepath.Join(dir, key)); err != nil {
		t.Errorf("the new entry was evicted: %v", err)
	}
}

func FuzzCacheEntry(f *testing.F) {
	key := strings.Repeat("ab", 32)
	f.Add([]byte(cacheMagic + key + "\n" + "\x06\x00\x00\x00\x00\x00\xff\x7f"))
	f.Add([]byte(cacheMagic + key + "\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		bpf, err := parseEntry(data, key)
		if err != nil {
			return
		}
		if len(bpf) == 0 || len(bpf)%8 != 0 || len(bpf)/8 > unix.BPF_MAXINSNS {
			t.Fatalf("accepted a program of %d bytes", len(bpf))
		}
		if !bytes.HasSuffix(data, bpf) {
			t.Fatalf("the program is not the entry's tail")
		}
	})
}
