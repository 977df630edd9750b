package plainjson

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

type encKinds struct {
	S     string            `json:"s"`
	SO    string            `json:"so,omitempty"`
	I     int               `json:"i"`
	IO    int64             `json:"io,omitempty"`
	U8    uint8             `json:"u8"`
	UO    uint32            `json:"uo,omitempty"`
	B     bool              `json:"b"`
	BO    bool              `json:"bo,omitempty"`
	P     *inner            `json:"p"`
	PO    *inner            `json:"po,omitempty"`
	L     []string          `json:"l"`
	LO    []string          `json:"lo,omitempty"`
	LP    []*inner          `json:"lp"`
	M     map[string]string `json:"m"`
	MO    map[string]int    `json:"mo,omitempty"`
	MN    namedMap          `json:"mn"`
	In    inner             `json:"in,omitempty"`
	T     time.Time         `json:"t"`
	PT    *time.Time        `json:"pt,omitempty"`
	R     rune              `json:"r"`
	Mode  os.FileMode       `json:"mode"`
	NoTag string
	Punct string `json:"a<b>&c"`
	Skip  string `json:"-"`
	//lint:ignore U1000 encoding/json must skip it too
	hidden string
}

// encOdd has what Marshal leaves to encoding/json.
type encOdd struct {
	F   float64         `json:"f"`
	Any any             `json:"any"`
	Byt []byte          `json:"byt"`
	Arr [2]int          `json:"arr"`
	Raw json.RawMessage `json:"raw"`
	Z   int             `json:"z,omitzero"`
	Str int             `json:"str,string"`
}

// sameEncoding marshals v with both and fails unless bytes and errors agree;
// it reports whether the fast path took it.
func sameEncoding(t *testing.T, v any) bool {
	t.Helper()
	want, werr := json.Marshal(v)
	got, gerr := Marshal(v)
	if string(got) != string(want) || fmt.Sprint(gerr) != fmt.Sprint(werr) {
		t.Fatalf("Marshal(%#v):\n got %s, %v\nwant %s, %v", v, got, gerr, want, werr)
	}
	want, werr = json.MarshalIndent(v, "", "  ")
	got, gerr = MarshalIndent(v, "", "  ")
	if string(got) != string(want) || fmt.Sprint(gerr) != fmt.Sprint(werr) {
		t.Fatalf("MarshalIndent(%#v):\n got %s, %v\nwant %s, %v", v, got, gerr, want, werr)
	}
	_, fast := encode(v)
	return fast
}

func TestMarshalSameAsEncodingJSON(t *testing.T) {
	one := 1
	ts := time.Date(2024, 2, 3, 4, 5, 6, 789, time.FixedZone("x", 3600))
	fast := []any{
		nil, "", "a\"b\\c<d>e&f", 0, -1, true, (*inner)(nil), &inner{A: "x", B: &one}, []string(nil), []string{},
		map[string]string(nil), map[string]string{}, map[string]string{"b": "1", "a": "2", "": "3"},
		encKinds{}, &encKinds{
			S: "s", SO: "so", I: -5, IO: 6, U8: 255, UO: 7, B: true, BO: true, P: &inner{}, PO: &inner{A: "a"},
			L: []string{"x", ""}, LO: []string{"y"}, LP: []*inner{nil, {A: "z"}}, M: map[string]string{"k": "v"},
			MO: map[string]int{"z": 1, "a": 2}, MN: namedMap{"n": "m"}, In: inner{A: "in"}, T: ts, PT: &ts,
			R: 'x', Mode: 0o755, NoTag: "nt", Punct: "p", Skip: "skip", hidden: "h",
		},
		configs.Config{}, &configs.Config{Rootfs: "/r", Namespaces: []configs.Namespace{{Type: "pid"}}, Process: configs.Process{Args: []string{"sh"}}},
		specs.State{Version: "1", ID: "x", Status: "created", Pid: 3, Annotations: map[string]string{"a": "b"}},
		map[string]any{"a": nil},
	}
	for _, v := range fast {
		if !sameEncoding(t, v) {
			t.Errorf("%#v: fast path not taken", v)
		}
	}
	for _, v := range []any{
		"é", "a\nb", "\x7f", "\xff", 1.5, encOdd{}, &encOdd{Any: 1}, []byte("x"), [1]int{}, map[int]string{1: "a"},
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), encKinds{S: "\u2028"}, map[string]any{"a": 1}, json.RawMessage(`{}`),
		embeds{C: "c"}, odd{}, make(chan int),
	} {
		if sameEncoding(t, v) {
			t.Errorf("%#v: fast path taken", v)
		}
	}
}

// FuzzMarshalSameAsEncodingJSON fills values from JSON with encoding/json and
// marshals them with both.
func FuzzMarshalSameAsEncodingJSON(f *testing.F) {
	for _, in := range inputs {
		f.Add(in)
	}
	if b, err := os.ReadFile(filepath.Join("..", "..", "specconv", "testdata", "spec.golden.json")); err == nil {
		f.Add(string(b))
	}
	f.Add(`{"s":"<\u2028>","t":"2024-01-02T03:04:05.123+01:00","m":{"b":"","a":"\u0000"},"lp":[null,{"a":"&"}]}`)
	targets := []func() any{
		func() any { return new(encKinds) }, func() any { return new(specs.Spec) }, func() any { return new(configs.Config) },
		func() any { return new(map[string]string) }, func() any { return new([]*inner) }, func() any { return new(string) },
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, target := range targets {
			v := target()
			_ = json.Unmarshal([]byte(in), v)
			sameEncoding(t, v)
			if strings.Count(in, "{") < 3 {
				sameEncoding(t, &v)
			}
		}
	})
}
