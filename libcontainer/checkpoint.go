package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// extNetNSKey names a network namespace joined by path in the images: it is
// not the container's to dump, and restore hands criu the same path again.
const extNetNSKey = "extRootNetNS"

// check rejects flag combinations criu would refuse late or
// silently ignore.
func (o *CriuOpts) check(restore bool) error {
	if o.StatusFd >= 0 && !o.LazyPages {
		return errors.New("--status-fd: only meaningful with --lazy-pages")
	}
	if o.PreDump && o.LazyPages {
		return errors.New("--pre-dump and --lazy-pages cannot be combined")
	}
	if o.ParentImage != "" && filepath.IsAbs(o.ParentImage) {
		return fmt.Errorf("--parent-path %q: must be relative to --image-path", o.ParentImage)
	}
	if o.PageServerAddress != "" && o.LazyPages && restore {
		return errors.New("--page-server: not supported with restore --lazy-pages")
	}
	return nil
}

// Checkpoint dumps a running or paused container with criu. Unless it
// leaves the container running (LeaveRunning, PreDump), criu kills its
// processes and the container is destroyed afterwards, as runc does, so the
// id is free for `restore`.
func (c *Container) Checkpoint(o *CriuOpts, log *slog.Logger) error {
	if err := o.check(false); err != nil {
		return err
	}
	lock, err := lockDir(c.dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	st := c.Status()
	if st != Running && st != Paused {
		return fmt.Errorf("container %s is %s: only a running or paused container can be checkpointed", c.ID, st)
	}
	cfg := c.state.Config
	if cfg.Process.Terminal {
		return errors.New("process.terminal: checkpoint of a container with a terminal is not supported yet")
	}
	if o.ParentImage != "" {
		p := filepath.Join(o.ImagesDir, o.ParentImage)
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			return fmt.Errorf("--parent-path %q: not a directory under --image-path", o.ParentImage)
		}
	}
	images, work, err := o.criuDirs()
	if err != nil {
		return err
	}
	defer images.Close()
	defer work.Close()
	pid := c.state.InitPid
	if err := writeDescriptors(o.ImagesDir, readStdioLinks(pid)); err != nil {
		return err
	}
	criu, err := startCriu(o.CriuPath, nil, [3]*os.File{}, nil)
	if err != nil {
		return err
	}
	logName := "dump.log"
	reqType := rpc.CriuReqType_DUMP
	if o.PreDump {
		logName, reqType = "pre-dump.log", rpc.CriuReqType_PRE_DUMP
	}
	opts := o.baseRPCOpts(int(images.Fd()), int(work.Fd()), logName)
	opts.Pid = proto.Int32(int32(pid))
	opts.LeaveRunning = proto.Bool(o.LeaveRunning || o.PreDump)
	// The rootfs as criu must see it for the root mount of the mount namespace.
	opts.Root = proto.String(cfg.Rootfs)
	if o.StatusFd >= 0 {
		opts.StatusFd = proto.Int32(int32(o.StatusFd))
	}
	if o.PreDump || o.ParentImage != "" {
		opts.TrackMem = proto.Bool(true)
	}
	if o.ParentImage != "" {
		opts.ParentImg = proto.String(o.ParentImage)
	}
	if o.PageServerAddress != "" {
		opts.Ps = &rpc.CriuPageServerInfo{Address: proto.String(o.PageServerAddress), Port: proto.Int32(o.PageServerPort)}
	}
	if m := c.cgroup(); m != nil {
		// A paused container is already frozen there; criu keeps it so.
		if cgroups.IsV2() {
			opts.FreezeCgroup = proto.String(m.Path(""))
		} else if p := m.Path("freezer"); p != "" {
			opts.FreezeCgroup = proto.String(p)
		}
	}
	ext, err := dumpExternals(cfg, pid)
	if err != nil {
		criu.close()
		return err
	}
	opts.External = ext
	_, callErr := criu.call(&rpc.CriuReq{Type: reqType.Enum(), Opts: opts}, nil)
	waitErr := criu.close()
	logPath := filepath.Join(o.WorkDir, logName)
	if callErr != nil {
		return criuLogError(reqType.String(), callErr, logPath)
	}
	if waitErr != nil {
		return criuLogError(reqType.String(), waitErr, logPath)
	}
	if o.LeaveRunning || o.PreDump {
		return nil
	}
	// criu killed the tasks; the init is reaped by its parent or subreaper.
	deadline := time.Now().Add(5 * time.Second)
	for c.state.initAlive() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if c.state.initAlive() {
		return fmt.Errorf("checkpoint: init %d still alive after criu dump", pid)
	}
	return c.destroy(log)
}

// dumpExternals lists what criu must record by name instead of dumping:
// bind mounts from the host, masked files (binds of /dev/null), and a
// network namespace joined by path.
func dumpExternals(cfg *configs.Config, pid int) ([]string, error) {
	var ext []string
	for _, m := range cfg.Mounts {
		if m.IsBind() {
			ext = append(ext, "mnt["+m.Destination+"]:"+m.Destination)
		}
	}
	root := filepath.Join("/proc", strconv.Itoa(pid), "root")
	for _, p := range cfg.MaskedPaths {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil || fi.IsDir() {
			continue
		}
		ext = append(ext, "mnt["+p+"]:"+p)
	}
	if ns, ok := cfg.Namespace(configs.NEWNET); ok && ns.Path != "" {
		var st unix.Stat_t
		if err := unix.Stat(ns.Path, &st); err != nil {
			return nil, &os.PathError{Op: "stat", Path: ns.Path, Err: err}
		}
		ext = append(ext, fmt.Sprintf("net[%d]:%s", st.Ino, extNetNSKey))
	}
	return ext, nil
}

func writeDescriptors(dir string, links []string) error {
	b, err := json.Marshal(links)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, descriptorsFile), b, 0o600)
}

func readDescriptors(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, descriptorsFile))
	if err != nil {
		return nil, fmt.Errorf("--image-path: %w (not a checkpoint of ocirun or runc?)", err)
	}
	var links []string
	if err := json.Unmarshal(b, &links); err != nil {
		return nil, fmt.Errorf("decode %s: %w", descriptorsFile, err)
	}
	return links, nil
}
