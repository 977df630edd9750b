package systemd

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

func ptr[T any](v T) *T { return &v }

// propList renders props as "Name=value" in order, for comparison.
func propList(props []sddbus.Property) []string {
	var out []string
	for _, p := range props {
		out = append(out, fmt.Sprintf("%s=%v", p.Name, p.Value.Value()))
	}
	return out
}

func TestResourceProperties(t *testing.T) {
	inf := fmt.Sprint(infinity)
	for _, tc := range []struct {
		name string
		r    *configs.Resources
		v2   bool
		want []string
		err  string
	}{
		{name: "nil", r: nil},
		{name: "empty v1", r: &configs.Resources{}},
		{
			name: "v1 all",
			r: &configs.Resources{
				Memory:  &configs.Memory{Limit: ptr[int64](64 << 20), Reservation: ptr[int64](1 << 20)},
				CPU:     &configs.CPU{Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000)},
				BlockIO: &configs.BlockIO{Weight: ptr[uint16](300)},
				Pids:    &configs.Pids{Limit: 100},
			},
			want: []string{
				"MemoryLimit=67108864", "CPUShares=512", "CPUQuotaPerSecUSec=500000",
				"CPUQuotaPeriodUSec=100000", "BlockIOWeight=300", "TasksMax=100",
			},
		},
		{
			name: "v1 unlimited",
			r: &configs.Resources{
				Memory: &configs.Memory{Limit: ptr[int64](-1)},
				CPU:    &configs.CPU{Quota: ptr[int64](-1)},
				Pids:   &configs.Pids{Limit: -1},
			},
			want: []string{"MemoryLimit=" + inf, "CPUQuotaPerSecUSec=" + inf, "TasksMax=" + inf},
		},
		{
			// systemd's TasksMax is at least 1; pids.max 0 is cgroupfs's to write.
			name: "pids limit 0",
			r:    &configs.Resources{Pids: &configs.Pids{Limit: 0}},
			want: []string{"TasksMax=1"},
		},
		{
			// 33333/100000 of a CPU is 333.33 ms per second: systemd keeps
			// whole percents, so it is rounded up to 340 ms.
			name: "quota rounded up, default period",
			r:    &configs.Resources{CPU: &configs.CPU{Quota: ptr[int64](33333)}},
			want: []string{"CPUQuotaPerSecUSec=340000"},
		},
		{
			name: "quota with a short period",
			r:    &configs.Resources{CPU: &configs.CPU{Quota: ptr[int64](20000), Period: ptr[uint64](10000)}},
			want: []string{"CPUQuotaPerSecUSec=2000000", "CPUQuotaPeriodUSec=10000"},
		},
		{
			name: "v2 all",
			v2:   true,
			r: &configs.Resources{
				Memory:  &configs.Memory{Limit: ptr[int64](100), Reservation: ptr[int64](50), Swap: ptr[int64](300)},
				CPU:     &configs.CPU{Shares: ptr[uint64](1024), Quota: ptr[int64](50000), Cpus: "0-2,9", Mems: "0"},
				BlockIO: &configs.BlockIO{Weight: ptr[uint16](10)},
				Pids:    &configs.Pids{Limit: -1},
			},
			want: []string{
				"MemoryMax=100", "MemoryLow=50", "MemorySwapMax=200", "CPUWeight=39",
				"CPUQuotaPerSecUSec=500000", "AllowedCPUs=[7 2]", "AllowedMemoryNodes=[1]",
				"IOWeight=1", "TasksMax=" + inf,
			},
		},
		{
			name: "v2 unlimited swap",
			v2:   true,
			r:    &configs.Resources{Memory: &configs.Memory{Limit: ptr[int64](100), Swap: ptr[int64](-1)}},
			want: []string{"MemoryMax=100", "MemorySwapMax=" + inf},
		},
		{
			name: "v2 unified after the typed fields",
			v2:   true,
			r: &configs.Resources{
				Memory: &configs.Memory{Limit: ptr[int64](100)},
				Unified: map[string]string{
					"memory.max": "max", "memory.high": "80", "pids.max": "7",
					"cpu.weight": "42", "cpuset.cpus": "1", "io.max": "ignored",
				},
			},
			want: []string{
				"MemoryMax=100", "CPUWeight=42", "AllowedCPUs=[2]", "MemoryHigh=80",
				"MemoryMax=" + inf, "TasksMax=7",
			},
		},
		{
			name: "v2 swap below limit",
			v2:   true,
			r:    &configs.Resources{Memory: &configs.Memory{Limit: ptr[int64](100), Swap: ptr[int64](50)}},
			err:  "linux.resources.memory.swap",
		},
		{
			name: "v2 bad cpus",
			v2:   true,
			r:    &configs.Resources{CPU: &configs.CPU{Cpus: "3-1"}},
			err:  "linux.resources.cpu.cpus",
		},
		{
			name: "v2 bad unified",
			v2:   true,
			r:    &configs.Resources{Unified: map[string]string{"memory.high": "lots"}},
			err:  `linux.resources.unified["memory.high"]`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			props, err := resourceProperties(tc.r, tc.v2)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, %v; want error with %q", propList(props), err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := propList(props); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestStartProperties(t *testing.T) {
	scope := propList(startProperties(Unit{Name: "ocirun-a.scope", Slice: "system.slice"}, 42, false))
	want := []string{
		"Description=ocirun container ocirun-a.scope", "DefaultDependencies=false",
		"MemoryAccounting=true", "CPUAccounting=true", "TasksAccounting=true",
		"BlockIOAccounting=true", "Slice=system.slice", "Delegate=true", "PIDs=[42]",
	}
	if !reflect.DeepEqual(scope, want) {
		t.Errorf("scope v1:\n got  %q\n want %q", scope, want)
	}
	slice := propList(startProperties(Unit{Name: "system-foo.slice", Slice: "system.slice"}, 42, true))
	want = []string{
		"Description=ocirun container system-foo.slice", "DefaultDependencies=false",
		"MemoryAccounting=true", "CPUAccounting=true", "TasksAccounting=true",
		"IOAccounting=true", "Wants=[system.slice]",
	}
	if !reflect.DeepEqual(slice, want) {
		t.Errorf("slice v2:\n got  %q\n want %q", slice, want)
	}
}

func TestListToMask(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []byte
	}{
		{"0", []byte{1}},
		{"7", []byte{0x80}},
		{"8", []byte{0, 1}},
		{"0-3,8-9", []byte{0x0f, 0x03}},
		{" 1,1 ", []byte{2}},
		{"", nil},
		{"a", nil},
		{"2-", nil},
		{"-1", nil},
	} {
		got, err := listToMask(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("listToMask(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("listToMask(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}
