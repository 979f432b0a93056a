package qmp

import "testing"

func TestDecodeResponse(t *testing.T) {
	r, err := decodeResponse([]byte(`{"return": {"a": 1}, "id": 3}`))
	if err != nil || r.id != 3 || string(r.ret) != `{"a": 1}` {
		t.Fatalf("return: %+v, %v", r, err)
	}
	r, err = decodeResponse([]byte(`{"error": {"class": "GenericError", "desc": "no"}, "id": 4}`))
	if err != nil || r.err == nil || r.err.Desc != "no" {
		t.Fatalf("error: %+v, %v", r, err)
	}
	if r, err := decodeResponse([]byte(`{"event": "BLOCK_EXPORT_DELETED", "data": {}}`)); err != nil || !r.event {
		t.Fatalf("event: %+v, %v", r, err)
	}
	for _, bad := range []string{`{"return": {}}`, `{"id": 1}`, `[1]`, `{`} {
		if _, err := decodeResponse([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// FuzzDecodeResponse feeds the reply decoder any line.
func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"return": {}, "id": 1}`))
	f.Add([]byte(`{"error": {"class": "GenericError", "desc": "x"}, "id": 2}`))
	f.Add([]byte(`{"event": "X", "timestamp": {"seconds": 1}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := decodeResponse(line)
		if err == nil && !r.event && r.err == nil && r.ret == nil {
			t.Fatalf("accepted %q as nothing", line)
		}
	})
}
