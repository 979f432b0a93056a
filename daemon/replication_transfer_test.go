package daemon

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
)

func TestReplicateOptionsLimit(t *testing.T) {
	for _, bad := range []string{"10Mb", "0", "fast"} {
		if _, e := replicateOptions(api.ReplicateRequest{Limit: bad}); e == nil || e.Code != api.CodeInvalid {
			t.Errorf("limit %q: %v, want %s", bad, e, api.CodeInvalid)
		}
	}
	o, e := replicateOptions(api.ReplicateRequest{Limit: "200Mbit", Materialize: "web"})
	if e != nil || o.Limit.Bits() != 200e6 || o.Materialize != "web" || o.limiter().Rate() != o.Limit {
		t.Fatalf("200Mbit: %+v %v", o, e)
	}
	if o, e := replicateOptions(api.ReplicateRequest{Limit: "unlimited"}); e != nil || o.limiter() != nil {
		t.Fatalf("unlimited: %+v %v", o, e)
	}
}

// A running blob stream's blobs become durable (committed in the index,
// which Lookup reads) without waiting for the stream's end.
func TestFlushEvery(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := cas.Init(ctx, dir, cas.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	st, err := cas.Open(ctx, dir, cas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w := st.NewWriter()
	defer w.Close()
	data := []byte("a blob of a stream still running")
	id := blob.Sum(data)
	if _, err := w.Put(ctx, blob.Chunk, id, data); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Lookup(ctx, id); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("committed before any flush: %v", err)
	}
	stop := flushEvery(ctx, w, time.Millisecond, func(err error) { t.Error(err) })
	defer stop()
	for _, err := st.Lookup(ctx, id); err != nil; _, err = st.Lookup(ctx, id) {
		if !errors.Is(err, blob.ErrNotFound) {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
}
