package s3backend_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/engine/cas/s3backend"
	"github.com/vmrep/vmrep/internal/testminio"
)

// startMinIO runs a MinIO server for tb (internal/testminio) and makes the
// bucket with s3backend.MakeBucket, so that every test also covers it.
func startMinIO(tb testing.TB) s3backend.Config {
	tb.Helper()
	srv := testminio.Start(tb, "")
	cfg := s3backend.Config{
		Endpoint:  srv.Endpoint,
		Bucket:    "vmrep-test",
		AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey,
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s3backend.MakeBucket(ctx, cfg); err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// prefixFor gives each subtest its own key prefix in the shared bucket.
func prefixFor(tb testing.TB) string {
	return "t/" + strings.NewReplacer("/", "-", " ", "_").Replace(tb.Name()) + "/"
}
