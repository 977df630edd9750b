package criu

import (
	"errors"
	"fmt"
	"strconv"
)

// The messages of CRIU's RPC (rpc.proto, proto2), with only the fields we
// send or read, coded by hand (pbwire.go): go-criu's generated types
// would link the protobuf runtime (registry, reflection, their package
// inits) into every ocirun command for the sake of two of them. Field
// numbers are rpc.proto's; wire_test.go checks both directions against
// go-criu's generated code. As in proto2, a nil pointer is a field not
// sent, which criu tells apart from a zero value.

// ReqType is criu_req_type.
type ReqType int32

const (
	ReqDump    ReqType = 1
	ReqRestore ReqType = 2
	ReqPreDump ReqType = 4
	ReqNotify  ReqType = 6
)

var reqTypeNames = [...]string{
	"EMPTY", "DUMP", "RESTORE", "CHECK", "PRE_DUMP", "PAGE_SERVER", "NOTIFY",
	"CPUINFO_DUMP", "CPUINFO_CHECK", "FEATURE_CHECK", "VERSION", "WAIT_PID",
	"PAGE_SERVER_CHLD", "SINGLE_PRE_DUMP",
}

// String is the enum value's name in rpc.proto (as in criu's log and the
// generated code), or its number when unknown.
func (t ReqType) String() string {
	if t >= 0 && int(t) < len(reqTypeNames) {
		return reqTypeNames[t]
	}
	return strconv.Itoa(int(t))
}

// CgMode is criu_cg_mode.
type CgMode int32

const (
	CgIgnore CgMode = 0
	CgSoft   CgMode = 3
	CgFull   CgMode = 4
	CgStrict CgMode = 5
)

// NetworkLockMethod is criu_network_lock_method.
type NetworkLockMethod int32

const NetworkLockNftables NetworkLockMethod = 2

// Req is criu_req.
type Req struct {
	Type          ReqType // required
	Opts          *RPCOpts
	NotifySuccess *bool
}

// RPCOpts is criu_opts.
type RPCOpts struct {
	ImagesDirFd       int32 // required
	Pid               *int32
	LeaveRunning      *bool
	ExtUnixSk         *bool
	TCPEstablished    *bool
	ShellJob          *bool
	FileLocks         *bool
	LogLevel          *int32
	LogFile           *string
	Ps                *PageServerInfo
	NotifyScripts     *bool
	Root              *string
	ParentImg         *string
	TrackMem          *bool
	AutoDedup         *bool
	WorkDirFd         *int32
	ManageCgroups     *bool
	CgRoot            []CgroupRoot
	RstSibling        *bool
	InheritFd         []InheritFd
	ManageCgroupsMode *CgMode
	External          []string
	EmptyNs           *uint32
	FreezeCgroup      *string
	LazyPages         *bool
	StatusFd          *int32
	LsmProfile        *string
	LsmMountContext   *string
	NetworkLock       *NetworkLockMethod
}

// PageServerInfo is criu_page_server_info (address and port only).
type PageServerInfo struct {
	Address string
	Port    int32
}

// InheritFd is inherit_fd: criu's fd Fd stands for the file named Key in
// the images.
type InheritFd struct {
	Key string
	Fd  int32
}

// CgroupRoot is cgroup_root.
type CgroupRoot struct {
	Ctrl string
	Path string
}

// Resp is criu_resp; the fields we do not read are skipped.
type Resp struct {
	Type     ReqType // required
	Success  bool    // required
	Notify   Notify
	CrErrno  int32
	CrErrmsg string
}

// Notify is criu_notify.
type Notify struct {
	Script string
	Pid    int32
}

// Marshal encodes r in field-number order, as the generated code does.
func (r *Req) Marshal() []byte {
	b := appendVarint(nil, 1, uint64(int64(r.Type)))
	if r.Opts != nil {
		b = appendMessage(b, 2, r.Opts.marshal())
	}
	return appendBool(b, 3, r.NotifySuccess)
}

