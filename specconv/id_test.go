package specconv

import (
	"strings"
	"testing"
)

func TestValidateID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"a", true},
		{"0", true},
		{"abc-DEF_1.2+3", true},
		{strings.Repeat("x", 1024), true},
		{strings.Repeat("x", 1025), false},
		{"", false},
		{".", false},
		{"..", false},
		{".hidden", false},
		{"-flag", false},
		{"_x", false},
		{"a/b", false},
		{"../etc", false},
		{"a b", false},
		{"a\x00", false},
		{"é", false},
		{"a:b", false},
	}
	for _, tc := range tests {
		err := ValidateID(tc.id)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateID(%.20q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}
