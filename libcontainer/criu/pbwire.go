package criu

import (
	"errors"
	"math"
)

// The protobuf wire format, what wire.go needs of it. protowire would do,
// but it links protobuf's internal error package, whose init hashes 64 KB
// of the executable: ~0.15 ms at every ocirun command (measured), for a
// codec of a few varints that only checkpoint and restore use.

type number int32

type wireType int8

const (
	varintType     wireType = 0
	fixed64Type    wireType = 1
	bytesType      wireType = 2
	startGroupType wireType = 3
	endGroupType   wireType = 4
	fixed32Type    wireType = 5
)

const maxValidNumber number = 1<<29 - 1

// recursionLimit is protobuf-go's limit of nested groups.
const recursionLimit = 10000

var errMalformed = errors.New("malformed protobuf message")

func appendRawVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendTag(b []byte, num number, typ wireType) []byte {
	return appendRawVarint(b, uint64(num)<<3|uint64(typ))
}

func appendRawBytes(b, v []byte) []byte {
	return append(appendRawVarint(b, uint64(len(v))), v...)
}

// consumeVarint returns the value and its length, or a negative length
// for a truncated or overlong (more than 64 bits) varint.
func consumeVarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < 10 && i < len(b); i++ {
		c := b[i]
		if i == 9 && c > 1 {
			return 0, -1
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

func consumeTag(b []byte) (number, wireType, int) {
	v, n := consumeVarint(b)
	if n < 0 || v>>3 > math.MaxInt32 || v>>3 < 1 {
		return 0, 0, -1
	}
	return number(v >> 3), wireType(v & 7), n
}

func consumeBytes(b []byte) ([]byte, int) {
	l, n := consumeVarint(b)
	if n < 0 || l > uint64(len(b)-n) {
		return nil, -1
	}
	return b[n : n+int(l)], n + int(l)
}

// consumeFieldValue returns the length of a field's value, for skipping it.
func consumeFieldValue(num number, typ wireType, b []byte) int {
	return consumeFieldValueD(num, typ, b, recursionLimit)
}

func consumeFieldValueD(num number, typ wireType, b []byte, depth int) int {
	switch typ {
	case varintType:
		_, n := consumeVarint(b)
		return n
	case fixed32Type:
		if len(b) < 4 {
			return -1
		}
		return 4
	case fixed64Type:
		if len(b) < 8 {
			return -1
		}
		return 8
	case bytesType:
		_, n := consumeBytes(b)
		return n
	case startGroupType:
		if depth < 0 {
			return -1
		}
		for m := 0; ; {
			num2, typ2, n := consumeTag(b[m:])
			if n < 0 {
				return -1
			}
			m += n
			if typ2 == endGroupType {
				if num2 != num {
					return -1
				}
				return m
			}
			n = consumeFieldValueD(num2, typ2, b[m:], depth-1)
			if n < 0 {
				return -1
			}
			m += n
		}
	}
	// An end-group without its start, or a reserved wire type.
	return -1
}
