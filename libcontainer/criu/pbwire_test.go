package criu

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// FuzzConsumeField checks the hand-written decoder against protowire on
// any bytes: the same tag, the same value length, the same rejections.
func FuzzConsumeField(f *testing.F) {
	f.Add([]byte{0x08, 0x96, 0x01})
	f.Add([]byte{0x0b, 0x08, 0x01, 0x0c})                                           // group 1 holding a varint
	f.Add([]byte{0x0b, 0x13, 0x14, 0x0c})                                           // nested groups
	f.Add([]byte{0x0b, 0x14})                                                       // mismatched end
	f.Add([]byte{0x12, 0x03, 'a', 'b'})                                             // truncated bytes
	f.Add([]byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}) // overflow
	f.Fuzz(func(t *testing.T, b []byte) {
		num, typ, n := consumeTag(b)
		wnum, wtyp, wn := protowire.ConsumeTag(b)
		if (n < 0) != (wn < 0) {
			t.Fatalf("%x: tag length %d, protowire %d", b, n, wn)
		}
		if n < 0 {
			return
		}
		if n != wn || int32(num) != int32(wnum) || int8(typ) != int8(wtyp) {
			t.Fatalf("%x: tag %d/%d/%d, protowire %d/%d/%d", b, num, typ, n, wnum, wtyp, wn)
		}
		got, want := consumeFieldValue(num, typ, b[n:]), protowire.ConsumeFieldValue(wnum, wtyp, b[n:])
		if (got < 0) != (want < 0) || (got >= 0 && got != want) {
			t.Fatalf("%x: value length %d, protowire %d", b, got, want)
		}
		if typ == varintType {
			v, _ := consumeVarint(b[n:])
			if wv, _ := protowire.ConsumeVarint(b[n:]); v != wv {
				t.Fatalf("%x: varint %d, protowire %d", b, v, wv)
			}
		}
	})
}

func TestAppend(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 300, 1<<32 + 5, 1<<63 + 1} {
		if got, want := appendRawVarint(nil, v), protowire.AppendVarint(nil, v); string(got) != string(want) {
			t.Errorf("varint %d: %x, protowire %x", v, got, want)
		}
	}
	if got, want := appendTag(nil, maxValidNumber, bytesType), protowire.AppendTag(nil, protowire.MaxValidNumber, protowire.BytesType); string(got) != string(want) {
		t.Errorf("tag: %x, protowire %x", got, want)
	}
	if got, want := appendRawBytes(nil, []byte("xyz")), protowire.AppendBytes(nil, []byte("xyz")); string(got) != string(want) {
		t.Errorf("bytes: %x, protowire %x", got, want)
	}
}
