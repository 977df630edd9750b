// Package plainjson decodes JSON into plain data types exactly as encoding/json
// does, without the cost of encoding/json's first use of a type.
//
// encoding/json builds a cache per type on first use (field names in three
// escapings, case-folded names, sorted and deduplicated field lists): for a
// runtime-spec config that is ~3 M instructions, more than ocirun's whole
// start-up, paid by every command since each is a new process. This decoder
// reads the struct tags directly. It handles the common subset (structs
// without embedded fields, pointers, slices, string-keyed maps, strings,
// bools, integers, floats, json.Unmarshaler types) and gives up on anything
// whose encoding/json result it is not sure to reproduce: a syntax or type
// error, a key that matches a field only case-insensitively, a repeated key,
// a surrogate \u escape, invalid UTF-8, interface fields, text unmarshalers.
// Then encoding/json decodes the input from scratch, so results and errors
// are encoding/json's, always.
package plainjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// Unmarshal is json.Unmarshal(data, v), faster for the types the fast path
// handles. v must point to a zero value for the fast path to be tried.
func Unmarshal(data []byte, v any) error {
	if decode(data, v) {
		return nil
	}
	return json.Unmarshal(data, v)
}

// decode runs the fast path. It reports false, leaving *v zero, when
// encoding/json must do it.
func decode(data []byte, v any) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || !rv.Elem().IsZero() {
		return false
	}
	d := decoder{data: data}
	if d.value(rv.Elem(), typeInfoOf(rv.Elem().Type()), 0) {
		d.space()
		if d.off == len(d.data) {
			return true
		}
	}
	rv.Elem().SetZero()
	return false
}

// maxDepth bounds the nesting the fast path follows (encoding/json's own limit
// is 10000, and its errors are its own).
const maxDepth = 1000

type decoder struct {
	data []byte
	off  int
	buf  []byte // unescaped string
}

func (d *decoder) space() {
	for d.off < len(d.data) {
		switch d.data[d.off] {
		case ' ', '\t', '\n', '\r':
			d.off++
		default:
			return
		}
	}
}

// next skips white space and returns the next byte, or 0 at the end.
func (d *decoder) next() byte {
	d.space()
	if d.off < len(d.data) {
		return d.data[d.off]
	}
	return 0
}

func (d *decoder) value(v reflect.Value, ti *typeInfo, depth int) bool {
	if depth > maxDepth {
		return false
	}
	c := d.next()
	t := ti.t
	if ti.unmarshaler {
		// As encoding/json: the raw value, null included, goes to the
		// method of the addressable value.
		start := d.off
		if !d.skip(depth) {
			return false
		}
		return v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(d.data[start:d.off]) == nil
	}
	if c == 'n' {
		if !d.literal("null") {
			return false
		}
		switch t.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice:
			v.SetZero()
		case reflect.Interface:
			return false
		}
		// encoding/json ignores null for every other kind.
		return true
	}
	if ti.unsupported {
		return false
	}
	switch t.Kind() {
	case reflect.Pointer:
		e := reflect.New(t.Elem())
		if !d.value(e.Elem(), ti.elemInfo(), depth+1) {
			return false
		}
		v.Set(e)
		return true
	case reflect.Struct:
		return c == '{' && d.object(v, ti, depth)
	case reflect.Map:
		return c == '{' && d.mapObject(v, ti, depth)
	case reflect.Slice:
		return c == '[' && d.array(v, ti, depth)
	case reflect.String:
		if c != '"' {
			return false
		}
		s, ok := d.str()
		if ok {
			v.SetString(string(s))
		}
		return ok
	case reflect.Bool:
		switch c {
		case 't':
			v.SetBool(true)
			return d.literal("true")
		case 'f':
			return d.literal("false")
		}
		return false
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := d.number()
		if !ok {
			return false
		}
		i, err := strconv.ParseInt(n, 10, 64)
		if err != nil || v.OverflowInt(i) {
			return false
		}
		v.SetInt(i)
		return true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, ok := d.number()
		if !ok {
			return false
		}
		u, err := strconv.ParseUint(n, 10, 64)
		if err != nil || v.OverflowUint(u) {
			return false
		}
		v.SetUint(u)
		return true
	case reflect.Float32, reflect.Float64:
		n, ok := d.number()
		if !ok {
			return false
		}
		f, err := strconv.ParseFloat(n, t.Bits())
		if err != nil || v.OverflowFloat(f) {
			return false
		}
		v.SetFloat(f)
		return true
	}
	return false
}

