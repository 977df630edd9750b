package nsexec

import (
	"encoding/binary"
	"strings"
	"testing"
)

// planRecords decodes a plan the way process.c walks it: 8-byte aligned
// records.
func planRecords(t *testing.T, b []byte) map[uint16][][]byte {
	t.Helper()
	out := map[uint16][][]byte{}
	for off := 0; off < len(b); {
		if len(b)-off < 8 {
			t.Fatalf("truncated record at %d", off)
		}
		typ := binary.LittleEndian.Uint16(b[off:])
		n := int(binary.LittleEndian.Uint32(b[off+4:]))
		off += 8
		if n > len(b)-off {
			t.Fatalf("record %d overflows", typ)
		}
		out[typ] = append(out[typ], b[off:off+n])
		off += n + (8-n%8)%8
	}
	return out
}

func TestPlanEncode(t *testing.T) {
	per := uint32(8)
	p := Plan{
		Args: []string{"sh", "-c", "true"}, Env: []string{"PATH=/bin"}, Cwd: "/",
		UID: 1000, GID: 1001, Groups: []uint32{5, 6},
		Caps:       &Caps{Bounding: 1, Effective: 2, Inheritable: 4, Permitted: 8, Ambient: 16, LastCap: 40},
		NoNewPrivs: true, Rlimits: []Rlimit{{Resource: 7, Index: 0, Soft: 1024, Hard: 2048}},
		LSM:         []LSMAttr{{Kind: LSMAppArmor, File: "attr/apparmor/exec", Value: "exec p"}},
		SeccompWhen: SeccompLast, SeccompFlags: 1, SeccompBPF: make([]byte, 16),
		Personality: &per, MemPolicy: &MemPolicy{Mode: 2, MaxNode: 65, Nodes: []uint64{3}, Name: "MPOL_BIND"},
		Umask: 0o027, FifoFd: 9, Keyring: "_ses.x", Console: ConsoleNew, Rows: 24, Cols: 80,
		Hooks:    []Hook{{Path: "/bin/h", Args: []string{"h", "a"}, Env: []string{"A=1"}, Timeout: 3}},
		StatePre: `{"pid":`, StatePost: `}`,
	}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%8 != 0 {
		t.Errorf("plan of %d bytes is not 8-byte aligned", len(b))
	}
	r := planRecords(t, b)
	if len(r[planArg]) != 3 || string(r[planArg][2]) != "true\x00" {
		t.Errorf("args %q", r[planArg])
	}
	if g := r[planGroups][0]; binary.LittleEndian.Uint32(g[4:]) != 6 {
		t.Errorf("groups %v", g)
	}
	if c := r[planCaps][0]; len(c) != 44 || binary.LittleEndian.Uint64(c[32:]) != 16 || binary.LittleEndian.Uint32(c[40:]) != 40 {
		t.Errorf("caps %v", c)
	}
	if l := r[planLSM][0]; binary.LittleEndian.Uint32(l) != LSMAppArmor || string(l[4:]) != "attr/apparmor/exec\x00exec p\x00" {
		t.Errorf("lsm %q", l)
	}
	if s := r[planSeccomp][0]; binary.LittleEndian.Uint32(s) != SeccompLast || len(s) != 8+16 {
		t.Errorf("seccomp %v", s)
	}
	if m := r[planMemPolicy][0]; binary.LittleEndian.Uint32(m[4:]) != 1 || binary.LittleEndian.Uint64(m[8:]) != 65 || !strings.HasSuffix(string(m), "MPOL_BIND\x00") {
		t.Errorf("mempolicy %v", m)
	}
	if h := r[planHook][0]; binary.LittleEndian.Uint32(h) != 3 || string(h[4:]) != "/bin/h\x00" || len(r[planHookArg]) != 2 {
		t.Errorf("hook %q, args %q", h, r[planHookArg])
	}
	if s := r[planHookState][0]; string(s) != "{\"pid\":\x00}\x00" {
		t.Errorf("hook state %q", s)
	}
}

func TestPlanEncodeRejects(t *testing.T) {
	base := func() Plan { return Plan{Args: []string{"x"}, Cwd: "/"} }
	for name, mod := range map[string]func(*Plan){
		"no args":     func(p *Plan) { p.Args = nil },
		"no cwd":      func(p *Plan) { p.Cwd = "" },
		"NUL arg":     func(p *Plan) { p.Args = []string{"a\x00b"} },
		"NUL env":     func(p *Plan) { p.Env = []string{"A=\x00"} },
		"empty LSM":   func(p *Plan) { p.LSM = []LSMAttr{{Kind: 1, File: "attr/exec"}} },
		"hook path":   func(p *Plan) { p.Hooks = []Hook{{Path: ""}} },
		"huge arg":    func(p *Plan) { p.Args = []string{strings.Repeat("a", maxPlan)} },
		"NUL in hook": func(p *Plan) { p.Hooks = []Hook{{Path: "/h", Args: []string{"\x00"}}} },
	} {
		p := base()
		mod(&p)
		if _, err := p.Encode(); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

func FuzzPlanEncode(f *testing.F) {
	f.Add("sh", "PATH=/bin", "/", uint32(0), "attr/exec", "label")
	f.Fuzz(func(t *testing.T, arg, env, cwd string, when uint32, file, value string) {
		p := Plan{Args: []string{arg}, Env: []string{env}, Cwd: cwd, LSM: []LSMAttr{{Kind: 2, File: file, Value: value}}}
		if when%4 != 0 {
			p.SeccompWhen, p.SeccompBPF = when%4, make([]byte, 8)
		}
		b, err := p.Encode()
		if err != nil {
			return
		}
		r := planRecords(t, b)
		if got := string(r[planArg][0]); got != arg+"\x00" {
			t.Fatalf("arg %q became %q", arg, got)
		}
		for typ, recs := range r {
			for _, rec := range recs {
				if typ == planArg || typ == planEnv || typ == planCwd {
					if strings.IndexByte(string(rec[:len(rec)-1]), 0) >= 0 {
						t.Fatalf("record %d %q has an inner NUL", typ, rec)
					}
				}
			}
		}
	})
}
