package specconv

import (
	"encoding/json"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func FuzzToConfig(f *testing.F) {
	example, err := json.Marshal(Example())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"ociVersion":"1.0.0","root":{"path":"rootfs"},"process":{"args":["a"],"cwd":"/"},"linux":{"namespaces":[{"type":"mount"},{"type":"user"}],"uidMappings":[{"size":1}],"gidMappings":[{"size":1}],"devices":[{"path":"/dev/x","type":"u"}],"resources":{"devices":[{"allow":true,"access":"r"}]},"sysctl":{"net/a.b":"1"}},"mounts":[{"destination":"/x","options":["rbind","rro","ratime"]}]}`))
	bundle := newBundle(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var spec specs.Spec
		if err := json.Unmarshal(data, &spec); err != nil {
			return
		}
		c, err := ToConfig(&spec, Options{ID: "fuzz", Bundle: bundle})
		if err == nil && !strings.HasPrefix(c.Rootfs, "/") {
			t.Errorf("rootfs %q not absolute", c.Rootfs)
		}
	})
}

func FuzzParseMountOptions(f *testing.F) {
	f.Add("rbind,ro,rprivate,mode=755,rnoatime,tmpcopyup")
	f.Add("idmap")
	f.Fuzz(func(t *testing.T, s string) {
		opts := strings.Split(s, ",")
		m, err := ParseMountOptions(opts)
		if err != nil {
			return
		}
		if m.Flags&m.ClearedFlags != 0 {
			t.Errorf("%q: flags %#x both set and cleared %#x", s, m.Flags, m.ClearedFlags)
		}
		// Atime modes are the one overlap mount_setattr(2) requires.
		if m.RecAttrSet&m.RecAttrClr&^unix.MOUNT_ATTR__ATIME != 0 {
			t.Errorf("%q: attrs %#x both set and cleared %#x", s, m.RecAttrSet, m.RecAttrClr)
		}
	})
}

func FuzzValidateID(f *testing.F) {
	for _, s := range []string{"a", "..", "a/b", "abc-1.2_3+4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if ValidateID(id) != nil {
			return
		}
		if id == "." || id == ".." || strings.ContainsAny(id, "/\x00") || len(id) > 1024 || id == "" {
			t.Errorf("ValidateID accepted %q", id)
		}
	})
}

// FuzzLoadValidate is config.json's bytes through what create does with
// them: parse, then one validation pass. Parse errors name the file; every
// problem has a path or a text and a severity; ToConfig fails exactly when
// Validate has an error, with its first one; an accepted config has an
// absolute rootfs, cwd and mount destinations.
func FuzzLoadValidate(f *testing.F) {
	example, err := json.Marshal(Example())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(`{"ociVersion":"1.0.0","root":{"path":"rootfs"},"process":{"args":["a"],"cwd":"/"},"linux":{"namespaces":[{"type":"mount"}]}}`))
	f.Add([]byte(`{"ociVersion":"1.0.0","process":{"args":"a","user":{"uid":-1}}}`))
	f.Add([]byte(`{"ociVersion":"1.0.0","root":{"path":"rootfs"},"process":{"args":["a"],"cwd":"/"},"linux":{"namespaces":[{"type":"mount"},{"type":"mount"}],"sysctl":{"vm.x":"1"}},"mounts":[{"destination":"/"}],"hooks":{"poststop":[{"path":"x","timeout":0}]}}`))
	f.Add([]byte(`[`))
	bundle := newBundle(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := ParseSpec("config.json", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config.json: ") {
				t.Fatalf("parse error does not name the file: %v", err)
			}
			return
		}
		opts := Options{ID: "fuzz", Bundle: bundle}
		c, ps := Validate(spec, opts)
		for _, p := range ps {
			if p.Error() == "" || (p.Severity != "error" && p.Severity != "warning") {
				t.Fatalf("problem without a text or severity: %#v", p)
			}
		}
		c2, err := ToConfig(spec, opts)
		first := ps.Err()
		switch {
		case (err == nil) != (first == nil):
			t.Fatalf("ToConfig: %v; Validate's first error: %v", err, first)
		case err != nil && err.Error() != first.Error():
			t.Fatalf("ToConfig: %v; Validate's first error: %v", err, first)
		case err != nil:
			return
		}
		if !strings.HasPrefix(c.Rootfs, "/") || !strings.HasPrefix(c.Process.Cwd, "/") || c2.Rootfs != c.Rootfs {
			t.Fatalf("accepted config with rootfs %q, cwd %q", c.Rootfs, c.Process.Cwd)
		}
		for _, m := range c.Mounts {
			if !strings.HasPrefix(m.Destination, "/") || m.Destination == "/" {
				t.Fatalf("accepted mount destination %q", m.Destination)
			}
		}
	})
}
