package plainjson

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

type inner struct {
	A string `json:"a"`
	B *int   `json:"b,omitempty"`
}

type kinds struct {
	S    string            `json:"s"`
	I    int               `json:"i"`
	I8   int8              `json:"i8"`
	U16  uint16            `json:"u16"`
	U64  *uint64           `json:"u64"`
	F    float64           `json:"f"`
	F32  float32           `json:"f32"`
	Bool bool              `json:"bool"`
	PB   *bool             `json:"pb"`
	L    []string          `json:"l"`
	LI   []inner           `json:"li"`
	M    map[string]string `json:"m"`
	MP   map[string]*inner `json:"mp"`
	P    *inner            `json:"p"`
	In   inner             `json:"in"`
	R    rune              `json:"r"`
	Mode os.FileMode       `json:"mode"`
	T    time.Time         `json:"t"`
	PT   *time.Time        `json:"pt"`
	Any  any               `json:"any"`
	Raw  json.RawMessage   `json:"raw"`
	Byt  []byte            `json:"byt"`
	Arr  [2]int            `json:"arr"`
	Dash string            `json:"-"`
	//lint:ignore SA5008 a field named "-", as encoding/json reads it
	Hyph string `json:"-,"`
	NoTg string
	//lint:ignore SA5008 an invalid name, for which encoding/json uses the field name
	Bad string `json:"b\\d"`
	Opt string `json:",omitempty"`

	//lint:ignore U1000 encoding/json must skip it too
	unexported string
}

// odd has what the fast path leaves to encoding/json.
type odd struct {
	Str  int    `json:"str,string"`
	Dup1 string `json:"Dup"` // wins over Dup in encoding/json
	Dup  string
	Uni  string `json:"é"`
}

type embeds struct {
	inner
	C string `json:"c"`
}

type Named string

type namedMap map[Named]Named

// inputs are decoded into each type by both decoders.
var inputs = []string{
	`{}`, `null`, ``, ` `, `{`, `[]`, `"x"`, `1`, `{} x`, `{}  `, "\t{}\r\n",
	`{"s":"a"}`, `{"s":"a\"b\\c\/d\b\f\n\r\t\u00e9\u0000"}`, `{"s":"\ud83d\ude00"}`, `{"s":"\ud83d"}`,
	`{"s":"\u12"}`, `{"s":"\x"}`, "{\"s\":\"a\x01\"}", "{\"s\":\"\xff\"}", "{\"s\":\"é\"}", "{\"s\":\"\xed\xa0\x80\"}",
	`{"s":1}`, `{"s":null}`, `{"s":true}`, `{"s":[]}`, `{"S":"a"}`, `{"s":"a","S":"b"}`, `{"s":"a","s":"b"}`,
	"{\"ſ\":\"a\"}", `{"\u0073":"a"}`, `{"unknown":{"a":[1,2,{"b":null}]},"s":"x"}`, `{"unknown":[1,]}`,
	`{"i":1}`, `{"i":-1}`, `{"i":-0}`, `{"i":1.0}`, `{"i":1e2}`, `{"i":01}`, `{"i":9223372036854775807}`,
	`{"i":9223372036854775808}`, `{"i8":127}`, `{"i8":128}`, `{"i8":-129}`, `{"u16":65535}`, `{"u16":65536}`,
	`{"u16":-1}`, `{"u64":18446744073709551615}`, `{"u64":null}`, `{"u64":"1"}`, `{"i":-}`, `{"i":1.}`,
	`{"f":1.5e300}`, `{"f":1e400}`, `{"f32":1e39}`, `{"f32":-0.25}`, `{"f":1E+2}`, `{"f":-1e-2}`,
	`{"bool":true}`, `{"bool":false}`, `{"bool":tru}`, `{"bool":1}`, `{"pb":false}`, `{"pb":null}`,
	`{"l":[]}`, `{"l":["a","b"]}`, `{"l":null}`, `{"l":[1]}`, `{"l":"a"}`, `{"l":["a",]}`, `{"l":[,]}`,
	`{"li":[{"a":"x"},{"b":2}]}`, `{"li":[{"a":"x","a":"y"}]}`, `{"m":{}}`, `{"m":{"k":"v","k":"w"}}`,
	`{"m":{"k":1}}`, `{"m":null}`, `{"mp":{"k":{"a":"x"},"n":null}}`, `{"p":{"a":"x","b":3}}`, `{"p":null}`,
	`{"in":{"a":"x"}}`, `{"in":null}`, `{"in":[]}`, `{"r":99}`, `{"mode":420}`, `{"mode":-1}`,
	`{"t":"2024-01-02T03:04:05.123456789Z"}`, `{"t":null}`, `{"t":"bad"}`, `{"pt":"2024-01-02T03:04:05Z"}`,
	`{"pt":null}`, `{"any":1}`, `{"any":null}`, `{"raw":{"x":[1]}}`, `{"byt":"aGk="}`, `{"byt":[1,2]}`,
	`{"arr":[1,2]}`, `{"dup":"x"}`, `{"-":"x"}`, `{"Dash":"x"}`, `{"NoTg":"x"}`, `{"notg":"x"}`,
	`{"Bad":"x"}`, `{"b\\d":"x"}`, `{"Opt":"x"}`, `{"str":"1"}`, `{"unexported":"x"}`, `{"c":"x","a":"y"}`, `{"Dup1":"x"}`, `{"Dup":"x"}`, `{"é":"x"}`,
	`{"s":"a" "i":1}`, `{"s" "a"}`, `{"s":"a",}`, `{,}`, `{"s":"a"}}`, `[1]`, `{"i":1}{}`, `{"m":{"k":"v",}}`,
	`{"s":"a","i":2,"l":["x"],"m":{"a":"b"},"p":{"a":"c"},"bool":true}`, "\xef\xbb\xbf{}",
}

