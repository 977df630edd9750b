package devices

import (
	"errors"
	"fmt"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// ProgName is the name the program is loaded with; on update, only attached
// programs with this name are replaced, so programs attached by others
// (systemd, a supervisor) are left alone.
const ProgName = "ocirun_devices"

// Values of struct bpf_cgroup_dev_ctx.access_type (include/uapi/linux/bpf.h):
// the low 16 bits are the device type, the high 16 bits the access.
const (
	devTypeBlock = 1
	devTypeChar  = 2
	accMknod     = 1
	accRead      = 2
	accWrite     = 4
)

func accessBits(a string) int32 {
	var m int32
	for _, c := range a {
		switch c {
		case 'r':
			m |= accRead
		case 'w':
			m |= accWrite
		case 'm':
			m |= accMknod
		}
	}
	return m
}

// Program builds a BPF_PROG_TYPE_CGROUP_DEVICE program enforcing rules.
// The rules are checked last to first, so the first match is the rule that
// overrides all earlier ones; no match gives the default. An allow rule
// matches when it grants every requested access, a deny rule when it denies
// any of them.
func Program(rules []configs.DeviceRule) (asm.Instructions, error) {
	defAllow, rs, err := Normalize(rules)
	if err != nil {
		return nil, err
	}
	insns := asm.Instructions{
		// R1 = ctx: u32 access_type, u32 major, u32 minor.
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.Mov.Reg32(asm.R3, asm.R2),
		asm.And.Imm32(asm.R3, 0xffff), // type
		asm.Mov.Reg32(asm.R4, asm.R2),
		asm.RSh.Imm32(asm.R4, 16), // access
		asm.LoadMem(asm.R5, asm.R1, 4, asm.Word),
		asm.LoadMem(asm.R6, asm.R1, 8, asm.Word),
	}
	label := func(i int) string { return fmt.Sprintf("rule%d", i) }
	n := 0
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i]
		next := label(n + 1)
		typ := int32(devTypeChar)
		if r.Type == 'b' {
			typ = devTypeBlock
		}
		acc := accessBits(r.Access)
		block := asm.Instructions{
			asm.JNE.Imm32(asm.R3, typ, next),
			asm.Mov.Reg32(asm.R7, asm.R4),
		}
		if r.Allow {
			// Requested bits outside the rule's access: not covered.
			block = append(block,
				asm.And.Imm32(asm.R7, ^acc&0x7),
				asm.JNE.Imm32(asm.R7, 0, next))
		} else {
			block = append(block,
				asm.And.Imm32(asm.R7, acc),
				asm.JEq.Imm32(asm.R7, 0, next))
		}
		if r.Major >= 0 {
			block = append(block, asm.JNE.Imm32(asm.R5, int32(r.Major), next))
		}
		if r.Minor >= 0 {
			block = append(block, asm.JNE.Imm32(asm.R6, int32(r.Minor), next))
		}
		block = append(block, asm.Mov.Imm32(asm.R0, b2i(r.Allow)), asm.Return())
		block[0] = block[0].WithSymbol(label(n))
		insns = append(insns, block...)
		n++
	}
	insns = append(insns,
		asm.Mov.Imm32(asm.R0, b2i(defAllow)).WithSymbol(label(n)),
		asm.Return())
	return insns, nil
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// AttachProgram loads the program for rules and attaches it to the cgroup v2
// dir, then detaches any program a previous call attached.
//
// BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI is used rather than a bpf_link
// (link.AttachCgroup prefers links): a link is detached when its last fd
// closes, but the runtime exits long before the container does. The new
// program goes in before the old one is removed so that the cgroup is never
// left without a device policy.
func AttachProgram(dir string, rules []configs.DeviceRule) error {
	insns, err := Program(rules)
	if err != nil {
		return err
	}
	cg, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer cg.Close()
	fd := int(cg.Fd())

	old, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		return fmt.Errorf("query device programs of %s: %w", dir, err)
	}
	prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
		Name:         ProgName,
		Type:         ebpf.CGroupDevice,
		Instructions: insns,
		License:      "Apache",
	}, ebpf.ProgramOptions{})
	if err != nil {
		return fmt.Errorf("load device program: %w", err)
	}
	defer prog.Close()
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{
		Target:  fd,
		Program: prog,
		Attach:  ebpf.AttachCGroupDevice,
		Flags:   unix.BPF_F_ALLOW_MULTI,
	}); err != nil {
		return fmt.Errorf("attach device program to %s: %w", dir, err)
	}
	var errs []error
	for _, ap := range old.Programs {
		if err := detachIfOurs(fd, ap.ID); err != nil {
			errs = append(errs, fmt.Errorf("detach old device program %d from %s: %w", ap.ID, dir, err))
		}
	}
	return errors.Join(errs...)
}

func detachIfOurs(cgfd int, id ebpf.ProgramID) error {
	p, err := ebpf.NewProgramFromID(id)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	defer p.Close()
	info, err := p.Info()
	if err != nil {
		return err
	}
	if info.Name != ProgName {
		return nil
	}
	return link.RawDetachProgram(link.RawDetachProgramOptions{
		Target:  cgfd,
		Program: p,
		Attach:  ebpf.AttachCGroupDevice,
	})
}
