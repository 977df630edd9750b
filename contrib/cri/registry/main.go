// Command registry serves, read-only and on loopback, the images that
// cri-tools' critest pulls (registry.k8s.io/e2e-test-images/busybox:1.29-2,
// gcr.io/k8s-staging-cri-tools/test-image-*, pause, ...), built here from a
// static busybox, so that `make test-cri` needs no registry on the network.
// containerd's CRI plugin is pointed at it as the mirror of every registry
// host critest names; the host part of a name is not looked at.
//
// Run as "nnp" (argv[0]), the same binary is the nonewprivs image's program:
// it is installed setuid root there and prints its effective uid.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// epoch keeps every blob byte-identical across runs.
var epoch = time.Unix(0, 0).UTC()

const (
	manifestType = "application/vnd.oci.image.manifest.v1+json"
	configType   = "application/vnd.oci.image.config.v1+json"
	layerType    = "application/vnd.oci.image.layer.v1.tar"
)

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type file struct {
	name string
	mode int64
	data []byte
}

// image is one test image: busybox plus files, with its own config.
type image struct {
	refs  []string // repository:tag, without the registry host
	cmd   []string
	user  string
	files []file
}

// webCmd serves /www on port with busybox httpd; sh is PID 1 and exits on
// SIGTERM, as the real images' servers do.
// The security-context tests read nginx's /var/run/nginx.pid and look for
// "master process" in PID 1's command line: this one has both.
func webCmd(port int, banner string) []string {
	return []string{"/bin/sh", "-c", fmt.Sprintf("trap 'exit 0' TERM INT; echo $$ >/var/run/nginx.pid; echo %s; httpd -f -p %d -h /www & wait # nginx: master process", banner, port)}
}

var www = file{"www/index.html", 0o644, []byte("<html><body>ocirun cri test</body></html>\n")}

func images() []image {
	marker := func(n string) []file { return []file{{n, 0o644, []byte(n + "\n")}} }
	return []image{
		{refs: []string{"e2e-test-images/busybox:1.29-2"}, cmd: []string{"sh"}},
		// The sandbox image: this binary as "pause", waiting for a signal
		// (a shell's `sleep` would show in `pgrep sleep` of a shared PID
		// namespace).
		{refs: []string{"pause:3.9"}, cmd: []string{"/pause"}},
		{refs: []string{"e2e-test-images/nginx:1.14-2"}, cmd: webCmd(80, "nginx"), files: []file{www}},
		// The multi-container test looks for "httpd" in its log.
		{refs: []string{"e2e-test-images/httpd:2.4.39-4"}, cmd: webCmd(80, "httpd"), files: []file{www}},
		{refs: []string{"k8s-staging-cri-tools/hostnet-nginx-" + runtime.GOARCH + ":latest"}, cmd: webCmd(12003, "nginx"), files: []file{www}},
		{refs: []string{"e2e-test-images/nonewprivs:1.3"}, cmd: []string{"/nnp"}},
		{refs: []string{"k8s-staging-cri-tools/test-image-latest:latest"}, cmd: []string{"sh"}, files: marker("test-image-latest")},
		{refs: []string{"k8s-staging-cri-tools/test-image-tag:test"}, cmd: []string{"sh"}, files: marker("test-image-tag")},
		{refs: []string{"k8s-staging-cri-tools/test-image-tag:all"}, cmd: []string{"sh"}, files: marker("test-image-tag-all")},
		{refs: []string{"k8s-staging-cri-tools/test-image-1:latest"}, cmd: []string{"sh"}, files: marker("test-image-1")},
		{refs: []string{"k8s-staging-cri-tools/test-image-2:latest"}, cmd: []string{"sh"}, files: marker("test-image-2")},
		{refs: []string{"k8s-staging-cri-tools/test-image-3:latest"}, cmd: []string{"sh"}, files: marker("test-image-3")},
		{refs: []string{"k8s-staging-cri-tools/test-image-tags:1", "k8s-staging-cri-tools/test-image-tags:2", "k8s-staging-cri-tools/test-image-tags:3"}, cmd: []string{"sh"}, files: marker("test-image-tags")},
		{refs: []string{"k8s-staging-cri-tools/test-image-user-uid:latest"}, cmd: []string{"sh"}, user: "1002"},
		{refs: []string{"k8s-staging-cri-tools/test-image-user-username:latest"}, cmd: []string{"sh"}, user: "www-data"},
		{refs: []string{"k8s-staging-cri-tools/test-image-user-uid-group:latest"}, cmd: []string{"sh"}, user: "1003:users"},
		{refs: []string{"k8s-staging-cri-tools/test-image-user-username-group:latest"}, cmd: []string{"sh"}, user: "www-data:users"},
		{refs: []string{"k8s-staging-cri-tools/test-image-predefined-group:latest"}, cmd: []string{"sh"}, user: "1000", files: []file{
			{"etc/passwd", 0o644, []byte(basePasswd + "default-user:x:1000:1000::/home/default-user:/bin/sh\n")},
			{"etc/group", 0o644, []byte(baseGroup + "default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n")},
		}},
	}
}

