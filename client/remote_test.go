package client

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
)

// TestRemote checks the replication client against a TLS server: the
// bearer token and content types go out, answers and refusals come back
// with the server's address in their message and their code kept.
func TestRemote(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(api.Errorf(api.CodeUnauthorized, "missing or wrong bearer token"))
			return
		}
		switch r.URL.Path {
		case api.ReplMissingPath:
			b, _ := io.ReadAll(r.Body)
			if ct := r.Header.Get("Content-Type"); ct != "application/octet-stream" || len(b) != 64 {
				t.Errorf("missing: content type %q, %d bytes", ct, len(b))
			}
			json.NewEncoder(w).Encode(api.ReplMissingResult{Missing: []int{1}})
		case api.ReplSnapshotsPath:
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("snapshot: content type %q", ct)
			}
			w.WriteHeader(http.StatusConflict)
			json.NewEncoder(w).Encode(api.Errorf(api.CodeConflict, "send the blobs first"))
		default:
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "not json\n")
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")
	tc := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	ctx := context.Background()

	c := NewRemote(addr, "tok", tc)
	defer c.Close()
	if c.Addr() != addr {
		t.Errorf("Addr %q", c.Addr())
	}
	mr, err := c.ReplMissing(ctx, make([]byte, 64))
	if err != nil || len(mr.Missing) != 1 || mr.Missing[0] != 1 {
		t.Fatalf("missing: %+v, %v", mr, err)
	}
	_, err = c.PutReplSnapshot(ctx, api.Snapshot{})
	if !IsCode(err, api.CodeConflict) || err.Error() != "replication server "+addr+": send the blobs first" {
		t.Errorf("refusal: %v", err)
	}
	_, err = c.PutReplVG(ctx, api.ReplVG{})
	if !IsCode(err, api.CodeInternal) || err.Error() != "replication server "+addr+": "+api.ReplVGsPath+" answered 502 Bad Gateway: not json" {
		t.Errorf("non-JSON answer: %v", err)
	}
	bad := NewRemote(addr, "wrong", tc)
	defer bad.Close()
	_, err = bad.PutReplVG(ctx, api.ReplVG{})
	if !IsCode(err, api.CodeUnauthorized) || err.Error() != "replication server "+addr+" refused the bearer token (missing or wrong bearer token)" {
		t.Errorf("bad token: %v", err)
	}
	// An untrusting client fails the TLS handshake, naming the server.
	untrusting := NewRemote(addr, "tok", &tls.Config{MinVersion: tls.VersionTLS12})
	defer untrusting.Close()
	if _, err := untrusting.PutReplVG(ctx, api.ReplVG{}); err == nil || !strings.HasPrefix(err.Error(), "replication server "+addr+": "+api.ReplVGsPath+": ") {
		t.Errorf("untrusted server: %v", err)
	}
}
