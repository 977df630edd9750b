package plainjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Marshal is json.Marshal(v), faster for the types the fast path handles:
// structs without embedded fields, pointers, slices, string-keyed maps,
// strings, bools, integers and time.Time. Anything else (floats, []byte,
// interfaces, arrays, other marshalers, the ",string" and "omitzero" options,
// a string that is not printable ASCII) is left to encoding/json, so the
// output is always encoding/json's.
func Marshal(v any) ([]byte, error) {
	if b, ok := encode(v); ok {
		return b, nil
	}
	return json.Marshal(v)
}

// MarshalIndent is json.MarshalIndent(v, prefix, indent): Marshal, then
// json.Indent, as encoding/json does it.
func MarshalIndent(v any, prefix, indent string) ([]byte, error) {
	b, ok := encode(v)
	if !ok {
		return json.MarshalIndent(v, prefix, indent)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, prefix, indent); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func encode(v any) ([]byte, bool) {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return []byte("null"), true
	}
	var e encoder
	if !e.value(rv, encInfoOf(rv.Type()), 0) {
		return nil, false
	}
	return e.b, true
}

type encoder struct{ b []byte }

var timeType = reflect.TypeFor[time.Time]()

func (e *encoder) value(v reflect.Value, ti *encInfo, depth int) bool {
	if depth > maxDepth || ti.unsupported {
		return false
	}
	switch v.Kind() {
	case reflect.String:
		return e.str(v.String())
	case reflect.Bool:
		e.b = strconv.AppendBool(e.b, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.b = strconv.AppendInt(e.b, v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.b = strconv.AppendUint(e.b, v.Uint(), 10)
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			e.b = append(e.b, "null"...)
			return true
		}
		if v.Kind() == reflect.Interface {
			return false
		}
		return e.value(v.Elem(), ti.elemInfo(), depth+1)
	case reflect.Struct:
		if ti.t == timeType {
			// Its MarshalJSON writes digits and "-:.TZ+" in quotes, which
			// encoding/json's compaction and HTML escaping leave as they are.
			b, err := v.Interface().(time.Time).MarshalJSON()
			if err != nil {
				return false
			}
			e.b = append(e.b, b...)
			return true
		}
		e.b = append(e.b, '{')
		first := true
		for _, f := range ti.fields {
			fv := v.Field(f.index)
			if f.omitEmpty && isEmpty(fv) {
				continue
			}
			if !first {
				e.b = append(e.b, ',')
			}
			first = false
			e.b = append(e.b, f.key...)
			if !e.value(fv, f.info(), depth+1) {
				return false
			}
		}
		e.b = append(e.b, '}')
	case reflect.Map:
		if v.IsNil() {
			e.b = append(e.b, "null"...)
			return true
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		elem := ti.elemInfo()
		e.b = append(e.b, '{')
		for i, k := range keys {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			if !e.str(k.String()) {
				return false
			}
			e.b = append(e.b, ':')
			if !e.value(v.MapIndex(k), elem, depth+1) {
				return false
			}
		}
		e.b = append(e.b, '}')
	case reflect.Slice:
		if v.IsNil() {
			e.b = append(e.b, "null"...)
			return true
		}
		elem := ti.elemInfo()
		e.b = append(e.b, '[')
		for i := range v.Len() {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			if !e.value(v.Index(i), elem, depth+1) {
				return false
			}
		}
		e.b = append(e.b, ']')
	default:
		return false
	}
	return true
}

// str writes s quoted, as encoding/json with HTML escaping does, for
// printable ASCII; anything else is left to encoding/json.
func (e *encoder) str(s string) bool {
	e.b = append(e.b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '<' || c == '>' || c == '&':
			e.b = append(e.b, `\u00`...)
			e.b = append(e.b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		case c == '"' || c == '\\':
			e.b = append(e.b, '\\', c)
		case c < 0x20 || c >= 0x7f:
			return false
		default:
			e.b = append(e.b, c)
		}
	}
	e.b = append(e.b, '"')
	return true
}

// isEmpty is encoding/json's test for omitempty.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// encInfo is what the encoder needs of a type, built on first use.
type encInfo struct {
	t           reflect.Type
	unsupported bool
	fields      []*encField
	elem        *encInfo // of t.Elem(), set on first use
	elemOnce    sync.Once
}

func (ti *encInfo) elemInfo() *encInfo {
	ti.elemOnce.Do(func() { ti.elem = encInfoOf(ti.t.Elem()) })
	return ti.elem
}

type encField struct {
	key       []byte // "name":
	index     int
	omitEmpty bool
	typ       reflect.Type
	ti        *encInfo
	once      sync.Once
}

func (f *encField) info() *encInfo {
	f.once.Do(func() { f.ti = encInfoOf(f.typ) })
	return f.ti
}

var encInfos sync.Map // reflect.Type → *encInfo

func encInfoOf(t reflect.Type) *encInfo {
	if ti, ok := encInfos.Load(t); ok {
		return ti.(*encInfo)
	}
	ti := &encInfo{t: t}
	switch {
	case t.Kind() == reflect.Pointer:
		// Methods are looked for on the target: a nil pointer is null
		// for encoding/json's marshaler encoder too.
		ti.unsupported = t.Elem().Kind() == reflect.Pointer
	case t == timeType:
	case reflect.PointerTo(t).Implements(marshalerType) || reflect.PointerTo(t).Implements(textMarshalerType):
		ti.unsupported = true
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		ti.unsupported = true // base64
	case t.Kind() == reflect.Map:
		ti.unsupported = t.Key().Kind() != reflect.String
	case t.Kind() == reflect.Struct:
		ti.fields, ti.unsupported = encFields(t)
	}
	encInfos.Store(t, ti)
	return ti
}

// encFields lists the fields encoding/json writes, in its order (that of the
// declaration, without embedded fields), with their quoted keys.
func encFields(t reflect.Type) (fields []*encField, unsupported bool) {
	var names []string
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
		if hasOption(opts, "string") || hasOption(opts, "omitzero") {
			return nil, true
		}
		if !validTag(name) {
			name = sf.Name
		}
		if slices.Contains(names, name) {
			return nil, true
		}
		names = append(names, name)
		var e encoder
		if !e.str(name) {
			return nil, true
		}
		fields = append(fields, &encField{key: append(e.b, ':'), index: i, omitEmpty: hasOption(opts, "omitempty"), typ: sf.Type})
	}
	return fields, false
}
