//go:build !nocriu

package libcontainer

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/criu"
)

// Checkpoint dumps a running or paused container with criu. Unless it
// leaves the container running (LeaveRunning, PreDump), criu kills its
// processes and the container is destroyed afterwards, as runc does, so the
// id is free for `restore`.
func (c *Container) Checkpoint(o *criu.Opts, log *slog.Logger) error {
	lock, st, err := c.lock()
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if st != Running && st != Paused {
		return refuse(ErrNotRunning, "container %s is %s: only a running or paused container can be checkpointed", c.ID, st)
	}
	cfg := c.state.Config
	if cfg.Process.Terminal {
		return errors.New("process.terminal: checkpoint of a container with a terminal is not supported yet")
	}
	if o.ParentImage != "" {
		p := filepath.Join(o.ImagesDir, o.ParentImage)
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			return fmt.Errorf("parent image %q: not a directory under the images directory", o.ParentImage)
		}
	}
	images, work, err := o.Dirs()
	if err != nil {
		return err
	}
	defer images.Close()
	defer work.Close()
	pid := c.state.InitPid
	if err := criu.WriteDescriptors(o.ImagesDir, criu.StdioLinks(pid)); err != nil {
		return err
	}
	sw, err := criu.Start(o.CriuPath, nil, [3]*os.File{}, nil)
	if err != nil {
		return err
	}
	logName := "dump.log"
	reqType := criu.ReqDump
	if o.PreDump {
		logName, reqType = "pre-dump.log", criu.ReqPreDump
	}
	opts := o.RPC(int(images.Fd()), int(work.Fd()), logName)
	opts.Pid = new(int32(pid))
	opts.LeaveRunning = new(o.LeaveRunning || o.PreDump)
	// The rootfs as criu must see it for the root mount of the mount namespace.
	opts.Root = new(cfg.Rootfs)
	if o.StatusFd >= 0 {
		opts.StatusFd = new(int32(o.StatusFd))
	}
	if o.PreDump || o.ParentImage != "" {
		opts.TrackMem = new(true)
	}
	if o.ParentImage != "" {
		opts.ParentImg = new(o.ParentImage)
	}
	if o.PageServerAddress != "" {
		opts.Ps = &criu.PageServerInfo{Address: o.PageServerAddress, Port: o.PageServerPort}
	}
	if m := c.cgroup(); m != nil {
		// A paused container is already frozen there; criu keeps it so.
		if cgroups.IsV2() {
			opts.FreezeCgroup = new(m.Path(""))
		} else if p := m.Path("freezer"); p != "" {
			opts.FreezeCgroup = new(p)
		}
	}
	ext, err := criu.DumpExternals(cfg, pid)
	if err != nil {
		sw.Close()
		return err
	}
	opts.External = ext
	_, callErr := sw.Call(&criu.Req{Type: reqType, Opts: opts}, nil)
	waitErr := sw.Close()
	logPath := filepath.Join(o.WorkDir, logName)
	if callErr != nil {
		return criu.LogError(reqType.String(), callErr, logPath)
	}
	if waitErr != nil {
		return criu.LogError(reqType.String(), waitErr, logPath)
	}
	if o.LeaveRunning || o.PreDump {
		return nil
	}
	// criu killed the tasks; the init is reaped by its parent or subreaper.
	deadline := time.Now().Add(5 * time.Second)
	if !c.waitInitGone(deadline) {
		return fmt.Errorf("checkpoint: init %d still alive after criu dump", pid)
	}
	return c.destroy(false, deadline, log)
}