func (d *decoder) literal(lit string) bool {
	if len(d.data)-d.off < len(lit) || string(d.data[d.off:d.off+len(lit)]) != lit {
		return false
	}
	d.off += len(lit)
	return true
}

// object decodes into a struct. A key seen twice gives up: encoding/json
// decodes the second value into the first (merging objects).
func (d *decoder) object(v reflect.Value, ti *typeInfo, depth int) bool {
	d.off++ // {
	if d.next() == '}' {
		d.off++
		return true
	}
	var seen uint64
	for {
		if d.next() != '"' {
			return false
		}
		key, ok := d.str()
		if !ok || d.next() != ':' {
			return false
		}
		d.off++
		if f := ti.field(key); f != nil {
			if f.index >= 64 || seen&(1<<f.index) != 0 {
				return false
			}
			seen |= 1 << f.index
			if !d.value(v.Field(f.index), f.info(), depth+1) {
				return false
			}
		} else {
			if ti.foldMatch(key) {
				return false
			}
			if !d.skip(depth + 1) {
				return false
			}
		}
		switch d.next() {
		case ',':
			d.off++
		case '}':
			d.off++
			return true
		default:
			return false
		}
	}
}

// mapObject decodes into a map with string keys; as encoding/json, each value
// is decoded into a fresh zero element and a repeated key keeps the last.
func (d *decoder) mapObject(v reflect.Value, ti *typeInfo, depth int) bool {
	t := ti.t
	kt := t.Key()
	if kt.Kind() != reflect.String || reflect.PointerTo(kt).Implements(textUnmarshalerType) {
		return false
	}
	d.off++ // {
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	if d.next() == '}' {
		d.off++
		return true
	}
	elem := reflect.New(t.Elem()).Elem()
	for {
		if d.next() != '"' {
			return false
		}
		key, ok := d.str()
		if !ok || d.next() != ':' {
			return false
		}
		d.off++
		kv := reflect.New(kt).Elem()
		kv.SetString(string(key))
		elem.SetZero()
		if !d.value(elem, ti.elemInfo(), depth+1) {
			return false
		}
		v.SetMapIndex(kv, elem)
		switch d.next() {
		case ',':
			d.off++
		case '}':
			d.off++
			return true
		default:
			return false
		}
	}
}

// array decodes into a slice; as encoding/json, [] gives an empty, non-nil
// slice.
func (d *decoder) array(v reflect.Value, ti *typeInfo, depth int) bool {
	d.off++ // [
	v.Set(reflect.MakeSlice(v.Type(), 0, 0))
	if d.next() == ']' {
		d.off++
		return true
	}
	for i := 0; ; i++ {
		if i >= v.Cap() {
			v.Grow(1)
		}
		v.SetLen(i + 1)
		if !d.value(v.Index(i), ti.elemInfo(), depth+1) {
			return false
		}
		switch d.next() {
		case ',':
			d.off++
		case ']':
			d.off++
			return true
		default:
			return false
		}
	}
}

