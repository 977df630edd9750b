package main

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"1048576", 1048576, false},
		{"-1", -1, false},
		{"512k", 512 << 10, false},
		{"512KB", 512 << 10, false},
		{"200M", 200 << 20, false},
		{"200m", 200 << 20, false},
		{"200MiB", 200 << 20, false},
		{"1.5g", 3 << 29, false},
		{"2T", 2 << 40, false},
		{"10b", 10, false},
		{"", 0, true},
		{"M", 0, true},
		{"lots", 0, true},
		{"12x", 0, true},
		{"-2", 0, true},
		{"1.2.3m", 0, true},
		{"99999999p", 0, true},
	}
	for _, tc := range tests {
		got, err := parseSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}
