// Command mkimage writes a busybox OCI image archive (an OCI image layout in
// a tar: oci-layout, index.json, blobs/sha256/...) that `ctr images import`
// and `podman load` accept, so client tests need no registry.
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
	"os"
	"os/exec"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"
)

// epoch keeps the archive byte-identical across runs, so repeated imports
// reuse the same content in the client's store.
var epoch = time.Unix(0, 0).UTC()

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type archiveFile struct {
	name string
	data []byte
}

type blob struct {
	digest string
	data   []byte
}

func newBlob(data []byte) blob {
	sum := sha256.Sum256(data)
	return blob{digest: "sha256:" + hex.EncodeToString(sum[:]), data: data}
}

func main() {
	busybox := flag.String("busybox", "/bin/busybox", "static busybox binary to put in the image")
	out := flag.String("o", "", "output archive path (required)")
	name := flag.String("name", "docker.io/ocirun/busybox:test", "full image reference stored in index.json")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "mkimage: -o is required")
		os.Exit(2)
	}
	if err := run(*busybox, *out, *name); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(busybox, out, name string) error {
	layer, err := rootfsLayer(busybox)
	if err != nil {
		return err
	}
	layerBlob := newBlob(layer)

	config, err := json.Marshal(map[string]any{
		"created":      epoch.Format(time.RFC3339),
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config": map[string]any{
			"Env":        []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
			"Cmd":        []string{"/bin/sh"},
			"WorkingDir": "/",
		},
		"rootfs": map[string]any{
			"type": "layers",
			// The layer is stored uncompressed, so its diff id is its digest.
			"diff_ids": []string{layerBlob.digest},
		},
	})
	if err != nil {
		return fmt.Errorf("image config: %w", err)
	}
	configBlob := newBlob(config)

	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config": descriptor{
			MediaType: "application/vnd.oci.image.config.v1+json",
			Digest:    configBlob.digest, Size: int64(len(configBlob.data)),
		},
		"layers": []descriptor{{
			MediaType: "application/vnd.oci.image.layer.v1.tar",
			Digest:    layerBlob.digest, Size: int64(len(layerBlob.data)),
		}},
	})
	if err != nil {
		return fmt.Errorf("image manifest: %w", err)
	}
	manifestBlob := newBlob(manifest)

	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []descriptor{{
			MediaType: "application/vnd.oci.image.manifest.v1+json",
			Digest:    manifestBlob.digest, Size: int64(len(manifestBlob.data)),
			Platform: &platform{Architecture: runtime.GOARCH, OS: "linux"},
			// containerd names the image after io.containerd.image.name;
			// podman and skopeo read the OCI ref.name.
			Annotations: map[string]string{
				"io.containerd.image.name":          name,
				"org.opencontainers.image.ref.name": refTag(name),
			},
		}},
	})
	if err != nil {
		return fmt.Errorf("image index: %w", err)
	}

	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	files := []archiveFile{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
	}
	for _, b := range []blob{layerBlob, configBlob, manifestBlob} {
		files = append(files, archiveFile{"blobs/sha256/" + strings.TrimPrefix(b.digest, "sha256:"), b.data})
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(dirHeader(d)); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", out, err)
		}
	}
	for _, e := range files {
		if err := writeFile(tw, e.name, 0o644, e.data); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", out, err)
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", out, err)
	}
	return f.Close()
}

// refTag returns the tag of a reference such as docker.io/ocirun/busybox:test.
func refTag(ref string) string {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	return "latest"
}

// rootfsLayer returns an uncompressed layer tar holding busybox, one symlink
// per applet and the few files a shell and `id` expect.
func rootfsLayer(busybox string) ([]byte, error) {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, err
	}
	applets, err := appletPaths(busybox)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := []string{"bin/", "dev/", "etc/", "proc/", "root/", "sbin/", "sys/", "tmp/", "usr/", "usr/bin/", "usr/sbin/", "var/"}
	for _, d := range dirs {
		h := dirHeader(d)
		if d == "tmp/" {
			h.Mode = 0o1777
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
	}
	if err := writeFile(tw, "bin/busybox", 0o755, bin); err != nil {
		return nil, err
	}
	for _, a := range applets {
		if a == "bin/busybox" {
			continue
		}
		h := &tar.Header{Typeflag: tar.TypeSymlink, Name: a, Linkname: "/bin/busybox", Mode: 0o777, ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
	}
	etc := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for _, n := range []string{"etc/group", "etc/passwd"} {
		if err := writeFile(tw, n, 0o644, []byte(etc[n])); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// appletPaths asks busybox where each applet lives (bin/sh, usr/bin/env, ...)
// and keeps those under the directories the layer creates.
func appletPaths(busybox string) ([]string, error) {
	out, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", busybox, err)
	}
	var paths []string
	for _, p := range strings.Fields(string(out)) {
		switch path.Dir(p) {
		case "bin", "sbin", "usr/bin", "usr/sbin":
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return nil, errors.New(busybox + " --list-full: no applets listed")
	}
	sort.Strings(paths)
	return paths, nil
}

func dirHeader(name string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}
}

func writeFile(tw *tar.Writer, name string, mode int64, data []byte) error {
	h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err := io.Copy(tw, bytes.NewReader(data))
	return err
}