// str reads a string at d.off (a '"') and returns its contents, valid only
// until the next call. It gives up on what encoding/json would change or
// reject: invalid UTF-8 (replaced there), surrogate escapes, control bytes.
func (d *decoder) str() ([]byte, bool) {
	d.off++ // "
	start := d.off
	// The common string: printable ASCII up to the quote.
	if i := bytes.IndexByte(d.data[start:], '"'); i >= 0 {
		s := d.data[start : start+i]
		plain := true
		for _, c := range s {
			if !printableASCII[c] {
				plain = false
				break
			}
		}
		if plain {
			d.off = start + i + 1
			return s, true
		}
	}
	ascii := true
	for d.off < len(d.data) {
		c := d.data[d.off]
		switch {
		case c == '"':
			s := d.data[start:d.off]
			d.off++
			return s, ascii || utf8.Valid(s)
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.off++
	}
	return nil, false
}

// printableASCII: the bytes a string holds as they are, without escapes or
// UTF-8 checks.
var printableASCII = [256]bool{
	' ': true, '!': true, '#': true, '$': true, '%': true, '&': true, '\'': true, '(': true, ')': true,
	'*': true, '+': true, ',': true, '-': true, '.': true, '/': true, '0': true, '1': true, '2': true,
	'3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true, ':': true, ';': true,
	'<': true, '=': true, '>': true, '?': true, '@': true, 'A': true, 'B': true, 'C': true, 'D': true,
	'E': true, 'F': true, 'G': true, 'H': true, 'I': true, 'J': true, 'K': true, 'L': true, 'M': true,
	'N': true, 'O': true, 'P': true, 'Q': true, 'R': true, 'S': true, 'T': true, 'U': true, 'V': true,
	'W': true, 'X': true, 'Y': true, 'Z': true, '[': true, ']': true, '^': true, '_': true, '`': true,
	'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true, 'g': true, 'h': true, 'i': true,
	'j': true, 'k': true, 'l': true, 'm': true, 'n': true, 'o': true, 'p': true, 'q': true, 'r': true,
	's': true, 't': true, 'u': true, 'v': true, 'w': true, 'x': true, 'y': true, 'z': true, '{': true,
	'|': true, '}': true, '~': true, 0x7f: true,
}

// escaped finishes a string with escapes, from its contents' start.
func (d *decoder) escaped(start int) ([]byte, bool) {
	b := append(d.buf[:0], d.data[start:d.off]...)
	for d.off < len(d.data) {
		c := d.data[d.off]
		switch {
		case c == '"':
			d.off++
			d.buf = b
			return b, utf8.Valid(b)
		case c < 0x20:
			return nil, false
		case c != '\\':
			b = append(b, c)
			d.off++
			continue
		}
		if d.off+1 >= len(d.data) {
			return nil, false
		}
		e := d.data[d.off+1]
		d.off += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			if d.off+4 > len(d.data) {
				return nil, false
			}
			r, err := strconv.ParseUint(string(d.data[d.off:d.off+4]), 16, 32)
			if err != nil || !utf8.ValidRune(rune(r)) {
				return nil, false // includes surrogates, paired or not
			}
			b = utf8.AppendRune(b, rune(r))
			d.off += 4
		default:
			return nil, false
		}
	}
	return nil, false
}

// number reads a number literal with JSON's grammar.
func (d *decoder) number() (string, bool) {
	start := d.off
	p := d.off
	data := d.data
	digits := func() bool {
		s := p
		for p < len(data) && data[p] >= '0' && data[p] <= '9' {
			p++
		}
		return p > s
	}
	if p < len(data) && data[p] == '-' {
		p++
	}
	switch {
	case p < len(data) && data[p] == '0':
		p++
	case !digits():
		return "", false
	}
	if p < len(data) && data[p] == '.' {
		p++
		if !digits() {
			return "", false
		}
	}
	if p < len(data) && (data[p] == 'e' || data[p] == 'E') {
		p++
		if p < len(data) && (data[p] == '+' || data[p] == '-') {
			p++
		}
		if !digits() {
			return "", false
		}
	}
	d.off = p
	return string(data[start:p]), true
}

