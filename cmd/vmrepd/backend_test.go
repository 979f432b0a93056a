package main

import (
	"io"
	"testing"
	"time"

	"github.com/vmrep/vmrep/daemon"
	"github.com/vmrep/vmrep/engine/cas/s3backend"
)

func TestParseBackendURL(t *testing.T) {
	aws := map[string]string{"AWS_ACCESS_KEY_ID": "ak", "AWS_SECRET_ACCESS_KEY": "sk"}
	both := map[string]string{"AWS_ACCESS_KEY_ID": "ak", "AWS_SECRET_ACCESS_KEY": "sk",
		"VMREP_S3_ACCESS_KEY": "vak", "VMREP_S3_SECRET_KEY": "vsk"}
	tests := []struct {
		url     string
		env     map[string]string
		want    s3backend.Config
		wantErr bool
	}{
		{"s3://b/site/a?endpoint=127.0.0.1:9000&secure=false", aws,
			s3backend.Config{Bucket: "b", Prefix: "site/a", Endpoint: "127.0.0.1:9000", AccessKey: "ak", SecretKey: "sk"}, false},
		{"s3://b?endpoint=s3.example:443&region=eu-1&ca=/etc/ca.pem", both,
			s3backend.Config{Bucket: "b", Endpoint: "s3.example:443", Region: "eu-1", CACert: "/etc/ca.pem",
				Secure: true, AccessKey: "vak", SecretKey: "vsk"}, false},
		{"s3://b/p", aws, s3backend.Config{}, true},                                                       // no endpoint
		{"http://b/p?endpoint=h:1", aws, s3backend.Config{}, true},                                        // wrong scheme
		{"s3://u:p@b/p?endpoint=h:1", aws, s3backend.Config{}, true},                                      // credentials in the URL
		{"s3://b/p?endpoint=h:1&secure=maybe", aws, s3backend.Config{}, true},                             // bad bool
		{"s3://b/p?endpoint=h:1&acl=public", aws, s3backend.Config{}, true},                               // unknown parameter
		{"s3://b/p?endpoint=h:1", map[string]string{}, s3backend.Config{}, true},                          // no credentials
		{"s3://b/p?endpoint=h:1", map[string]string{"AWS_ACCESS_KEY_ID": "ak"}, s3backend.Config{}, true}, // half
	}
	for _, tc := range tests {
		got, err := parseBackendURL(tc.url, func(k string) string { return tc.env[k] })
		if tc.wantErr {
			if err == nil {
				t.Errorf("parse %q: no error", tc.url)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parse %q = %+v, %v; want %+v", tc.url, got, err, tc.want)
		}
	}
}

func TestCheckBucket(t *testing.T) {
	ok := daemon.BucketOptions{Lease: 2 * time.Minute, GCGrace: time.Hour, RefreshEvery: time.Minute}
	if err := checkBucket(ok); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []daemon.BucketOptions{
		{Lease: 0, GCGrace: time.Hour, RefreshEvery: time.Minute},
		{Lease: 2 * time.Minute, GCGrace: 3 * time.Minute, RefreshEvery: time.Minute},
		{Lease: 2 * time.Minute, GCGrace: time.Hour, RefreshEvery: 0},
	} {
		if err := checkBucket(bad); err == nil {
			t.Errorf("checkBucket(%+v) accepted it", bad)
		}
	}
	if code := execute([]string{"--store", t.TempDir(), "--gc-grace", "1m"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("--gc-grace under twice the lease: exit %d, want 2", code)
	}
}