func (o *RPCOpts) marshal() []byte {
	b := appendVarint(nil, 1, uint64(int64(o.ImagesDirFd)))
	b = appendInt32(b, 2, o.Pid)
	b = appendBool(b, 3, o.LeaveRunning)
	b = appendBool(b, 4, o.ExtUnixSk)
	b = appendBool(b, 5, o.TCPEstablished)
	b = appendBool(b, 7, o.ShellJob)
	b = appendBool(b, 8, o.FileLocks)
	b = appendInt32(b, 9, o.LogLevel)
	b = appendString(b, 10, o.LogFile)
	if o.Ps != nil {
		ps := appendString(nil, 1, &o.Ps.Address)
		ps = appendInt32(ps, 2, &o.Ps.Port)
		b = appendMessage(b, 11, ps)
	}
	b = appendBool(b, 12, o.NotifyScripts)
	b = appendString(b, 13, o.Root)
	b = appendString(b, 14, o.ParentImg)
	b = appendBool(b, 15, o.TrackMem)
	b = appendBool(b, 16, o.AutoDedup)
	b = appendInt32(b, 17, o.WorkDirFd)
	b = appendBool(b, 24, o.ManageCgroups)
	for _, c := range o.CgRoot {
		m := appendString(nil, 1, &c.Ctrl)
		b = appendMessage(b, 25, appendString(m, 2, &c.Path))
	}
	b = appendBool(b, 26, o.RstSibling)
	for _, f := range o.InheritFd {
		m := appendString(nil, 1, &f.Key)
		b = appendMessage(b, 27, appendInt32(m, 2, &f.Fd))
	}
	if o.ManageCgroupsMode != nil {
		b = appendVarint(b, 34, uint64(int64(*o.ManageCgroupsMode)))
	}
	for _, e := range o.External {
		b = appendString(b, 37, &e)
	}
	if o.EmptyNs != nil {
		b = appendVarint(b, 38, uint64(*o.EmptyNs))
	}
	b = appendString(b, 44, o.FreezeCgroup)
	b = appendBool(b, 48, o.LazyPages)
	b = appendInt32(b, 49, o.StatusFd)
	b = appendString(b, 53, o.LsmProfile)
	b = appendString(b, 63, o.LsmMountContext)
	if o.NetworkLock != nil {
		b = appendVarint(b, 64, uint64(int64(*o.NetworkLock)))
	}
	return b
}

func appendVarint(b []byte, num number, v uint64) []byte {
	b = appendTag(b, num, varintType)
	return appendRawVarint(b, v)
}

// appendInt32 sign-extends, as protobuf encodes a negative int32 (or enum).
func appendInt32(b []byte, num number, v *int32) []byte {
	if v == nil {
		return b
	}
	return appendVarint(b, num, uint64(int64(*v)))
}

func appendBool(b []byte, num number, v *bool) []byte {
	if v == nil {
		return b
	}
	return appendVarint(b, num, boolVarint(*v))
}

func appendString(b []byte, num number, v *string) []byte {
	if v == nil {
		return b
	}
	b = appendTag(b, num, bytesType)
	return appendRawBytes(b, []byte(*v))
}

func appendMessage(b []byte, num number, m []byte) []byte {
	b = appendTag(b, num, bytesType)
	return appendRawBytes(b, m)
}

var errRequired = errors.New("required field type or success missing")

// Unmarshal decodes a criu_resp as proto.Unmarshal would for the fields
// kept: the last value of a field wins, a repeated notify merges, a field
// of another wire type than rpc.proto's is skipped like an unknown one.
func (r *Resp) Unmarshal(b []byte) error {
	*r = Resp{}
	var haveType, haveSuccess bool
	err := walk(b, func(num number, typ wireType, b []byte) (int, error) {
		switch {
		case num == 1 && typ == varintType:
			v, n := consumeVarint(b)
			r.Type, haveType = ReqType(v), true
			return n, nil
		case num == 2 && typ == varintType:
			v, n := consumeVarint(b)
			r.Success, haveSuccess = v != 0, true
			return n, nil
		case num == 5 && typ == bytesType:
			v, n := consumeBytes(b)
			if n < 0 {
				return n, nil
			}
			return n, r.Notify.unmarshal(v)
		case num == 7 && typ == varintType:
			v, n := consumeVarint(b)
			r.CrErrno = int32(v)
			return n, nil
		case num == 9 && typ == bytesType:
			v, n := consumeBytes(b)
			r.CrErrmsg = string(v)
			return n, nil
		}
		return consumeFieldValue(num, typ, b), nil
	})
	if err != nil {
		return fmt.Errorf("criu_resp: %w", err)
	}
	if !haveType || !haveSuccess {
		return fmt.Errorf("criu_resp: %w", errRequired)
	}
	return nil
}

func (m *Notify) unmarshal(b []byte) error {
	err := walk(b, func(num number, typ wireType, b []byte) (int, error) {
		switch {
		case num == 1 && typ == bytesType:
			v, n := consumeBytes(b)
			m.Script = string(v)
			return n, nil
		case num == 2 && typ == varintType:
			v, n := consumeVarint(b)
			m.Pid = int32(v)
			return n, nil
		}
		return consumeFieldValue(num, typ, b), nil
	})
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// walk calls field for each field of message b with the bytes after its
// tag; field returns how many it consumed (negative: malformed).
func walk(b []byte, field func(number, wireType, []byte) (int, error)) error {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return errMalformed
		}
		if num > maxValidNumber {
			return fmt.Errorf("invalid field number %d", num)
		}
		b = b[n:]
		n, err := field(num, typ, b)
		if err != nil {
			return err
		}
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
	}
	return nil
}

func boolVarint(v bool) uint64 {
	if v {
		return 1
	}
	return 0
}
