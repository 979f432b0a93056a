package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/vmrep/vmrep/internal/testminio"
)

// TestGCOnSharedBucketNamesTheHolder: two vmrepd share a bucket; a writer
// lock is left by a third daemon that was killed (written once, never
// refreshed). `vmrep gc` on the second daemon says, in one line, which
// daemon holds the bucket and until when, waits for the lock to go stale,
// then collects.
func TestGCOnSharedBucketNamesTheHolder(t *testing.T) {
	mc := testminio.Start(t, "vmrep-gclock")
	t.Setenv("VMREP_S3_ACCESS_KEY", mc.AccessKey)
	t.Setenv("VMREP_S3_SECRET_KEY", mc.SecretKey)
	backend := "s3://" + mc.Bucket + "/site?endpoint=" + mc.Endpoint + "&secure=false"
	flags := []string{"--backend", backend, "--bucket-lease", "2s", "--gc-grace", "4s"}
	a := newDaemon(t, flags...)
	b := newDaemon(t, flags...)
	a.ok("gc") // a free bucket: gc runs at once

	ctx := context.Background()
	client, err := minio.New(mc.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(mc.AccessKey, mc.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	obj, _ := json.Marshal(map[string]any{"version": 1, "mode": "shared", "id": "00000000feedface", "host": "host-c",
		"pid": 4242, "store": "/var/lib/vmrep", "why": "snapshot", "created": now, "expires": now.Add(3 * time.Second)})
	if _, err := client.PutObject(ctx, mc.Bucket, "site/locks/shared-00000000feedface", bytes.NewReader(obj), int64(len(obj)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	r := b.vmrep("gc")
	if r.code != 0 {
		t.Fatalf("vmrep gc: exit %d: %s", r.code, r.stderr)
	}
	var waits []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.Contains(l, "waiting for the shared bucket") {
			waits = append(waits, l)
		}
	}
	if len(waits) != 1 || !strings.Contains(waits[0], "snapshot on host-c (pid 4242, store /var/lib/vmrep) until ") {
		t.Fatalf("vmrep gc said %q; want one line naming the holder and its expiry", r.stderr)
	}
	t.Logf("vmrep gc: %s", waits[0])
	if !strings.Contains(r.stdout, "snapshots refer to") {
		t.Fatalf("vmrep gc printed no result once the lock went stale: %q", r.stdout)
	}
}
