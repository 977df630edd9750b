package libcontainer

import (
	"encoding/json"
	"testing"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

func cgPtr[T any](v T) *T { return &v }

func TestMergeResources(t *testing.T) {
	tests := []struct {
		name        string
		cur, upd    *configs.Resources
		merged, set string // JSON, compared as text
	}{{
		name:   "nothing saved",
		upd:    &configs.Resources{Memory: &configs.Memory{Limit: cgPtr[int64](200 << 20)}, Pids: &configs.Pids{Limit: 50}},
		merged: `{"memory":{"limit":209715200},"pids":{"limit":50}}`,
		set:    `{"memory":{"limit":209715200},"pids":{"limit":50}}`,
	}, {
		name: "cpu update keeps memory",
		cur: &configs.Resources{
			Devices: []configs.DeviceRule{{Allow: false, Type: 'a', Major: -1, Minor: -1, Access: "rwm"}},
			Memory:  &configs.Memory{Limit: cgPtr[int64](100)},
		},
		upd:    &configs.Resources{CPU: &configs.CPU{Shares: cgPtr[uint64](512)}},
		merged: `{"devices":[{"allow":false,"type":97,"major":-1,"minor":-1,"access":"rwm"}],"memory":{"limit":100},"cpu":{"shares":512}}`,
		set:    `{"cpu":{"shares":512}}`,
	}, {
		name:   "reservation alone is written alone",
		cur:    &configs.Resources{Memory: &configs.Memory{Limit: cgPtr[int64](100), Swap: cgPtr[int64](200)}},
		upd:    &configs.Resources{Memory: &configs.Memory{Reservation: cgPtr[int64](50)}},
		merged: `{"memory":{"limit":100,"reservation":50,"swap":200}}`,
		set:    `{"memory":{"reservation":50}}`,
	}, {
		name:   "limit goes with the saved swap",
		cur:    &configs.Resources{Memory: &configs.Memory{Limit: cgPtr[int64](100), Swap: cgPtr[int64](400), CheckBeforeUpdate: cgPtr(true)}},
		upd:    &configs.Resources{Memory: &configs.Memory{Limit: cgPtr[int64](300)}},
		merged: `{"memory":{"limit":300,"swap":400,"checkBeforeUpdate":true}}`,
		set:    `{"memory":{"limit":300,"swap":400,"checkBeforeUpdate":true}}`,
	}, {
		name:   "cpuset and quota overlay",
		cur:    &configs.Resources{CPU: &configs.CPU{Quota: cgPtr[int64](1000), Period: cgPtr[uint64](100000), Cpus: "0-1"}},
		upd:    &configs.Resources{CPU: &configs.CPU{Quota: cgPtr[int64](5000), Mems: "0"}},
		merged: `{"cpu":{"quota":5000,"period":100000,"cpus":"0-1","mems":"0"}}`,
		set:    `{"cpu":{"quota":5000,"mems":"0"}}`,
	}, {
		name:   "hugetlb by page size, unified by key",
		cur:    &configs.Resources{HugepageLimits: []configs.HugepageLimit{{Pagesize: "2MB", Limit: 1}, {Pagesize: "1GB", Limit: 2}}, Unified: map[string]string{"a": "1"}},
		upd:    &configs.Resources{HugepageLimits: []configs.HugepageLimit{{Pagesize: "1GB", Limit: 3}}, Unified: map[string]string{"b": "2"}},
		merged: `{"hugepageLimits":[{"pageSize":"2MB","limit":1},{"pageSize":"1GB","limit":3}],"unified":{"a":"1","b":"2"}}`,
		set:    `{"hugepageLimits":[{"pageSize":"1GB","limit":3}],"unified":{"b":"2"}}`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before []byte
			if tc.cur != nil {
				before, _ = json.Marshal(tc.cur)
			}
			merged, set := mergeResources(tc.cur, tc.upd)
			if got, _ := json.Marshal(merged); string(got) != tc.merged {
				t.Errorf("merged = %s\nwant     %s", got, tc.merged)
			}
			if got, _ := json.Marshal(set); string(got) != tc.set {
				t.Errorf("set = %s\nwant  %s", got, tc.set)
			}
			if tc.cur != nil {
				// The saved config must not change before the write succeeds.
				if after, _ := json.Marshal(tc.cur); string(after) != string(before) {
					t.Errorf("mergeResources modified cur: %s → %s", before, after)
				}
			}
		})
	}
}
