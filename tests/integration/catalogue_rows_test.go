package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocirun/ocirun/tests/internal/bundle"
)

// rawEdit is config.json as a generic JSON tree, changed by f: for values
// of the wrong JSON type, which the spec's Go types cannot hold.
func rawEdit(f func(m map[string]any)) func(b *bundle.Bundle) []byte {
	return func(b *bundle.Bundle) []byte {
		data, err := json.Marshal(b.Spec)
		if err != nil {
			panic(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			panic(err)
		}
		f(m)
		out, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		return out
	}
}

func obj(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }

// rawText is config.json replaced by text made from the bundle's valid one.
func rawText(f func(valid string) string) func(b *bundle.Bundle) []byte {
	return func(b *bundle.Bundle) []byte {
		data, err := json.Marshal(b.Spec)
		if err != nil {
			panic(err)
		}
		return []byte(f(string(data)))
	}
}

func addMount(m specs.Mount) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Mounts = append(s.Mounts, m) }
}

func addNS(ns specs.LinuxNamespace) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Linux.Namespaces = append(s.Linux.Namespaces, ns) }
}

func setNSPath(typ specs.LinuxNamespaceType, path string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == typ {
				s.Linux.Namespaces[i].Path = path
			}
		}
	}
}

func dropNS(typ specs.LinuxNamespaceType) func(*specs.Spec) {
	return func(s *specs.Spec) {
		var out []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != typ {
				out = append(out, ns)
			}
		}
		s.Linux.Namespaces = out
	}
}

func withSeccomp(sc specs.LinuxSeccomp) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Linux.Seccomp = &sc }
}

func withHooks(h specs.Hooks) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Hooks = &h }
}

func withTerminal(s *specs.Spec) { s.Process.Terminal = true }

// flags returns a setup that only adds create flags, made from the bundle.
func flags(f func(t *testing.T, b *bundle.Bundle) []string) func(*testing.T, *bundle.Bundle) []string {
	return f
}

