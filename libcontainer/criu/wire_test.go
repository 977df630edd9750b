package criu

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The hand-written codec is checked against go-criu's generated code (only
// the tests link it): what we send must decode there to the message the
// generated types would have built, byte for byte, and what criu sends
// must decode here as proto.Unmarshal reads it.

// checkReq decodes ours with the generated types and compares it with want.
func checkReq(t *testing.T, r *Req, want *rpc.CriuReq) {
	t.Helper()
	b := r.Marshal()
	got := &rpc.CriuReq{}
	if err := proto.Unmarshal(b, got); err != nil {
		t.Fatalf("proto.Unmarshal of our request: %v", err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("request decodes as\n%v\nwant\n%v", got, want)
	}
	// Same field order as the generated code: the same bytes criu got before.
	if wb, err := proto.Marshal(want); err != nil || !bytes.Equal(b, wb) {
		t.Errorf("request bytes\n%x\nwant\n%x (%v)", b, wb, err)
	}
}

// pathWith makes PATH a directory with only the named executables (RPC
// looks for iptables-restore).
func pathWith(t *testing.T, names ...string) {
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
}

func TestReqDump(t *testing.T) {
	for _, ipt := range []bool{false, true} {
		if ipt {
			pathWith(t, "iptables-restore")
		} else {
			pathWith(t)
		}
		o := &Opts{
			ImagesDir: "/img", ParentImage: "../parent", LeaveRunning: true,
			TCPEstablished: true, ExtUnixSk: true, ShellJob: true, FileLocks: true,
			PreDump: true, AutoDedup: true, LazyPages: true, StatusFd: 0,
			PageServerAddress: "10.0.0.1", PageServerPort: 2222,
			ManageCgroupsMode: "strict", EmptyNs: unix.CLONE_NEWNET,
		}
		// As Container.Checkpoint fills it.
		opts := o.RPC(7, 8, "pre-dump.log")
		opts.Pid = new(int32(1234))
		opts.LeaveRunning = new(true)
		opts.Root = new("/bundle/rootfs")
		opts.StatusFd = new(int32(0))
		opts.TrackMem = new(true)
		opts.ParentImg = new(o.ParentImage)
		opts.Ps = &PageServerInfo{Address: o.PageServerAddress, Port: o.PageServerPort}
		opts.FreezeCgroup = new("/sys/fs/cgroup/ocirun/c1")
		opts.External = []string{"mnt[/data]:/data", "mnt[/proc/kcore]:/proc/kcore", "net[4026531992]:extRootNetNS"}

		want := &rpc.CriuOpts{
			ImagesDirFd:       new(int32(7)),
			Pid:               new(int32(1234)),
			LeaveRunning:      new(true),
			ExtUnixSk:         new(true),
			TcpEstablished:    new(true),
			ShellJob:          new(true),
			FileLocks:         new(true),
			LogLevel:          new(int32(4)),
			LogFile:           new("pre-dump.log"),
			Ps:                &rpc.CriuPageServerInfo{Address: new("10.0.0.1"), Port: new(int32(2222))},
			NotifyScripts:     new(true),
			Root:              new("/bundle/rootfs"),
			ParentImg:         new("../parent"),
			TrackMem:          new(true),
			AutoDedup:         new(true),
			WorkDirFd:         new(int32(8)),
			ManageCgroups:     new(true),
			ManageCgroupsMode: rpc.CriuCgMode_STRICT.Enum(),
			External:          opts.External,
			EmptyNs:           new(uint32(unix.CLONE_NEWNET)),
			FreezeCgroup:      new("/sys/fs/cgroup/ocirun/c1"),
			LazyPages:         new(true),
			StatusFd:          new(int32(0)),
		}
		if !ipt {
			want.NetworkLock = rpc.CriuNetworkLockMethod_NFTABLES.Enum()
		}
		checkReq(t, &Req{Type: ReqPreDump, Opts: opts}, &rpc.CriuReq{Type: rpc.CriuReqType_PRE_DUMP.Enum(), Opts: want})
	}
}

// TestReqDumpDefaults: false flags are still sent (as before), unset ones
// are not, and a zero EmptyNs is sent as zero.
func TestReqDumpDefaults(t *testing.T) {
	pathWith(t, "iptables-restore")
	opts := (&Opts{StatusFd: -1}).RPC(3, 3, "dump.log")
	opts.Pid = new(int32(1))
	opts.LeaveRunning = new(false)
	opts.Root = new("/r")
	f := false
	want := &rpc.CriuOpts{
		ImagesDirFd: new(int32(3)), WorkDirFd: new(int32(3)), Pid: new(int32(1)),
		LeaveRunning: &f, ExtUnixSk: &f, TcpEstablished: &f, ShellJob: &f, FileLocks: &f,
		AutoDedup: &f, LazyPages: &f, LogLevel: new(int32(4)), LogFile: new("dump.log"),
		NotifyScripts: new(true), ManageCgroups: new(true), Root: new("/r"), EmptyNs: new(uint32(0)),
	}
	checkReq(t, &Req{Type: ReqDump, Opts: opts}, &rpc.CriuReq{Type: rpc.CriuReqType_DUMP.Enum(), Opts: want})
}

func TestReqRestore(t *testing.T) {
	pathWith(t)
	o := &Opts{ShellJob: true, ManageCgroupsMode: "ignore", EmptyNs: unix.CLONE_NEWNET, LsmProfile: "apparmor:foo", LsmMountContext: "system_u:object_r:container_file_t:s0"}
	// As restorer.run fills it.
	opts := o.RPC(5, 6, "restore.log")
	opts.Root = new("/run/ocirun/c1/criu-root")
	opts.RstSibling = new(true)
	opts.InheritFd = []InheritFd{{Key: ExtNetNSKey, Fd: 4}, {Key: "pipe:[1234]", Fd: 1}, {Key: "pipe:[1235]", Fd: 2}}
	opts.External = []string{"mnt[/data]:/srv/data", "mnt[/proc/kcore]:/dev/null"}
	opts.CgRoot = []CgroupRoot{{Ctrl: "cpu,cpuacct", Path: "/ocirun/c1"}, {Ctrl: "memory", Path: "/ocirun/c1"}}
	opts.LsmProfile = new(o.LsmProfile)
	opts.LsmMountContext = new(o.LsmMountContext)
	f := false
	want := &rpc.CriuOpts{
		ImagesDirFd: new(int32(5)), WorkDirFd: new(int32(6)), LogLevel: new(int32(4)), LogFile: new("restore.log"),
		ShellJob: new(true), TcpEstablished: &f, ExtUnixSk: &f, FileLocks: &f, AutoDedup: &f, LazyPages: &f,
		ManageCgroups: new(true), NotifyScripts: new(true), EmptyNs: new(uint32(unix.CLONE_NEWNET)),
		ManageCgroupsMode: rpc.CriuCgMode_IGNORE.Enum(),
		NetworkLock:       rpc.CriuNetworkLockMethod_NFTABLES.Enum(),
		Root:              new("/run/ocirun/c1/criu-root"),
		RstSibling:        new(true),
		InheritFd: []*rpc.InheritFd{
			{Key: new(ExtNetNSKey), Fd: new(int32(4))},
			{Key: new("pipe:[1234]"), Fd: new(int32(1))},
			{Key: new("pipe:[1235]"), Fd: new(int32(2))},
		},
		External: opts.External,
		CgRoot: []*rpc.CgroupRoot{
			{Ctrl: new("cpu,cpuacct"), Path: new("/ocirun/c1")},
			{Ctrl: new("memory"), Path: new("/ocirun/c1")},
		},
		LsmProfile:      new("apparmor:foo"),
		LsmMountContext: new("system_u:object_r:container_file_t:s0"),
	}
	checkReq(t, &Req{Type: ReqRestore, Opts: opts}, &rpc.CriuReq{Type: rpc.CriuReqType_RESTORE.Enum(), Opts: want})
}

func TestReqNotify(t *testing.T) {
	for _, ok := range []bool{true, false} {
		checkReq(t, &Req{Type: ReqNotify, NotifySuccess: new(ok)},
			&rpc.CriuReq{Type: rpc.CriuReqType_NOTIFY.Enum(), NotifySuccess: new(ok)})
	}
}

// Negative int32 are sign-extended to ten bytes, as protobuf does.
func TestReqNegative(t *testing.T) {
	opts := &RPCOpts{ImagesDirFd: -1, StatusFd: new(int32(-5))}
	checkReq(t, &Req{Type: ReqDump, Opts: opts},
		&rpc.CriuReq{Type: rpc.CriuReqType_DUMP.Enum(), Opts: &rpc.CriuOpts{ImagesDirFd: new(int32(-1)), StatusFd: new(int32(-5))}})
}

func TestReqTypeString(t *testing.T) {
	for n, name := range rpc.CriuReqType_name {
		if got := ReqType(n).String(); got != name || rpc.CriuReqType(n).String() != name {
			t.Errorf("ReqType(%d) = %q, want %q", n, got, name)
		}
	}
	if got, want := ReqType(99).String(), rpc.CriuReqType(99).String(); got != want {
		t.Errorf("ReqType(99) = %q, want %q", got, want)
	}
}

// respCases are what criu answers, marshalled by the generated code.
var respCases = []struct {
	name string
	in   *rpc.CriuResp
	want Resp
}{
	{"dump", &rpc.CriuResp{Type: rpc.CriuReqType_DUMP.Enum(), Success: new(true), Dump: &rpc.CriuDumpResp{Restored: new(false)}},
		Resp{Type: ReqDump, Success: true}},
	{"restore", &rpc.CriuResp{Type: rpc.CriuReqType_RESTORE.Enum(), Success: new(true), Restore: &rpc.CriuRestoreResp{Pid: new(int32(4321))}},
		Resp{Type: ReqRestore, Success: true}},
	{"notify setup-namespaces", &rpc.CriuResp{Type: rpc.CriuReqType_NOTIFY.Enum(), Success: new(true), Notify: &rpc.CriuNotify{Script: new("setup-namespaces"), Pid: new(int32(777))}},
		Resp{Type: ReqNotify, Success: true, Notify: Notify{Script: "setup-namespaces", Pid: 777}}},
	{"notify post-restore", &rpc.CriuResp{Type: rpc.CriuReqType_NOTIFY.Enum(), Success: new(true), Notify: &rpc.CriuNotify{Script: new("post-restore"), Pid: new(int32(2147483647))}},
		Resp{Type: ReqNotify, Success: true, Notify: Notify{Script: "post-restore", Pid: 2147483647}}},
	{"notify without pid", &rpc.CriuResp{Type: rpc.CriuReqType_NOTIFY.Enum(), Success: new(true), Notify: &rpc.CriuNotify{Script: new("pre-dump")}},
		Resp{Type: ReqNotify, Success: true, Notify: Notify{Script: "pre-dump"}}},
	{"error", &rpc.CriuResp{Type: rpc.CriuReqType_DUMP.Enum(), Success: new(false), CrErrno: new(int32(unix.EPERM)), CrErrmsg: new("Can't dump: permission denied\n")},
		Resp{Type: ReqDump, CrErrno: int32(unix.EPERM), CrErrmsg: "Can't dump: permission denied\n"}},
	{"error negative errno", &rpc.CriuResp{Type: rpc.CriuReqType_RESTORE.Enum(), Success: new(false), CrErrno: new(int32(-1))},
		Resp{Type: ReqRestore, CrErrno: -1}},
	{"fields we skip", &rpc.CriuResp{
		Type: rpc.CriuReqType_PRE_DUMP.Enum(), Success: new(true),
		Ps:       &rpc.CriuPageServerInfo{Address: new("a"), Port: new(int32(1)), Pid: new(int32(2)), Fd: new(int32(3))},
		Features: &rpc.CriuFeatures{MemTrack: new(true), LazyPages: new(true)},
		Version:  &rpc.CriuVersion{MajorNumber: new(int32(3)), MinorNumber: new(int32(19)), Gitid: new("x")},
		Status:   new(int32(5)),
	}, Resp{Type: ReqPreDump, Success: true}},
	{"unknown type", &rpc.CriuResp{Type: rpc.CriuReqType(42).Enum(), Success: new(true)},
		Resp{Type: 42, Success: true}},
}

func TestRespUnmarshal(t *testing.T) {
	for _, c := range respCases {
		b, err := proto.Marshal(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got Resp
		if err := got.Unmarshal(b); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

// TestRespProtoSemantics: repeated and mistyped fields read as proto does.
func TestRespProtoSemantics(t *testing.T) {
	tag := func(b []byte, num protowire.Number, typ protowire.Type) []byte {
		return protowire.AppendTag(b, num, typ)
	}
	var b []byte
	b = protowire.AppendVarint(tag(b, 1, protowire.VarintType), 1)
	b = protowire.AppendVarint(tag(b, 2, protowire.VarintType), 0)
	b = protowire.AppendVarint(tag(b, 2, protowire.VarintType), 300) // last wins, nonzero is true
	// notify twice: merged.
	b = protowire.AppendBytes(tag(b, 5, protowire.BytesType), protowire.AppendString(tag(nil, 1, protowire.BytesType), "s"))
	b = protowire.AppendBytes(tag(b, 5, protowire.BytesType), protowire.AppendVarint(tag(nil, 2, protowire.VarintType), 9))
	// cr_errmsg as a varint: not ours, skipped.
	b = protowire.AppendVarint(tag(b, 9, protowire.VarintType), 1)
	// an unknown group.
	b = tag(b, 100, protowire.StartGroupType)
	b = protowire.AppendVarint(tag(b, 1, protowire.VarintType), 1)
	b = tag(b, 100, protowire.EndGroupType)
	// cr_errno > 32 bits: truncated like int32(v).
	b = protowire.AppendVarint(tag(b, 7, protowire.VarintType), 1<<32+5)
	compareWithProto(t, b)
	var got Resp
	if err := got.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	if want := (Resp{Type: ReqDump, Success: true, Notify: Notify{Script: "s", Pid: 9}, CrErrno: 5}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestRespMalformed(t *testing.T) {
	ok, _ := proto.Marshal(respCases[2].in)
	for name, b := range map[string][]byte{
		"empty":              {},
		"no success":         {0x08, 0x01},
		"no type":            {0x10, 0x01},
		"truncated":          ok[:len(ok)-1],
		"truncated varint":   {0x08, 0x80},
		"field 0":            append([]byte{0x00, 0x01}, ok...),
		"field too large":    append(protowire.AppendVarint(protowire.AppendTag(nil, protowire.MaxValidNumber+1, protowire.VarintType), 1), ok...),
		"end group":          append(ok, 0x0c),
		"reserved type":      append(ok, 0x0e),
		"bad notify":         append(ok, 0x2a, 0x02, 0x08, 0x80),
		"notify length":      append(ok, 0x2a, 0x05, 0x08),
		"group unterminated": append(ok, 0x1b, 0x08, 0x01),
	} {
		var r Resp
		err := r.Unmarshal(b)
		if err == nil {
			t.Errorf("%s: %x decoded as %+v, want an error", name, b, r)
		} else if err := proto.Unmarshal(b, &rpc.CriuResp{}); err == nil {
			t.Errorf("%s: proto.Unmarshal accepts %x", name, b)
		}
	}
}

// compareWithProto: whatever the generated code decodes, we decode the
// same. The converse need not hold: sub-messages we skip (dump, restore,
// version...) are not checked for their own required fields.
func compareWithProto(t *testing.T, b []byte) {
	t.Helper()
	var got Resp
	err := got.Unmarshal(b)
	m := &rpc.CriuResp{}
	if perr := proto.Unmarshal(b, m); perr != nil {
		return
	}
	if err != nil {
		t.Fatalf("%x: proto.Unmarshal decodes it, we fail: %v", b, err)
	}
	want := Resp{
		Type: ReqType(m.GetType()), Success: m.GetSuccess(),
		Notify:  Notify{Script: m.GetNotify().GetScript(), Pid: m.GetNotify().GetPid()},
		CrErrno: m.GetCrErrno(), CrErrmsg: m.GetCrErrmsg(),
	}
	if got != want {
		t.Fatalf("%x: got %+v, proto.Unmarshal gives %+v", b, got, want)
	}
}

func FuzzUnmarshalResp(f *testing.F) {
	for _, c := range respCases {
		b, err := proto.Marshal(c.in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x08, 0x06, 0x10, 0x01, 0x2a, 0x02, 0x10, 0x05, 0x2a, 0x03, 0x0a, 0x01, 'x'})
	f.Fuzz(compareWithProto)
}

// TestCall runs Swrk.Call against a fake criu on a seqpacket socketpair:
// a notification answered, then the final response; a failed notify is
// reported to criu; an error response becomes an error with criu's words.
func TestCall(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "ours"), os.NewFile(uintptr(fds[1]), "theirs")
	defer ours.Close()
	defer theirs.Close()
	s := &Swrk{sock: ours}

	// fakeCriu reads one request, checks it, and sends resp.
	type step struct {
		want *rpc.CriuReq
		resp *rpc.CriuResp
	}
	fake := func(steps []step) chan error {
		done := make(chan error, 1)
		go func() {
			buf := make([]byte, 64<<10)
			for _, st := range steps {
				n, err := theirs.Read(buf)
				if err != nil {
					done <- err
					return
				}
				req := &rpc.CriuReq{}
				if err := proto.Unmarshal(buf[:n], req); err != nil {
					done <- err
					return
				}
				if !proto.Equal(req, st.want) {
					done <- errors.New("criu got " + req.String() + ", want " + st.want.String())
					return
				}
				if st.resp == nil {
					continue
				}
				b, _ := proto.Marshal(st.resp)
				if _, err := theirs.Write(b); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		return done
	}
	dump := &rpc.CriuReq{Type: rpc.CriuReqType_DUMP.Enum(), Opts: &rpc.CriuOpts{ImagesDirFd: new(int32(3))}}
	notifyResp := &rpc.CriuResp{Type: rpc.CriuReqType_NOTIFY.Enum(), Success: new(true), Notify: &rpc.CriuNotify{Script: new("post-dump"), Pid: new(int32(42))}}
	req := &Req{Type: ReqDump, Opts: &RPCOpts{ImagesDirFd: 3}}

	done := fake([]step{
		{dump, notifyResp},
		{&rpc.CriuReq{Type: rpc.CriuReqType_NOTIFY.Enum(), NotifySuccess: new(true)}, &rpc.CriuResp{Type: rpc.CriuReqType_DUMP.Enum(), Success: new(true)}},
	})
	var seen []string
	resp, err := s.Call(req, func(script string, pid int32) error {
		seen = append(seen, script)
		if pid != 42 {
			t.Errorf("notify pid %d, want 42", pid)
		}
		return nil
	})
	if err != nil || resp.Type != ReqDump || len(seen) != 1 || seen[0] != "post-dump" {
		t.Errorf("Call: %+v, %v, notified %q", resp, err, seen)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	done = fake([]step{{dump, notifyResp}, {&rpc.CriuReq{Type: rpc.CriuReqType_NOTIFY.Enum(), NotifySuccess: new(false)}, nil}})
	boom := errors.New("boom")
	if _, err := s.Call(req, func(string, int32) error { return boom }); !errors.Is(err, boom) || !strings.Contains(err.Error(), `"post-dump"`) {
		t.Errorf("failed notify: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	done = fake([]step{{dump, &rpc.CriuResp{Type: rpc.CriuReqType_DUMP.Enum(), Success: new(false), CrErrno: new(int32(unix.ENOENT)), CrErrmsg: new(" no such task \n")}}})
	if _, err := s.Call(req, nil); !errors.Is(err, unix.ENOENT) || err.Error() != "no such task: no such file or directory" {
		t.Errorf("error response: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	done = fake([]step{{dump, &rpc.CriuResp{Type: rpc.CriuReqType_RESTORE.Enum(), Success: new(true)}}})
	if _, err := s.Call(req, nil); err == nil || err.Error() != "criu rpc: answer RESTORE to a DUMP request" {
		t.Errorf("wrong answer: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
