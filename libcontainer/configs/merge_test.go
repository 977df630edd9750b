package configs

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func cgPtr[T any](v T) *T { return &v }

func TestMerge(t *testing.T) {
	tests := []struct {
		name        string
		cur, upd    *Resources
		merged, set string // JSON, compared as text
	}{{
		name:   "nothing saved",
		upd:    &Resources{Memory: &Memory{Limit: cgPtr[int64](200 << 20)}, Pids: &Pids{Limit: 50}},
		merged: `{"memory":{"limit":209715200},"pids":{"limit":50}}`,
		set:    `{"memory":{"limit":209715200},"pids":{"limit":50}}`,
	}, {
		name: "cpu update keeps memory",
		cur: &Resources{
			Devices: []DeviceRule{{Allow: false, Type: 'a', Major: -1, Minor: -1, Access: "rwm"}},
			Memory:  &Memory{Limit: cgPtr[int64](100)},
		},
		upd:    &Resources{CPU: &CPU{Shares: cgPtr[uint64](512)}},
		merged: `{"devices":[{"allow":false,"type":97,"major":-1,"minor":-1,"access":"rwm"}],"memory":{"limit":100},"cpu":{"shares":512}}`,
		set:    `{"cpu":{"shares":512}}`,
	}, {
		name:   "reservation alone is written alone",
		cur:    &Resources{Memory: &Memory{Limit: cgPtr[int64](100), Swap: cgPtr[int64](200)}},
		upd:    &Resources{Memory: &Memory{Reservation: cgPtr[int64](50)}},
		merged: `{"memory":{"limit":100,"reservation":50,"swap":200}}`,
		set:    `{"memory":{"reservation":50}}`,
	}, {
		name:   "limit goes with the saved swap",
		cur:    &Resources{Memory: &Memory{Limit: cgPtr[int64](100), Swap: cgPtr[int64](400), CheckBeforeUpdate: cgPtr(true)}},
		upd:    &Resources{Memory: &Memory{Limit: cgPtr[int64](300)}},
		merged: `{"memory":{"limit":300,"swap":400,"checkBeforeUpdate":true}}`,
		set:    `{"memory":{"limit":300,"swap":400,"checkBeforeUpdate":true}}`,
	}, {
		name:   "cpuset and quota overlay",
		cur:    &Resources{CPU: &CPU{Quota: cgPtr[int64](1000), Period: cgPtr[uint64](100000), Cpus: "0-1"}},
		upd:    &Resources{CPU: &CPU{Quota: cgPtr[int64](5000), Mems: "0"}},
		merged: `{"cpu":{"quota":5000,"period":100000,"cpus":"0-1","mems":"0"}}`,
		set:    `{"cpu":{"quota":5000,"mems":"0"}}`,
	}, {
		name:   "hugetlb by page size, unified by key",
		cur:    &Resources{HugepageLimits: []HugepageLimit{{Pagesize: "2MB", Limit: 1}, {Pagesize: "1GB", Limit: 2}}, Unified: map[string]string{"a": "1"}},
		upd:    &Resources{HugepageLimits: []HugepageLimit{{Pagesize: "1GB", Limit: 3}}, Unified: map[string]string{"b": "2"}},
		merged: `{"hugepageLimits":[{"pageSize":"2MB","limit":1},{"pageSize":"1GB","limit":3}],"unified":{"a":"1","b":"2"}}`,
		set:    `{"hugepageLimits":[{"pageSize":"1GB","limit":3}],"unified":{"b":"2"}}`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before []byte
			if tc.cur != nil {
				before, _ = json.Marshal(tc.cur)
			}
			merged, set := tc.cur.Merge(tc.upd)
			if got, _ := json.Marshal(merged); string(got) != tc.merged {
				t.Errorf("merged = %s\nwant     %s", got, tc.merged)
			}
			if got, _ := json.Marshal(set); string(got) != tc.set {
				t.Errorf("set = %s\nwant  %s", got, tc.set)
			}
			if tc.cur != nil {
				// The saved config must not change before the write succeeds.
				if after, _ := json.Marshal(tc.cur); string(after) != string(before) {
					t.Errorf("Merge modified cur: %s → %s", before, after)
				}
			}
		})
	}
}

