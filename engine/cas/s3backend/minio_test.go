package s3backend_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmrep/vmrep/engine/cas/s3backend"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// startMinIO runs a MinIO server on a free loopback port with its data in
// a temp directory, creates a bucket and returns how to reach it. The
// server is killed by its pid when tb ends.
func startMinIO(tb testing.TB) s3backend.Config {
	tb.Helper()
	testdisk.Need(tb, "minio")
	var lastErr error
	for range 3 { // another process may take the port between probe and bind
		cfg, err := tryStartMinIO(tb)
		if err == nil {
			return cfg
		}
		lastErr = err
	}
	tb.Fatalf("starting minio: %v", lastErr)
	return s3backend.Config{}
}

func tryStartMinIO(tb testing.TB) (s3backend.Config, error) {
	addr, console := freePort(tb), freePort(tb)
	data := tb.TempDir()
	logf, err := os.Create(filepath.Join(tb.TempDir(), "minio.log"))
	if err != nil {
		tb.Fatal(err)
	}
	defer logf.Close()
	cfg := s3backend.Config{
		Endpoint:  addr,
		Bucket:    "vmrep-test",
		AccessKey: "vmreptest",
		SecretKey: "vmreptest-secret",
	}
	cmd := exec.Command("minio", "server", "--quiet", "--address", addr, "--console-address", console, data)
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+cfg.AccessKey, "MINIO_ROOT_PASSWORD="+cfg.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=on")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return cfg, err
	}
	var exited atomic.Bool
	done := make(chan struct{})
	go func() { cmd.Wait(); exited.Store(true); close(done) }()
	tb.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	if err := waitReady(addr, &exited); err != nil {
		log, _ := os.ReadFile(logf.Name())
		cmd.Process.Kill()
		return cfg, fmt.Errorf("%w; log:\n%s", err, log)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s3backend.MakeBucket(ctx, cfg); err != nil {
		tb.Fatal(err)
	}
	return cfg, nil
}

func waitReady(addr string, exited *atomic.Bool) error {
	url := "http://" + addr + "/minio/health/ready"
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if exited.Load() {
			return fmt.Errorf("minio on %s exited", addr)
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("minio on %s not ready after 60s", addr)
}

func freePort(tb testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// prefixFor gives each subtest its own key prefix in the shared bucket.
func prefixFor(tb testing.TB) string {
	return "t/" + strings.NewReplacer("/", "-", " ", "_").Replace(tb.Name()) + "/"
}