// As in the busybox image critest's own images start from.
const (
	basePasswd = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
	baseGroup  = "root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nusers:x:100:\nnogroup:x:65534:\n"
)

type registry struct {
	blobs     map[string][]byte // digest -> content
	manifests map[string]string // "repo:tag" and "repo@digest" -> manifest digest
}

func (r *registry) add(data []byte) descriptor {
	sum := sha256.Sum256(data)
	d := "sha256:" + hex.EncodeToString(sum[:])
	r.blobs[d] = data
	return descriptor{Digest: d, Size: int64(len(data))}
}

func (r *registry) build(busybox, selfPath string) error {
	base, err := baseLayer(busybox)
	if err != nil {
		return err
	}
	self, err := os.ReadFile(selfPath)
	if err != nil {
		return err
	}
	baseDesc := r.add(base)
	baseDesc.MediaType = layerType
	for _, img := range images() {
		layers := []descriptor{baseDesc}
		files := img.files
		switch img.cmd[0] {
		case "/nnp":
			files = append(files, file{"nnp", 0o4755, self})
		case "/pause":
			files = append(files, file{"pause", 0o755, self})
		}
		if len(files) > 0 {
			l, err := layer(nil, files)
			if err != nil {
				return err
			}
			d := r.add(l)
			d.MediaType = layerType
			layers = append(layers, d)
		}
		diffIDs := make([]string, len(layers))
		for i, l := range layers {
			diffIDs[i] = l.Digest // uncompressed: the diff id is the digest
		}
		config, err := json.Marshal(map[string]any{
			"created":      epoch.Format(time.RFC3339),
			"architecture": runtime.GOARCH,
			"os":           "linux",
			"config": map[string]any{
				"Env":        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
				"Cmd":        img.cmd,
				"User":       img.user,
				"WorkingDir": "/",
			},
			"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
		})
		if err != nil {
			return err
		}
		cd := r.add(config)
		cd.MediaType = configType
		manifest, err := json.Marshal(map[string]any{
			"schemaVersion": 2,
			"mediaType":     manifestType,
			"config":        cd,
			"layers":        layers,
		})
		if err != nil {
			return err
		}
		md := r.add(manifest)
		for _, ref := range img.refs {
			repo, _, _ := strings.Cut(ref, ":")
			r.manifests[ref] = md.Digest
			r.manifests[repo+"@"+md.Digest] = md.Digest
		}
	}
	return nil
}