// script writes an executable shell script into the bundle's directory.
func script(t *testing.T, b *bundle.Bundle, name, body string) string {
	t.Helper()
	p := filepath.Join(b.Dir, "..", filepath.Base(b.Dir)+"-"+name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// corruptState makes --root/ID hold a state.json with content, as a
// crashed or interrupted ocirun could leave it.
func corruptState(id, content string) func(t *testing.T, b *bundle.Bundle) []string {
	return func(t *testing.T, b *bundle.Bundle) []string {
		dir := filepath.Join(b.Root, id)
		if err := os.MkdirAll(dir, 0o711); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		return nil
	}
}

// createdContainer creates the bundle's container, for rows that give a
// bad command line to an existing one.
func createdContainer(t *testing.T, b *bundle.Bundle) []string {
	b.Create(t)
	return nil
}

func long(n int) string { return strings.Repeat("a", n) }

// invalidRows is the catalogue of TestInvalidCatalogue.
func invalidRows() []badRow {
	rows := []badRow{
		// config.json that is not JSON, or not the spec's JSON types.
		{name: "json-garbage", raw: func(*bundle.Bundle) []byte { return []byte("{ this is not json") }, want: []string{"config.json", "invalid JSON at offset"}},
		{name: "json-empty-file", raw: func(*bundle.Bundle) []byte { return nil }, want: []string{"config.json", "unexpected end of JSON input"}},
		{name: "json-truncated", raw: rawText(func(v string) string { return v[:len(v)/2] }), want: []string{"config.json", "unexpected end of JSON input"}},
		{name: "json-array", raw: func(*bundle.Bundle) []byte { return []byte(`[1, 2]`) }, want: []string{"config.json", "cannot use JSON array"}},
		{name: "json-trailing-garbage", raw: rawText(func(v string) string { return v + "}" }), want: []string{"config.json", "invalid JSON at offset"}},
		{name: "json-args-string", raw: rawEdit(func(m map[string]any) { obj(m, "process")["args"] = "/bin/probe report" }), want: []string{`"process.args"`, "JSON string"}},
		{name: "json-uid-negative", raw: rawEdit(func(m map[string]any) { obj(obj(m, "process"), "user")["uid"] = -1 }), want: []string{`"process.user.uid"`, "JSON number -1"}},
		{name: "json-uid-huge", raw: rawEdit(func(m map[string]any) { obj(obj(m, "process"), "user")["uid"] = 1 << 40 }), want: []string{`"process.user.uid"`, "JSON number 1099511627776"}},
		{name: "json-namespaces-object", raw: rawEdit(func(m map[string]any) { obj(m, "linux")["namespaces"] = map[string]any{"type": "pid"} }), want: []string{`"linux.namespaces"`, "JSON object"}},
		{name: "json-hostname-number", raw: rawEdit(func(m map[string]any) { m["hostname"] = 42 }), want: []string{`"hostname"`, "JSON number as string"}},
		{name: "json-mount-options-string", raw: rawEdit(func(m map[string]any) { m["mounts"].([]any)[0].(map[string]any)["options"] = "ro,nosuid" }), want: []string{`"mounts.options"`, "JSON string"}},
		{name: "json-terminal-string", raw: rawEdit(func(m map[string]any) { obj(m, "process")["terminal"] = "yes" }), want: []string{`"process.terminal"`, "JSON string"}},
		{name: "json-1mib-syntax-error-at-end", raw: rawText(func(v string) string {
			return v[:len(v)-1] + `, "annotations": {"x": "` + long(1<<20) + `"}, }`
		}), want: []string{"config.json", "invalid JSON at offset 10"}},
		{name: "json-1mib-config-bad-cwd", edit: func(s *specs.Spec) {
			s.Annotations = map[string]string{"big": long(1 << 20)}
			s.Process.Cwd = "relative"
		}, want: []string{"process.cwd", `"relative"`}},
		{name: "bundle-without-config", setup: func(t *testing.T, b *bundle.Bundle) []string {
			if err := os.Remove(filepath.Join(b.Dir, "config.json")); err != nil {
				t.Fatal(err)
			}
			return nil
		}, want: []string{"config.json", "no such file or directory"}},
		{name: "bundle-missing", setup: flags(func(t *testing.T, b *bundle.Bundle) []string {
			return []string{"--bundle", filepath.Join(b.Dir, "nope")}
		}), want: []string{"nope/config.json", "no such file or directory"}},

		// Required fields.
		{name: "ociVersion-missing", edit: func(s *specs.Spec) { s.Version = "" }, want: []string{"ociVersion", `got ""`}},
		{name: "ociVersion-2", edit: func(s *specs.Spec) { s.Version = "2.0.0" }, want: []string{"ociVersion", `"2.0.0"`}},
		{name: "ociVersion-not-semver", edit: func(s *specs.Spec) { s.Version = "1.0" }, want: []string{"ociVersion", `"1.0"`}},
		{name: "root-missing", edit: func(s *specs.Spec) { s.Root = nil }, want: []string{"root: required"}},
		{name: "root-path-empty", edit: func(s *specs.Spec) { s.Root.Path = "" }, want: []string{"root.path: required"}},
		{name: "process-missing", edit: func(s *specs.Spec) { s.Process = nil }, want: []string{"process: required"}},
		{name: "args-empty", edit: func(s *specs.Spec) { s.Process.Args = nil }, want: []string{"process.args: must not be empty"}},
		{name: "cwd-empty", edit: func(s *specs.Spec) { s.Process.Cwd = "" }, want: []string{"process.cwd", `got ""`}},
		{name: "linux-missing", edit: func(s *specs.Spec) { s.Linux = nil }, want: []string{"linux: required"}},
		{name: "mount-namespace-missing", edit: dropNS(specs.MountNamespace), want: []string{"linux.namespaces", "mount namespace is required"}},

		// Paths and the rootfs.
		{name: "cwd-relative", edit: func(s *specs.Spec) { s.Process.Cwd = "tmp" }, want: []string{"process.cwd", `"tmp"`}},
		{name: "rootfs-missing", edit: func(s *specs.Spec) { s.Root.Path = "no-such-rootfs" }, want: []string{"root.path", "no-such-rootfs"}},
		{name: "rootfs-a-file", edit: func(s *specs.Spec) { s.Root.Path = "config.json" }, want: []string{"root.path", "config.json is not a directory"}},
		{name: "rootfs-dangling-symlink", setup: func(t *testing.T, b *bundle.Bundle) []string {
			if err := os.Symlink("nowhere", filepath.Join(b.Dir, "dangling")); err != nil {
				t.Fatal(err)
			}
			b.Edit(t, func(s *specs.Spec) { s.Root.Path = "dangling" })
			return nil
		}, want: []string{"root.path", "dangling"}},
		{name: "rootfs-path-64kib", edit: func(s *specs.Spec) { s.Root.Path = long(64 << 10) }, want: []string{"root.path", "longer than PATH_MAX", "(65536 bytes)"}},

		// Namespaces.
		{name: "namespace-unknown", edit: addNS(specs.LinuxNamespace{Type: "bogus"}), want: []string{"linux.namespaces[5].type", `"bogus"`}},
		{name: "namespace-duplicate", edit: addNS(specs.LinuxNamespace{Type: specs.NetworkNamespace}), want: []string{"linux.namespaces[5]", `"network"`}},
		{name: "namespace-path-relative", edit: setNSPath(specs.NetworkNamespace, "proc/1/ns/net"), want: []string{"linux.namespaces[1].path", `"proc/1/ns/net"`}},
		{name: "namespace-path-missing", edit: setNSPath(specs.NetworkNamespace, "/run/netns/ocirun-no-such-ns"), want: []string{"linux.namespaces[1].path", "/run/netns/ocirun-no-such-ns", "no such file"}},
		{name: "namespace-path-not-a-namespace", edit: setNSPath(specs.NetworkNamespace, "/proc/self/status"), want: []string{"linux.namespaces[1].path", `"/proc/self/status" is not a namespace file`}},
		{name: "namespace-path-wrong-type", edit: setNSPath(specs.NetworkNamespace, "/proc/self/ns/uts"), want: []string{"linux.namespaces[1].path", `"/proc/self/ns/uts" is a uts namespace, not network`}},
		{name: "namespace-path-a-directory", edit: setNSPath(specs.IPCNamespace, "/proc/self/ns"), want: []string{"linux.namespaces[2].path", `"/proc/self/ns" is not a namespace file`}},
		{name: "uidmappings-without-userns", edit: func(s *specs.Spec) { s.Linux.UIDMappings = []specs.LinuxIDMapping{{Size: 1}} }, want: []string{"linux.uidMappings", "no user namespace"}},
		{name: "userns-without-mappings", edit: addNS(specs.LinuxNamespace{Type: specs.UserNamespace}), want: []string{"linux.uidMappings", "no uid/gid mappings"}},
		{name: "idmap-size-zero", edit: func(s *specs.Spec) {
			addNS(specs.LinuxNamespace{Type: specs.UserNamespace})(s)
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 100000, Size: 0}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{HostID: 100000, Size: 65536}}
		}, want: []string{"linux.uidMappings[0].size", "must be > 0"}},
		{name: "time-offsets-without-timens", edit: func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}}
		}, want: []string{"linux.timeOffsets", "time namespace"}},
		{name: "time-offsets-bad-clock", edit: func(s *specs.Spec) {
			addNS(specs.LinuxNamespace{Type: specs.TimeNamespace})(s)
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"realtime": {Secs: 1}}
		}, want: []string{"linux.timeOffsets", `"realtime"`}},
		{name: "hostname-without-uts", edit: dropNS(specs.UTSNamespace), want: []string{"hostname", `"ocirun-test"`, "uts namespace"}},

		// Capabilities.
		// An unknown name is a warning (runtime-spec 1.3: logged, ignored).
		{name: "cap-nul-byte", edit: func(s *specs.Spec) { s.Process.Capabilities.Effective = []string{"CAP_KILL\x00"} }, want: []string{"process.capabilities.effective[0]", "NUL"}},

		// Mounts.
		{name: "mount-destination-relative", edit: addMount(specs.Mount{Destination: "data", Type: "tmpfs", Source: "tmpfs"}), want: []string{"mounts[7].destination", `"data"`}},
		{name: "mount-destination-root", edit: addMount(specs.Mount{Destination: "/", Type: "tmpfs", Source: "tmpfs"}), want: []string{"mounts[7].destination", `"/" is on the top of rootfs`}},
		{name: "mount-destination-64kib", edit: addMount(specs.Mount{Destination: "/" + long(64<<10), Type: "tmpfs", Source: "tmpfs"}), want: []string{"mounts[7].destination", "longer than PATH_MAX", "(65537 bytes)"}},
		{name: "mount-type-missing", edit: addMount(specs.Mount{Destination: "/data", Source: "tmpfs"}), want: []string{"mounts[7].type", "required"}},
		{name: "mount-type-unknown", edit: addMount(specs.Mount{Destination: "/data", Type: "nosuchfs", Source: "x"}), want: []string{"mounts[7].type", `"nosuchfs"`}},
		{name: "mount-option-bad-value", edit: addMount(specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=lots"}}), want: []string{"mounts[7].options", `"size=lots"`, "Bad value for 'size'"}},
		{name: "mount-option-unknown", edit: addMount(specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuch"}}), want: []string{"mounts[7].options", `"nosuch"`}},
		{name: "mount-option-proc-bad", edit: func(s *specs.Spec) { s.Mounts[0].Options = []string{"hidepid=sometimes"} }, want: []string{"mounts[0].options", `"hidepid=sometimes"`}},
		{name: "mount-idmap-without-userns", edit: addMount(specs.Mount{Destination: "/data", Type: "bind", Source: "/tmp", Options: []string{"rbind", "idmap"}}), want: []string{"mounts[7].options", "idmap without uidMappings", "no user namespace"}},
		{name: "mount-idmap-not-bind", edit: addMount(specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"},
			UIDMappings: []specs.LinuxIDMapping{{Size: 1}}, GIDMappings: []specs.LinuxIDMapping{{Size: 1}}}), want: []string{"mounts[7].options", "must be a bind mount", `"tmpfs"`}},
		{name: "mount-option-nul", edit: addMount(specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=755\x00x"}}), want: []string{"mounts[7].options[0]", "NUL"}},
		{name: "mount-uidmappings", edit: addMount(specs.Mount{Destination: "/data", Type: "bind", Source: "/tmp", Options: []string{"rbind"}, UIDMappings: []specs.LinuxIDMapping{{Size: 1}}}), want: []string{"mounts[7].gidMappings", "required with uidMappings"}},
		{name: "bind-without-source", edit: addMount(specs.Mount{Destination: "/data", Type: "bind", Options: []string{"rbind"}}), want: []string{"mounts[7].source", "required for a bind mount"}},
		{name: "bind-source-missing", edit: addMount(specs.Mount{Destination: "/data", Type: "bind", Source: "/ocirun-no-such-dir", Options: []string{"rbind"}}), want: []string{"mounts[7].source", "/ocirun-no-such-dir", "no such file"}},
		{name: "10k-mounts-all-bad", edit: func(s *specs.Spec) {
			for i := range 10000 {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: fmt.Sprintf("m%d", i), Type: "tmpfs", Source: "tmpfs"})
			}
		}, want: []string{"mounts[7].destination", `"m0"`}},
		{name: "10k-mounts-last-bad", edit: func(s *specs.Spec) {
			for i := range 10000 {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: fmt.Sprintf("/m/%d", i), Type: "tmpfs", Source: "tmpfs"})
			}
			s.Mounts[len(s.Mounts)-1].Destination = "last"
		}, want: []string{"mounts[10006].destination", `"last"`}},

		// Devices.
		{name: "device-type-unknown", edit: func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "x"}} }, want: []string{"linux.devices[0].type", `"x"`}},
		{name: "device-path-relative", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "dev/x", Type: "c", Major: 1, Minor: 3}}
		}, want: []string{"linux.devices[0].path", `"dev/x"`}},
		{name: "device-duplicate", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "c", Major: 1, Minor: 3}, {Path: "/dev/x", Type: "c", Major: 1, Minor: 5}}
		}, want: []string{"linux.devices[1].path", `"/dev/x"`}},
		{name: "device-negative-major", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "c", Major: -1, Minor: 3}}
		}, want: []string{"linux.devices[0]", "-1:3"}},
		{name: "device-rule-type", edit: func(s *specs.Spec) { s.Linux.Resources.Devices[0].Type = "p" }, want: []string{"linux.resources.devices[0].type", `"p"`}},
		{name: "device-rule-access", edit: func(s *specs.Spec) { s.Linux.Resources.Devices[0].Access = "rwx" }, want: []string{"linux.resources.devices[0].access", `"rwx"`}},
		{name: "device-rule-access-empty", edit: func(s *specs.Spec) { s.Linux.Resources.Devices[0].Access = "" }, want: []string{"linux.resources.devices[0].access", "must not be empty"}},

		// Sysctls.
		{name: "sysctl-not-namespaced", edit: func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"} }, want: []string{"linux.sysctl", `"vm.swappiness"`}},
		{name: "sysctl-net-without-netns", edit: func(s *specs.Spec) {
			dropNS(specs.NetworkNamespace)(s)
			s.Linux.Sysctl = map[string]string{"net.core.somaxconn": "1"}
		}, want: []string{"linux.sysctl", `"net.core.somaxconn"`, "network namespace"}},
		{name: "sysctl-ipc-without-ipcns", edit: func(s *specs.Spec) {
			dropNS(specs.IPCNamespace)(s)
			s.Linux.Sysctl = map[string]string{"kernel.shmmax": "1"}
		}, want: []string{"linux.sysctl", `"kernel.shmmax"`, "ipc namespace"}},
		{name: "sysctl-hostname-conflict", edit: func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.hostname": "x"} }, want: []string{"linux.sysctl", `"kernel.hostname"`, `"ocirun-test"`}},
		{name: "sysctl-value-nul", edit: func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1\x00"} }, want: []string{`linux.sysctl["net.ipv4.ip_forward"]`, "NUL"}},

		// Rlimits.
		{name: "rlimit-unknown", edit: func(s *specs.Spec) { s.Process.Rlimits[0].Type = "RLIMIT_BOGUS" }, want: []string{"process.rlimits[0].type", `"RLIMIT_BOGUS"`}},
		{name: "rlimit-soft-above-hard", edit: func(s *specs.Spec) { s.Process.Rlimits[0].Soft = 4096 }, want: []string{"process.rlimits[0]", "soft limit 4096 exceeds hard limit 1024"}},
		{name: "rlimit-duplicate", edit: func(s *specs.Spec) { s.Process.Rlimits = append(s.Process.Rlimits, s.Process.Rlimits[0]) }, want: []string{"process.rlimits[1].type", `"RLIMIT_NOFILE"`}},

		// Hooks.
		{name: "hook-path-relative", edit: withHooks(specs.Hooks{CreateRuntime: []specs.Hook{{Path: "hook.sh"}}}), want: []string{"hooks.createRuntime[0].path", `"hook.sh"`}},
		{name: "hook-path-missing", edit: withHooks(specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/ocirun-no-such-hook"}}}), want: []string{"hooks.createRuntime[0].path", "/ocirun-no-such-hook", "no such file"}},
		{name: "hook-prestart-path-missing", edit: withHooks(specs.Hooks{Prestart: []specs.Hook{{Path: "/ocirun-no-such-hook"}}}), want: []string{"hooks.prestart[0].path", "/ocirun-no-such-hook"}}, //nolint:staticcheck // the deprecated list is still run
		{name: "hook-not-executable", setup: func(t *testing.T, b *bundle.Bundle) []string {
			b.Edit(t, withHooks(specs.Hooks{CreateContainer: []specs.Hook{{Path: filepath.Join(b.Dir, "config.json")}}}))
			return nil
		}, want: []string{"hooks.createContainer[0].path", `config.json" is not executable`}},
		{name: "hook-a-directory", edit: withHooks(specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/etc"}}}), want: []string{"hooks.createRuntime[0].path", `"/etc" is not a regular file`}},
		{name: "hook-timeout-zero", edit: withHooks(specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true", Timeout: new(int)}}}), want: []string{"hooks.poststop[0].timeout", "got 0"}},
		{name: "hook-fails", setup: func(t *testing.T, b *bundle.Bundle) []string {
			p := script(t, b, "fail-hook", "exit 3")
			b.Edit(t, withHooks(specs.Hooks{CreateRuntime: []specs.Hook{{Path: p}}}))
			return nil
		}, want: []string{"hooks.createRuntime[0]", "exit status 3"}, late: true},

		// Huge values.
		{name: "hostname-64kib", edit: func(s *specs.Spec) { s.Hostname = long(64 << 10) }, want: []string{"hostname", "longer than 64 bytes (65536)"}},
		{name: "domainname-too-long", edit: func(s *specs.Spec) { s.Domainname = long(65) }, want: []string{"domainname", "longer than 64 bytes (65)"}},
		{name: "env-64kib-without-equals", edit: func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, long(64<<10)) }, want: []string{"process.env[2]", "KEY=value", "(65536 bytes)"}},
		{name: "arg-256kib", edit: func(s *specs.Spec) { s.Process.Args = append(s.Process.Args, long(256<<10)) }, want: []string{"process.args[2]", "longer than the kernel's limit", "(262144 bytes)"}},
		{name: "cwd-64kib", edit: func(s *specs.Spec) { s.Process.Cwd = "/" + long(64<<10) }, want: []string{"process.cwd", "longer than PATH_MAX"}},

		// Container ids.
		{name: "id-traversal", id: "../x", want: []string{"container id", `"../x"`}},
		{name: "id-slash", id: "a/b", want: []string{"container id", `"a/b"`}},
		{name: "id-dot", id: ".", want: []string{"container id", `"."`}},
		{name: "id-dotdot", id: "..", want: []string{"container id", `".."`}},
		{name: "id-empty", idSet: true, want: []string{"container id", "must not be empty"}},
		{name: "id-too-long", id: long(1025), want: []string{"container id", "longer than 1024 bytes (1025)"}},
		{name: "id-unicode", id: "contaîner", want: []string{"container id", `"contaîner"`}},
		{name: "id-space", id: "a b", want: []string{"container id", `"a b"`}},
		{name: "id-leading-underscore", id: "_x", want: []string{"container id", `"_x"`}},

		// Console socket and terminal.
		{name: "console-socket-missing", edit: withTerminal, setup: flags(func(t *testing.T, b *bundle.Bundle) []string {
			return []string{"--console-socket", filepath.Join(b.Dir, "no.sock")}
		}), want: []string{"--console-socket", "no.sock", "no such file"}},
		{name: "console-socket-regular-file", edit: withTerminal, setup: flags(func(t *testing.T, b *bundle.Bundle) []string {
			return []string{"--console-socket", filepath.Join(b.Dir, "config.json")}
		}), want: []string{"--console-socket", "config.json", "is not a socket"}},
		{name: "console-socket-path-too-long", edit: withTerminal, setup: flags(func(t *testing.T, b *bundle.Bundle) []string {
			return []string{"--console-socket", "/" + long(200)}
		}), want: []string{"--console-socket", "longer than a unix socket path"}},
		{name: "console-socket-without-terminal", setup: flags(func(t *testing.T, b *bundle.Bundle) []string {
			return []string{"--console-socket", filepath.Join(b.Dir, "no.sock")}
		}), want: []string{"cannot use console socket"}},
		{name: "terminal-without-console-socket", edit: withTerminal, want: []string{"cannot allocate tty"}},
		{name: "console-socket-nobody-listens", edit: withTerminal, setup: func(t *testing.T, b *bundle.Bundle) []string {
			p := filepath.Join(b.Dir, "dead.sock")
			l, err := net.Listen("unix", p)
			if err != nil {
				t.Fatal(err)
			}
			l.(*net.UnixListener).SetUnlinkOnClose(false)
			l.Close()
			return []string{"--console-socket", p}
		}, want: []string{"dead.sock", "connection refused"}, late: true},

		{name: "pidfd-socket-missing", setup: flags(func(t *testing.T, b *bundle.Bundle) []string {
			return []string{"--pidfd-socket", filepath.Join(b.Dir, "no-pidfd.sock")}
		}), want: []string{"--pidfd-socket", "no-pidfd.sock", "no such file"}},
		{name: "pidfd-socket-a-directory", setup: flags(func(t *testing.T, b *bundle.Bundle) []string {
			return []string{"--pidfd-socket", b.Rootfs}
		}), want: []string{"--pidfd-socket", "is not a socket"}},

		// --pid-file and --preserve-fds.
		{name: "pid-file-missing-dir", setup: flags(func(t *testing.T, b *bundle.Bundle) []string {
			return []string{"--pid-file", filepath.Join(b.Dir, "no-dir", "pid")}
		}), want: []string{"--pid-file", "no-dir", "does not exist"}},
		{name: "pid-file-a-directory", setup: flags(func(t *testing.T, b *bundle.Bundle) []string {
			return []string{"--pid-file", b.Rootfs}
		}), want: []string{"--pid-file", "is a directory"}},
		{name: "pid-file-parent-a-file", setup: flags(func(t *testing.T, b *bundle.Bundle) []string {
			return []string{"--pid-file", filepath.Join(b.Dir, "config.json", "pid")}
		}), want: []string{"--pid-file", "config.json"}},
		{name: "pid-file-unwritable-fs", setup: flags(func(t *testing.T, b *bundle.Bundle) []string {
			return []string{"--pid-file", "/proc/ocirun-test.pid"}
		}), want: []string{"/proc/ocirun-test.pid"}, late: true},
		{name: "preserve-fds-negative", setup: flags(func(t *testing.T, b *bundle.Bundle) []string {
			return []string{"--preserve-fds", "-1"}
		}), want: []string{"--preserve-fds", "-1"}},

		// The program and its user.
		{name: "program-missing", edit: func(s *specs.Spec) { s.Process.Args = []string{"/no/such/program"} }, want: []string{"process.args[0]", `"/no/such/program"`, "no such file"}},
		{name: "program-not-in-path", edit: func(s *specs.Spec) { s.Process.Args = []string{"nosuchprogram"} }, want: []string{"process.args[0]", `"nosuchprogram"`, "executable file not found in $PATH"}},
		{name: "program-a-directory", edit: func(s *specs.Spec) { s.Process.Args = []string{"/bin"} }, want: []string{"process.args[0]", `"/bin"`, "is a directory"}},
		{name: "program-not-executable-by-user", setup: func(t *testing.T, b *bundle.Bundle) []string {
			if err := os.Chmod(filepath.Join(b.Rootfs, "bin", "probe"), 0o700); err != nil {
				t.Fatal(err)
			}
			b.Edit(t, func(s *specs.Spec) { s.Process.User = specs.User{UID: 1000, GID: 1000} })
			return nil
		}, want: []string{"process.args[0]", `"/bin/probe"`, "permission denied"}},
		{name: "program-without-path-env", edit: func(s *specs.Spec) {
			s.Process.Args = []string{"probe", "report"}
			s.Process.Env = []string{"TERM=xterm"}
		}, want: []string{"process.args[0]", `"probe"`, "executable file not found in $PATH"}},

		// Seccomp.
		{name: "seccomp-action-unknown", edit: withSeccomp(specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_BOGUS"}), want: []string{"linux.seccomp.defaultAction", `"SCMP_ACT_BOGUS"`}},
		{name: "seccomp-flag-unknown", edit: withSeccomp(specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_BOGUS"}}), want: []string{"linux.seccomp.flags[0]", `"SECCOMP_FILTER_FLAG_BOGUS"`}},
		{name: "seccomp-arch-unknown", edit: withSeccomp(specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_Z80"}}), want: []string{"linux.seccomp.architectures[0]", `"SCMP_ARCH_Z80"`}},
		{name: "seccomp-errno-with-allow", edit: withSeccomp(specs.LinuxSeccomp{DefaultAction: specs.ActAllow, DefaultErrnoRet: new(uint)}), want: []string{"linux.seccomp.defaultErrnoRet", "SCMP_ACT_ALLOW"}},
		{name: "seccomp-notify-without-listener", edit: withSeccomp(specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}), want: []string{"linux.seccomp.syscalls[0].action", "listenerPath"}},
		{name: "seccomp-arg-index", edit: withSeccomp(specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}), want: []string{"linux.seccomp.syscalls[0].args[0].index", "got 6"}},
		{name: "seccomp-operator-unknown", edit: withSeccomp(specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Op: "SCMP_CMP_SOMETIMES"}}}}}), want: []string{"linux.seccomp.syscalls[0].args[0].op", `"SCMP_CMP_SOMETIMES"`}},
		{name: "seccomp-names-empty", edit: withSeccomp(specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Action: specs.ActErrno}}}), want: []string{"linux.seccomp.syscalls[0].names", "must not be empty"}},

		// Other fields.
		{name: "rootfs-propagation-unknown", edit: func(s *specs.Spec) { s.Linux.RootfsPropagation = "rsometimes" }, want: []string{"linux.rootfsPropagation", `"rsometimes"`}},
		{name: "masked-path-relative", edit: func(s *specs.Spec) { s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "proc/kcore") }, want: []string{"linux.maskedPaths[10]", `"proc/kcore"`}},
		{name: "readonly-path-relative", edit: func(s *specs.Spec) { s.Linux.ReadonlyPaths = []string{"proc/sys"} }, want: []string{"linux.readonlyPaths[0]", `"proc/sys"`}},
		{name: "cgroups-path-dotdot", edit: func(s *specs.Spec) { s.Linux.CgroupsPath = "x/../../escape" }, want: []string{"linux.cgroupsPath", `"x/../../escape"`}},
		{name: "unified-key-slash", edit: func(s *specs.Spec) { s.Linux.Resources.Unified = map[string]string{"../memory.max": "1"} }, want: []string{"linux.resources.unified", `"../memory.max"`}},
		{name: "hugepage-size-bad", edit: func(s *specs.Spec) {
			s.Linux.Resources.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2XB", Limit: 1}}
		}, want: []string{"linux.resources.hugepageLimits[0].pageSize", `"2XB"`}},
		{name: "oom-score-adj-range", edit: func(s *specs.Spec) { v := 1001; s.Process.OOMScoreAdj = &v }, want: []string{"process.oomScoreAdj", "got 1001"}},
		{name: "umask-too-big", edit: func(s *specs.Spec) { v := uint32(0o1000); s.Process.User.Umask = &v }, want: []string{"process.user.umask", "got 01000"}},
		{name: "username-set", edit: func(s *specs.Spec) { s.Process.User.Username = "root" }, want: []string{"process.user.username", `"root"`}},
		{name: "scheduler-policy-unknown", edit: func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_SOMETIMES"} }, want: []string{"process.scheduler.policy", `"SCHED_SOMETIMES"`}},
		{name: "ioprio-class-unknown", edit: func(s *specs.Spec) { s.Process.IOPriority = &specs.LinuxIOPriority{Class: "IOPRIO_CLASS_BOGUS"} }, want: []string{"process.ioPriority.class", `"IOPRIO_CLASS_BOGUS"`}},
		{name: "personality-domain-unknown", edit: func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX64"} }, want: []string{"linux.personality.domain", `"LINUX64"`}},
		{name: "intel-rdt", edit: func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{} }, want: []string{"linux.intelRdt: not supported yet"}},
		// ocirun's CI host runs without SELinux (the LSM suite has a VM).
		{name: "selinux-label-without-selinux", edit: func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" },
			want: []string{"process.selinuxLabel", `"system_u:system_r:container_t:s0"`}},

		// Command lines against an existing or broken container.
		{name: "kill-signal-unknown", setup: createdContainer, cmd: func(b *bundle.Bundle, id string) []string { return []string{"kill", id, "SIGBOGUS"} }, want: []string{"signal", `"SIGBOGUS"`}},
		{name: "kill-signal-number-out-of-range", setup: createdContainer, cmd: func(b *bundle.Bundle, id string) []string { return []string{"kill", id, "99"} }, want: []string{"signal", `"99"`}},
		{name: "kill-signal-empty", setup: createdContainer, cmd: func(b *bundle.Bundle, id string) []string { return []string{"kill", id, ""} }, want: []string{"signal", `""`}},
		{name: "state-json-corrupt-state", id: "corrupt1", setup: corruptState("corrupt1", `{"id": "corrupt1", "initPid": 1,`),
			cmd: func(b *bundle.Bundle, id string) []string { return []string{"state", id} }, want: []string{"corrupt1/state.json"}},
		{name: "state-json-truncated-delete", id: "corrupt2", setup: corruptState("corrupt2", `{"id": "corr`),
			cmd: func(b *bundle.Bundle, id string) []string { return []string{"delete", id} }, want: []string{"corrupt2/state.json"}},
		{name: "state-json-empty-kill", id: "corrupt3", setup: corruptState("corrupt3", ``),
			cmd: func(b *bundle.Bundle, id string) []string { return []string{"kill", id, "KILL"} }, want: []string{"corrupt3/state.json"}},
		{name: "state-json-wrong-type-start", id: "corrupt4", setup: corruptState("corrupt4", `{"id": "corrupt4", "initPid": "one"}`),
			cmd: func(b *bundle.Bundle, id string) []string { return []string{"start", id} }, want: []string{"corrupt4/state.json"}},
		{name: "state-json-garbage-pause", id: "corrupt5", setup: corruptState("corrupt5", "\x00\x01\x02"),
			cmd: func(b *bundle.Bundle, id string) []string { return []string{"pause", id} }, want: []string{"corrupt5/state.json"}},
		{name: "state-json-corrupt-create-same-id", id: "corrupt6", setup: corruptState("corrupt6", `{`), want: []string{"container with id exists", "corrupt6"}},
	}
	return rows
}