// targets are fresh zero values of the types under test.
var targets = map[string]func() any{
	"kinds":    func() any { return new(kinds) },
	"embeds":   func() any { return new(embeds) },
	"odd":      func() any { return new(odd) },
	"map":      func() any { return new(map[string]int) },
	"named":    func() any { return new(namedMap) },
	"slice":    func() any { return new([]*inner) },
	"string":   func() any { return new(string) },
	"spec":     func() any { return new(specs.Spec) },
	"config":   func() any { return new(configs.Config) },
	"ptrptr":   func() any { return new(**inner) },
	"interfce": func() any { return new(any) },
}

// same decodes data with both decoders into a fresh target and fails the test
// unless values and errors are the same. It reports whether the fast path
// took it.
func same(t *testing.T, name string, data []byte) bool {
	t.Helper()
	want, got := targets[name](), targets[name]()
	werr := json.Unmarshal(data, want)
	fast := decode(data, got)
	gerr := error(nil)
	if !fast {
		if !reflect.ValueOf(got).Elem().IsZero() {
			t.Fatalf("%s %q: fast path gave up leaving %+v", name, data, got)
		}
		gerr = Unmarshal(data, got)
	}
	if fmt.Sprint(werr) != fmt.Sprint(gerr) {
		t.Fatalf("%s %q: error %v, want %v", name, data, gerr, werr)
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%s %q (fast path %v):\n got %#v\nwant %#v", name, data, fast, got, want)
	}
	return fast
}

func TestSameAsEncodingJSON(t *testing.T) {
	for name := range targets {
		fast := 0
		for _, in := range inputs {
			if same(t, name, []byte(in)) {
				fast++
			}
		}
		t.Logf("%s: fast path for %d of %d inputs", name, fast, len(inputs))
	}
}

// TestFastPathTaken: the configs ocirun reads every time must not fall back.
func TestFastPathTaken(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "..", "specconv", "testdata", "spec.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data string
	}{
		{"spec", string(example)},
		{"spec", `{"ociVersion":"1.3.0","process":{"user":{"uid":0,"gid":0,"additionalGids":[1,2]},"args":["sh"],"env":["A=b"],"cwd":"/","capabilities":{"bounding":["CAP_KILL"]},"rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],"noNewPrivileges":true},"root":{"path":"rootfs","readonly":true},"hostname":"h","mounts":[{"destination":"/proc","type":"proc","source":"proc","options":["nosuid"]}],"annotations":{"a":"b"},"linux":{"resources":{"devices":[{"allow":false,"access":"rwm"}],"memory":{"limit":1048576},"cpu":{"shares":2,"quota":-1},"pids":{"limit":10}},"namespaces":[{"type":"pid"},{"type":"network","path":"/proc/1/ns/net"}],"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]},"maskedPaths":["/proc/kcore"],"sysctl":{"net.ipv4.ip_forward":"1"},"uidMappings":[{"containerID":0,"hostID":1000,"size":1}]}}`},
		{"config", mustMarshal(t, &configs.Config{
			Rootfs: "/r", Namespaces: []configs.Namespace{{Type: "pid"}}, Sysctl: map[string]string{"a": "b"},
			Mounts:  []configs.Mount{{Source: "proc", Destination: "/proc", Device: "proc", PropagationFlags: []int{1}}},
			Process: configs.Process{Args: []string{"sh"}}, Cgroups: configs.Cgroup{Path: "/x"},
		})},
	} {
		if !same(t, tc.name, []byte(tc.data)) {
			t.Errorf("%s: fast path not taken for %.80s", tc.name, tc.data)
		}
	}
}

func mustMarshal(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func FuzzSameAsEncodingJSON(f *testing.F) {
	for _, in := range inputs {
		f.Add(in)
	}
	if b, err := os.ReadFile(filepath.Join("..", "..", "specconv", "testdata", "spec.golden.json")); err == nil {
		f.Add(string(b))
	}
	names := []string{"kinds", "spec", "config", "map", "slice"}
	f.Fuzz(func(t *testing.T, in string) {
		for _, name := range names {
			same(t, name, []byte(in))
		}
	})
}

func FuzzJSONTag(f *testing.F) {
	for _, tag := range []string{
		``, `json:"a"`, `json:"a,omitempty"`, ` json:"a"`, `yaml:"b" json:"a"`, `json:"a\"b"`, `json:"a\\"`,
		`json:"é"`, `json:"a` + "\n" + `"`, `json:a`, `json:"a`, `json :"a"`, `xjson:"a" json:"b"`, `json:"\u00e9"`,
		`json:"a" json:"b"`, `:"a" json:"b"`, "json:\"a\xff\"", `json:"\x"`, `a:"b"  json:"c"`, `json:""`,
	} {
		f.Add(tag)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		if got, want := jsonTag(reflect.StructTag(tag)), reflect.StructTag(tag).Get("json"); got != want {
			t.Errorf("jsonTag(%q) = %q, want %q", tag, got, want)
		}
	})
}

func TestPrintableASCII(t *testing.T) {
	for c := range 256 {
		want := c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\'
		if printableASCII[c] != want {
			t.Errorf("printableASCII[%#x] = %v", c, printableASCII[c])
		}
	}
}