// TestMergeHandlesEveryField updates each field of Resources alone (each
// leaf of its nested structs; a list or map as a whole) and checks that
// Merge keeps the new value and writes it. A field added to Resources and
// not handled by Merge fails here. Devices are the one field update leaves
// alone, as runc does.
func TestMergeHandlesEveryField(t *testing.T) {
	notUpdated := map[string]bool{"Devices": true}
	typ := reflect.TypeOf(Resources{})
	var full Resources
	for _, leaf := range leaves(typ, nil) {
		set(reflect.ValueOf(&full).Elem(), leaf, 3)
	}
	for _, leaf := range leaves(typ, nil) {
		name := leafName(typ, leaf)
		upd := &Resources{}
		set(reflect.ValueOf(upd).Elem(), leaf, 7)
		want := get(reflect.ValueOf(upd).Elem(), leaf)
		for _, cur := range []*Resources{nil, &full} {
			merged, apply := cur.Merge(upd)
			gotMerged := get(reflect.ValueOf(merged).Elem(), leaf)
			gotApply := get(reflect.ValueOf(apply).Elem(), leaf)
			if notUpdated[name] {
				if gotApply.IsValid() && !gotApply.IsZero() {
					t.Errorf("%s: written by update: %v", name, gotApply)
				}
				continue
			}
			if !gotApply.IsValid() || !reflect.DeepEqual(gotApply.Interface(), want.Interface()) {
				t.Errorf("%s (saved %v): not written: apply has %v, want %v", name, cur != nil, show(gotApply), show(want))
			}
			switch {
			case !gotMerged.IsValid():
				t.Errorf("%s (saved %v): not kept", name, cur != nil)
			case cur == nil && !reflect.DeepEqual(gotMerged.Interface(), want.Interface()):
				t.Errorf("%s: merged %v, want %v", name, show(gotMerged), show(want))
			case cur != nil && reflect.DeepEqual(gotMerged.Interface(), get(reflect.ValueOf(cur).Elem(), leaf).Interface()):
				t.Errorf("%s: the saved value %v was kept over the update", name, show(gotMerged))
			}
		}
	}
}

// leaves lists the field index paths of typ's leaves: fields that are not
// structs nor pointers to structs.
func leaves(typ reflect.Type, prefix []int) [][]int {
	var out [][]int
	for i := range typ.NumField() {
		path := append(slices.Clone(prefix), i)
		ft := typ.Field(i).Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			out = append(out, leaves(ft, path)...)
			continue
		}
		out = append(out, path)
	}
	return out
}

func leafName(typ reflect.Type, path []int) string {
	var names []string
	for _, i := range path {
		if typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		f := typ.Field(i)
		names = append(names, f.Name)
		typ = f.Type
	}
	return strings.Join(names, ".")
}

// set gives the leaf at path a value derived from n, allocating the structs
// on the way; get reads it back (invalid when a struct on the way is nil).
func set(v reflect.Value, path []int, n int) {
	for _, i := range path[:len(path)-1] {
		v = v.Field(i)
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
	}
	f := v.Field(path[len(path)-1])
	f.Set(sample(f.Type(), n))
}

func get(v reflect.Value, path []int) reflect.Value {
	for _, i := range path[:len(path)-1] {
		v = v.Field(i)
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}
			}
			v = v.Elem()
		}
	}
	return v.Field(path[len(path)-1])
}

// sample is a value of t built from n (non-zero but for the bool of a small
// n): lists hold one element, maps one entry, structs have every field set.
func sample(t reflect.Type, n int) reflect.Value {
	v := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(t.Elem()))
		v.Elem().Set(sample(t.Elem(), n))
	case reflect.Bool:
		v.SetBool(n > 5) // the saved (3) and the updated (7) values differ
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(n))
	case reflect.String:
		v.SetString(strconv.Itoa(n))
	case reflect.Slice:
		v.Set(reflect.Append(v, sample(t.Elem(), n)))
	case reflect.Map:
		v.Set(reflect.MakeMap(t))
		v.SetMapIndex(sample(t.Key(), n), sample(t.Elem(), n))
	case reflect.Struct:
		for i := range t.NumField() {
			v.Field(i).Set(sample(t.Field(i).Type, n))
		}
	default:
		panic("sample: unhandled kind " + t.Kind().String())
	}
	return v
}

func show(v reflect.Value) any {
	if !v.IsValid() {
		return "nothing"
	}
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		return v.Elem().Interface()
	}
	return v.Interface()
}