// skip checks and steps over one value of any kind (an unknown field's).
func (d *decoder) skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch d.next() {
	case '{':
		d.off++
		if d.next() == '}' {
			d.off++
			return true
		}
		for {
			if d.next() != '"' {
				return false
			}
			if _, ok := d.str(); !ok || d.next() != ':' {
				return false
			}
			d.off++
			if !d.skip(depth + 1) {
				return false
			}
			switch d.next() {
			case ',':
				d.off++
			case '}':
				d.off++
				return true
			default:
				return false
			}
		}
	case '[':
		d.off++
		if d.next() == ']' {
			d.off++
			return true
		}
		for {
			if !d.skip(depth + 1) {
				return false
			}
			switch d.next() {
			case ',':
				d.off++
			case ']':
				d.off++
				return true
			default:
				return false
			}
		}
	case '"':
		_, ok := d.str()
		return ok
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	_, ok := d.number()
	return ok
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// typeInfo is what the decoder needs of a type, built on first use. The
// infos of element and field types are linked as they are first needed.
type typeInfo struct {
	t           reflect.Type
	unmarshaler bool // *T implements json.Unmarshaler
	unsupported bool // a value other than null is left to encoding/json
	fields      []*field
	elem        atomic.Pointer[typeInfo] // of t.Elem()
}

func (ti *typeInfo) elemInfo() *typeInfo {
	e := ti.elem.Load()
	if e == nil {
		e = typeInfoOf(ti.t.Elem())
		ti.elem.Store(e)
	}
	return e
}

type field struct {
	name  string
	index int
	typ   reflect.Type
	ti    atomic.Pointer[typeInfo]
}

func (f *field) info() *typeInfo {
	ti := f.ti.Load()
	if ti == nil {
		ti = typeInfoOf(f.typ)
		f.ti.Store(ti)
	}
	return ti
}

var typeInfos sync.Map // reflect.Type → *typeInfo

func typeInfoOf(t reflect.Type) *typeInfo {
	if ti, ok := typeInfos.Load(t); ok {
		return ti.(*typeInfo)
	}
	ti := &typeInfo{t: t}
	pt := reflect.PointerTo(t)
	switch {
	case t.Kind() == reflect.Pointer:
		// encoding/json looks for methods on the pointer's target.
		ti.unsupported = t.Elem().Kind() == reflect.Pointer
	case pt.Implements(unmarshalerType):
		ti.unmarshaler = true
	case pt.Implements(textUnmarshalerType):
		ti.unsupported = true
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		ti.unsupported = true // a string would be base64
	case t.Kind() == reflect.Struct:
		ti.fields, ti.unsupported = structFields(t)
	}
	typeInfos.Store(t, ti)
	return ti
}

// structFields lists the fields encoding/json decodes, by its rules for
// names; ok is false for what those rules make hard to follow: embedded
// fields, the ",string" option, two fields with one name, a non-ASCII name.
func structFields(t reflect.Type) (fields []*field, unsupported bool) {
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return nil, true
		}
		if !sf.IsExported() {
			continue
		}
		tag := jsonTag(sf.Tag)
		if tag == "-" {
			continue
		}
		name, opts, _ := cut(tag, ',')
		if hasOption(opts, "string") {
			return nil, true
		}
		if !validTag(name) {
			name = sf.Name
		}
		for _, f := range fields {
			if f.name == name {
				return nil, true
			}
		}
		for j := 0; j < len(name); j++ {
			if name[j] >= utf8.RuneSelf {
				return nil, true
			}
		}
		fields = append(fields, &field{name: name, index: i, typ: sf.Type})
	}
	return fields, false
}

func (ti *typeInfo) field(key []byte) *field {
	for _, f := range ti.fields {
		if f.name == string(key) {
			return f
		}
	}
	return nil
}

// foldMatch reports whether encoding/json could match key to a field
// case-insensitively (with Unicode folding: 'ſ' matches 's', so any
// non-ASCII key might).
func (ti *typeInfo) foldMatch(key []byte) bool {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	for _, f := range ti.fields {
		if len(f.name) == len(key) && equalFoldASCII(f.name, key) {
			return true
		}
	}
	return false
}

func equalFoldASCII(s string, b []byte) bool {
	for i := range len(s) {
		x, y := s[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func cut(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func hasOption(opts, name string) bool {
	for opts != "" {
		var o string
		o, opts, _ = cut(opts, ',')
		if o == name {
			return true
		}
	}
	return false
}

// validTag is encoding/json's isValidTag, with ASCII first.
func validTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
			// Backslash and quote chars are reserved, but
			// otherwise any punctuation chars are allowed
			// in a tag name.
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// jsonTag is tag.Get("json") without strconv.Unquote for the usual value
// without escapes (reflect.StructTag.Lookup's loop otherwise).
func jsonTag(tag reflect.StructTag) string {
	for tag != "" {
		i := 0
		for i < len(tag) && tag[i] == ' ' {
			i++
		}
		tag = tag[i:]
		if tag == "" {
			break
		}
		i = 0
		for i < len(tag) && tag[i] > ' ' && tag[i] != ':' && tag[i] != '"' && tag[i] != 0x7f {
			i++
		}
		if i == 0 || i+1 >= len(tag) || tag[i] != ':' || tag[i+1] != '"' {
			break
		}
		name := string(tag[:i])
		tag = tag[i+1:]
		i = 1
		plain := true
		for i < len(tag) && tag[i] != '"' {
			if tag[i] == '\\' {
				i++
				plain = false
			} else if tag[i] == '\n' || tag[i] >= utf8.RuneSelf {
				plain = false
			}
			i++
		}
		if i >= len(tag) {
			break
		}
		qvalue := string(tag[:i+1])
		tag = tag[i+1:]
		if name == "json" {
			if plain {
				return qvalue[1 : len(qvalue)-1]
			}
			v, err := strconv.Unquote(qvalue)
			if err != nil {
				return ""
			}
			return v
		}
	}
	return ""
}
