package integration

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
)

// TestNotifySocket checks sd_notify passthrough: with NOTIFY_SOCKET set, the
// container's READY=1 reaches the caller's socket (with MAINPID), and only
// after the container sent it.
func TestNotifySocket(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("notify", "STATUS=starting", "READY=1", "--", "30"))
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	env := bundle.RunOpts{Env: []string{"NOTIFY_SOCKET=" + sock}}
	if r := b.RunWith(t, env, "create", "--bundle", b.Dir, b.ID); r.Code != 0 {
		t.Fatalf("%s", r)
	}
	if r := b.RunWith(t, env, "start", b.ID); r.Code != 0 {
		t.Fatalf("%s", r)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no notification on the caller's socket: %v", err)
	}
	msg := string(buf[:n])
	if !strings.Contains(msg, "READY=1") {
		t.Errorf("notification %q has no READY=1", msg)
	}
	if pid := b.MustState(t).Pid; bundle.IsOcirun(t) && !strings.Contains(msg, "MAINPID="+strconv.Itoa(pid)) {
		t.Errorf("notification %q: want MAINPID=%d", msg, pid)
	}
}
