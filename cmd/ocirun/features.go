package main

import (
	"encoding/json"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/urfave/cli/v2"

	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/seccomp"
	"github.com/ocirun/ocirun/specconv"
)

var featuresCommand = &cli.Command{
	Name:  "features",
	Usage: "show the enabled features",
	Description: `Show what this ocirun implements, as the runtime-spec features.md JSON:
clients such as containerd read it to decide what they may ask for.`,
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 0); err != nil {
			return err
		}
		b, err := json.MarshalIndent(ociFeatures(), "", "    ")
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(append(b, '\n'))
		return err
	},
}

// ociFeatures is built from the same tables the validation uses, so it
// cannot claim what the code refuses (a golden test pins the result).
func ociFeatures() *features.Features {
	t, f := true, false
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  specconv.KnownMountOptions(),
		Linux: &features.Linux{
			Namespaces:   specconv.KnownNamespaces(),
			Capabilities: specconv.KnownCapabilities(),
			Cgroup:       &features.Cgroup{V1: &t, V2: &t, Systemd: &t, SystemdUser: &f, Rdma: &t},
			Seccomp:      seccompFeatures(),
			// Whether support is built in, not whether this host enforces
			// the LSM (features.md: decided at build time): ocirun applies
			// profiles and labels where the host has them and refuses them
			// where it has not, as runc, which reports both true.
			Apparmor: &features.Apparmor{Enabled: &t},
			Selinux:  &features.Selinux{Enabled: &t},
			IntelRdt: &features.IntelRdt{Enabled: &f},
			MountExtensions: &features.MountExtensions{
				IDMap: &features.IDMap{Enabled: &t},
			},
			NetDevices: &features.NetDevices{Enabled: &f},
			MemoryPolicy: &features.MemoryPolicy{
				Modes: specconv.MemoryPolicyModes(),
				Flags: specconv.MemoryPolicyFlags(),
			},
		},
		Annotations: map[string]string{
			"io.github.ocirun.version":            version,
			"io.github.ocirun.checkpoint.enabled": strconv.FormatBool(checkpointBuilt),
			// Clients that would leave the mount namespace out learn here,
			// before create refuses it, that ocirun requires one.
			"io.github.ocirun.linux.namespaces.mount": "required: " + specconv.MountNamespaceReason,
		},
	}
}

// seccompFeatures reports what the code implements (actions, operators,
// flags it knows) and, for supportedFlags and archs, what this kernel and the
// linked libseccomp can do, as runc reports them.
func seccompFeatures() *features.Seccomp {
	on := seccomp.Supported()
	return &features.Seccomp{
		Enabled:        &on,
		Actions:        seccomp.Actions(),
		Operators:      seccomp.Operators(),
		Archs:          seccomp.Archs(),
		KnownFlags:     configs.SeccompFlags,
		SupportedFlags: seccomp.Flags(),
	}
}
