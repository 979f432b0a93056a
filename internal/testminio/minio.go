package testminio

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

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/vmrep/vmrep/internal/testdisk"
)

// Server is a running MinIO with one bucket.
type Server struct {
	Endpoint  string // host:port, plain HTTP
	Bucket    string
	AccessKey string
	SecretKey string
}

// Binary finds the minio executable: on PATH, else where `go install`
// puts it ($(go env GOPATH)/bin). It returns "" when there is none.
func Binary() string {
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
		p := filepath.Join(dir, "bin", "minio")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// Start runs MinIO and creates bucket in it; with bucket "" it creates
// none, for a caller that tests its own way of making one. Without a minio
// binary the test skips, or fails in CI (testdisk.Need), so CI never hides
// it.
func Start(tb testing.TB, bucket string) Server {
	tb.Helper()
	bin := Binary()
	if bin == "" {
		testdisk.Need(tb, "minio")
	}
	var lastErr error
	for range 3 { // another process may take the port between probe and bind
		s, err := start(tb, bin, bucket)
		if err == nil {
			return s
		}
		lastErr = err
	}
	tb.Fatalf("start minio: %v", lastErr)
	return Server{}
}

func start(tb testing.TB, bin, bucket string) (Server, error) {
	addr, err := freePort()
	if err != nil {
		return Server{}, err
	}
	console, err := freePort()
	if err != nil {
		return Server{}, err
	}
	s := Server{Endpoint: addr, Bucket: bucket, AccessKey: "vmreptest", SecretKey: "vmreptest-secret"}
	logf, err := os.Create(filepath.Join(tb.TempDir(), "minio.log"))
	if err != nil {
		return s, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", console, tb.TempDir())
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=on")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return s, fmt.Errorf("run %s: %w", bin, err)
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
		return s, fmt.Errorf("%w; log:\n%s", err, log)
	}
	if bucket == "" {
		return s, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := s.client()
	if err != nil {
		return s, err
	}
	if err := cl.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		return s, fmt.Errorf("make bucket %s on %s: %w", bucket, addr, err)
	}
	return s, nil
}

func (s Server) client() (*minio.Client, error) {
	cl, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, "")})
	if err != nil {
		return nil, fmt.Errorf("minio client for %s: %w", s.Endpoint, err)
	}
	return cl, nil
}

// Objects lists the objects under prefix in the bucket: key to size.
func (s Server) Objects(ctx context.Context, prefix string) (map[string]int64, error) {
	cl, err := s.client()
	if err != nil {
		return nil, err
	}
	sizes := map[string]int64{}
	for obj := range cl.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list %s/%s on %s: %w", s.Bucket, prefix, s.Endpoint, obj.Err)
		}
		sizes[obj.Key] = obj.Size
	}
	return sizes, nil
}

func waitReady(addr string, exited *atomic.Bool) error {
	url := "http://" + addr + "/minio/health/ready"
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if exited.Load() {
			return fmt.Errorf("minio on %s exited", addr)
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("minio on %s not ready after 60s", addr)
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("probe a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
