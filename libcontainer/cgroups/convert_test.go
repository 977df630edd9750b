package cgroups

import (
	"strings"
	"testing"
)

func TestSharesToWeight(t *testing.T) {
	for _, tc := range []struct{ shares, weight uint64 }{
		{0, 0}, {2, 1}, {1024, 39}, {262144, 10000}, {1, 1},
	} {
		if got := SharesToWeight(tc.shares); got != tc.weight {
			t.Errorf("SharesToWeight(%d) = %d, want %d", tc.shares, got, tc.weight)
		}
	}
}

func TestSwapMax(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name        string
		swap, limit *int64
		want        string
		set         bool
		err         string
	}{
		{"both unset", nil, nil, "", false, ""},
		{"limit only", nil, i(100), "", false, ""},
		{"unlimited limit lifts swap", nil, i(-1), "max", true, ""},
		{"swap 0 is unset", i(0), i(100), "", false, ""},
		{"swap unlimited", i(-1), i(100), "max", true, ""},
		{"memory+swap", i(300), i(100), "200", true, ""},
		{"equal: no swap", i(100), i(100), "0", true, ""},
		{"below limit", i(50), i(100), "", false, "is below"},
		{"no limit", i(50), nil, "", false, "needs a positive"},
		{"unlimited limit with swap", i(50), i(-1), "", false, "needs a positive"},
	} {
		got, set, err := SwapMax(tc.swap, tc.limit)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want || set != tc.set {
			t.Errorf("%s: = %q, %v, %v; want %q, %v", tc.name, got, set, err, tc.want, tc.set)
		}
	}
}

func TestBlkioToIOWeight(t *testing.T) {
	for w, want := range map[uint16]uint64{10: 1, 1000: 10000, 500: 4950} {
		if got := BlkioToIOWeight(w); got != want {
			t.Errorf("BlkioToIOWeight(%d) = %d, want %d", w, got, want)
		}
	}
}
