package problem

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestQ(t *testing.T) {
	if got := Q("a\x00b"); got != `"a\x00b"` {
		t.Errorf("Q = %s", got)
	}
	long := strings.Repeat("é", 100) // 200 bytes: the cut must not split a rune
	got := Q(long)
	if !strings.HasSuffix(got, `"... (200 bytes)`) || strings.Contains(got, `\x`) {
		t.Errorf("Q(long) = %s", got)
	}
}

func TestList(t *testing.T) {
	var l List
	if l.Err() != nil {
		t.Fatal("empty list has an error")
	}
	l.Warnf("a", nil, "", "warned")
	if l.Err() != nil {
		t.Fatal("a warning is not an error")
	}
	l.Errorf("b.c", 3, "hint", "bad %d", 3)
	l.Add(&Problem{Path: "d", Problem: "x", Text: "legacy text"})
	if err := l.Err(); err == nil || err.Error() != "b.c: bad 3" {
		t.Errorf("Err = %v", err)
	}
	if l.Count(Error) != 2 || l.Count(Warning) != 1 || l[2].Error() != "legacy text" {
		t.Errorf("list = %+v", l)
	}
	b, err := json.Marshal(l[1])
	if err != nil || string(b) != `{"path":"b.c","value":3,"problem":"bad 3","hint":"hint","severity":"error","message":"b.c: bad 3"}` {
		t.Errorf("json = %s, %v", b, err)
	}
}
