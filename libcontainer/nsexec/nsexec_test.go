package nsexec

import (
	"encoding/binary"
	"strings"
	"testing"
)

// records decodes a payload the way nsexec.c walks it.
func records(t *testing.T, b []byte) map[uint16][][]byte {
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
		off += n
	}
	return out
}

func TestEncode(t *testing.T) {
	b := Bootstrap{
		CloneFlags:  0x20000000,
		Join:        []NSPath{{Flag: 0x40000000, Path: "/proc/1/ns/net"}},
		TimeOffsets: "monotonic 5 0\n",
		Fork:        true,
	}
	p, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	r := records(t, p)
	if got := binary.LittleEndian.Uint32(r[recCloneFlags][0]); got != 0x20000000 {
		t.Errorf("clone flags %#x", got)
	}
	ns := r[recNSPath][0]
	if binary.LittleEndian.Uint32(ns) != 0x40000000 || string(ns[4:]) != "/proc/1/ns/net" {
		t.Errorf("ns path record %q", ns)
	}
	if string(r[recTimeOffsets][0]) != "monotonic 5 0\n" || len(r[recFork]) != 1 {
		t.Errorf("records %v", r)
	}
	if len(r[recDumpable]) != 0 {
		t.Errorf("a dumpable record without IdmapDumpable: %v", r)
	}
	b.IdmapDumpable = true
	if p, err = b.Encode(); err != nil {
		t.Fatal(err)
	}
	if d := records(t, p)[recDumpable]; len(d) != 1 || len(d[0]) != 0 {
		t.Errorf("IdmapDumpable: records %v, want one empty dumpable record", d)
	}
}

func TestEncodeRejects(t *testing.T) {
	for name, b := range map[string]Bootstrap{
		// CVE-2021-43784: an attribute longer than its length field must not
		// be encodable, let alone reach the C stage.
		"long path":  {Join: []NSPath{{Flag: 1, Path: "/" + strings.Repeat("a", 70000)}}},
		"NUL":        {Join: []NSPath{{Flag: 1, Path: "/a\x00b"}}},
		"empty":      {Join: []NSPath{{Flag: 1}}},
		"too many":   {Join: make([]NSPath, 17)},
		"huge total": {TimeOffsets: strings.Repeat("x", maxBootstrap)},
	} {
		if _, err := b.Encode(); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

func FuzzEncode(f *testing.F) {
	f.Add(uint32(0), "/proc/1/ns/net", "monotonic 1 0\n", true)
	f.Fuzz(func(t *testing.T, flags uint32, path, offsets string, fork bool) {
		b := Bootstrap{CloneFlags: flags, TimeOffsets: offsets, Fork: fork}
		if path != "" {
			b.Join = []NSPath{{Flag: flags, Path: path}}
		}
		p, err := b.Encode()
		if err != nil {
			return
		}
		if len(p) > maxBootstrap {
			t.Fatalf("payload %d bytes", len(p))
		}
		records(t, p)
	})
}