// ServeHTTP answers the pull side of the distribution API:
// /v2/, /v2/<name>/manifests/<tag|digest> and /v2/<name>/blobs/<digest>.
func (r *registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		http.Error(w, "read-only registry", http.StatusMethodNotAllowed)
		return
	}
	p := req.URL.Path
	if p == "/v2/" || p == "/v2" {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		return
	}
	var digest, ctype string
	if i := strings.LastIndex(p, "/manifests/"); strings.HasPrefix(p, "/v2/") && i > 0 {
		name, ref := p[len("/v2/"):i], p[i+len("/manifests/"):]
		key := name + ":" + ref
		if strings.HasPrefix(ref, "sha256:") {
			key = name + "@" + ref
		}
		digest, ctype = r.manifests[key], manifestType
	} else if i := strings.LastIndex(p, "/blobs/"); strings.HasPrefix(p, "/v2/") && i > 0 {
		digest, ctype = p[i+len("/blobs/"):], "application/octet-stream"
	}
	data, ok := r.blobs[digest]
	if digest == "" || !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintln(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"not in the ocirun test registry"}]}`)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Docker-Content-Digest", digest)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	if req.Method == http.MethodGet {
		_, _ = w.Write(data)
	}
}

func main() {
	switch filepath.Base(os.Args[0]) {
	case "nnp":
		fmt.Printf("Effective uid: %d\n", os.Geteuid())
		return
	case "pause":
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, unix.SIGTERM, unix.SIGINT)
		<-sig
		return
	}
	busybox := flag.String("busybox", "/bin/busybox", "static busybox binary the images hold")
	listen := flag.String("listen", "127.0.0.1:5000", "address to serve on (loopback)")
	list := flag.Bool("list", false, "print the references served and exit")
	flag.Parse()
	if *list {
		for _, img := range images() {
			for _, ref := range img.refs {
				fmt.Println(ref)
			}
		}
		return
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(1)
	}
	r := &registry{blobs: map[string][]byte{}, manifests: map[string]string{}}
	if err := r.build(*busybox, self); err != nil {
		fmt.Fprintln(os.Stderr, "registry: building the images:", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(1)
	}
	fmt.Printf("registry: %d manifests, %d blobs on http://%s\n", len(r.manifests), len(r.blobs), ln.Addr())
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintln(os.Stderr, "registry:", srv.Serve(ln))
	os.Exit(1)
}

// baseLayer holds busybox, one symlink per applet and the files a shell,
// `id` and the image-user tests expect.
func baseLayer(busybox string) ([]byte, error) {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", busybox, err)
	}
	var links []string
	for _, p := range strings.Fields(string(out)) {
		switch path.Dir(p) {
		case "bin", "sbin", "usr/bin", "usr/sbin":
			if p != "bin/busybox" {
				links = append(links, p)
			}
		}
	}
	if len(links) == 0 {
		return nil, errors.New(busybox + " --list-full: no applets listed")
	}
	sort.Strings(links)
	return layer(links, []file{
		{"bin/busybox", 0o755, bin},
		{"etc/passwd", 0o644, []byte(basePasswd)},
		{"etc/group", 0o644, []byte(baseGroup)},
		{"usr/bin/pgrep", 0o755, []byte(pgrep)},
		{"usr/bin/ipcs", 0o755, []byte(ipcs)},
	})
}

// Debian's busybox-static has neither pgrep nor ipcs, which the tests run.
const (
	pgrep = `#!/bin/sh
# pgrep NAME: the pids of the processes whose name holds NAME.
st=1
for d in /proc/[0-9]*; do
	read -r comm <"$d/comm" 2>/dev/null || continue
	case $comm in *"$1"*) echo "${d#/proc/}"; st=0 ;; esac
done
exit $st
`
	ipcs = `#!/bin/sh
# ipcs -m: the System V shared memory segments of this IPC namespace.
echo "------ Shared Memory Segments --------"
echo "key        shmid      perms      bytes"
sed 1d /proc/sysvipc/shm | while read -r key id perms size _; do echo "$key $id $perms $size"; done
`
)

// layer writes an uncompressed layer: the directories its files need, the
// files, and hard links to /bin/busybox (as in the busybox image: a masked
// /bin/ls must not mask busybox itself, as a symlink's target would be).
func layer(links []string, files []file) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	want := []string{"bin", "dev", "etc", "home", "proc", "root", "sbin", "sys", "tmp", "usr", "usr/bin", "usr/sbin", "var", "var/run"}
	if links == nil {
		want = nil
	}
	for _, f := range files {
		for d := path.Dir(f.name); d != "."; d = path.Dir(d) {
			want = append(want, d)
		}
	}
	sort.Strings(want)
	for _, d := range want {
		if dirs[d] {
			continue
		}
		dirs[d] = true
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.Copy(tw, bytes.NewReader(f.data)); err != nil {
			return nil, err
		}
	}
	for _, l := range links {
		// A hard link's mode is applied to the inode it shares: keep busybox 0755.
		h := &tar.Header{Typeflag: tar.TypeLink, Name: l, Linkname: "bin/busybox", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
