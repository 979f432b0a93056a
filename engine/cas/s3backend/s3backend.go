package s3backend

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/internal/vfs"
)

// Config says where the bucket is and how to reach it.
type Config struct {
	Endpoint  string // host:port, no scheme
	Bucket    string
	Prefix    string // key prefix inside the bucket; "" for the bucket root
	AccessKey string
	SecretKey string
	Region    string // "" lets the client discover it
	Secure    bool   // HTTPS
	CACert    string // PEM file of extra roots to trust; "" for the system's
}

// partSize is the multipart part size: packs (64 MiB by default) go up in
// four parts sent in parallel from the temp file.
const partSize = 16 << 20

// Backend is a cas.Backend over one bucket and prefix.
type Backend struct {
	client *minio.Client
	bucket string
	prefix string
}

var _ cas.Backend = (*Backend)(nil)

// New connects to the bucket described by cfg and checks that it exists.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	client, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	b := &Backend{client: client, bucket: cfg.Bucket, prefix: normPrefix(cfg.Prefix)}
	var ok bool
	err = retry(ctx, func() error {
		var err error
		ok, err = client.BucketExists(ctx, cfg.Bucket)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("s3 bucket %s at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("s3 bucket %s at %s: %w", cfg.Bucket, cfg.Endpoint, blob.ErrNotFound)
	}
	return b, nil
}

// MakeBucket creates cfg.Bucket when it does not exist yet.
func MakeBucket(ctx context.Context, cfg Config) error {
	client, err := newClient(cfg)
	if err != nil {
		return err
	}
	return retry(ctx, func() error {
		ok, err := client.BucketExists(ctx, cfg.Bucket)
		if err != nil || ok {
			return err
		}
		err = client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region})
		if err != nil {
			return fmt.Errorf("make s3 bucket %s at %s: %w", cfg.Bucket, cfg.Endpoint, err)
		}
		return nil
	})
}

func newClient(cfg Config) (*minio.Client, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("s3 backend: endpoint and bucket are required")
	}
	tr, err := minio.DefaultTransport(cfg.Secure)
	if err != nil {
		return nil, fmt.Errorf("s3 backend %s: %w", cfg.Endpoint, err)
	}
	if cfg.CACert != "" {
		pem, err := os.ReadFile(cfg.CACert)
		if err != nil {
			return nil, fmt.Errorf("s3 backend %s: CA certificate: %w", cfg.Endpoint, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("s3 backend %s: no certificate in %s", cfg.Endpoint, cfg.CACert)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    cfg.Secure,
		Region:    cfg.Region,
		Transport: tr,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 backend %s: %w", cfg.Endpoint, err)
	}
	return client, nil
}

// List calls fn for every object of kind under the prefix.
func (b *Backend) List(ctx context.Context, kind cas.FileKind, fn func(name string, size int64) error) error {
	root, err := listRoot(b.prefix, kind)
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	// A listing is restarted whole on a transient error, so fn may see a
	// name twice; report each once.
	seen := make(map[string]bool)
	err = retry(ctx, func() error {
		return b.listOnce(ctx, minio.ListObjectsOptions{Prefix: root, Recursive: true}, func(obj minio.ObjectInfo) error {
			name, ok := nameOf(b.prefix, kind, obj.Key)
			if !ok || seen[name] {
				return nil
			}
			seen[name] = true
			if err := fn(name, obj.Size); err != nil {
				return permanent{err}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("list %s objects in s3 bucket %s/%s: %w", kind, b.bucket, b.prefix, err)
	}
	return nil
}

// listOnce makes one listing of the objects opts selects, calling fn for
// each; an object's error, or fn's, ends it. It always drains the
// listing: the client's goroutine sends until the channel is closed.
func (b *Backend) listOnce(ctx context.Context, opts minio.ListObjectsOptions, fn func(minio.ObjectInfo) error) error {
	lctx, cancel := context.WithCancel(ctx)
	ch := b.client.ListObjects(lctx, b.bucket, opts)
	defer func() {
		cancel()
		for range ch {
		}
	}()
	for obj := range ch {
		if obj.Err != nil {
			return obj.Err
		}
		if err := fn(obj); err != nil {
			return err
		}
	}
	return nil
}

// ReadAt reads len(p) bytes at off with one ranged GET.
func (b *Backend) ReadAt(ctx context.Context, h cas.Handle, p []byte, off int64) error {
	key, err := keyOf(b.prefix, h)
	if err != nil {
		return err
	}
	if off < 0 {
		return fmt.Errorf("read %s: negative offset %d", h, off)
	}
	if len(p) == 0 {
		return ctx.Err()
	}
	err = retry(ctx, func() error {
		var opts minio.GetObjectOptions
		if err := opts.SetRange(off, off+int64(len(p))-1); err != nil {
			return permanent{err}
		}
		obj, err := b.client.GetObject(ctx, b.bucket, key, opts)
		if err != nil {
			return err
		}
		defer obj.Close()
		_, err = io.ReadFull(obj, p)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return b.shortRead(ctx, key, off+int64(len(p)))
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("read %s at %d from s3 object %s: %w", h, off, key, err)
	}
	return nil
}

// shortRead tells a range past the object's end, a permanent short read as
// for a file, from a body cut off on the way, which is worth retrying.
func (b *Backend) shortRead(ctx context.Context, key string, end int64) error {
	info, err := b.client.StatObject(ctx, b.bucket, key, minio.StatObjectOptions{})
	if err == nil && info.Size < end {
		return permanent{fmt.Errorf("object has %d bytes: %w", info.Size, io.ErrUnexpectedEOF)}
	}
	return io.ErrUnexpectedEOF
}

// Put uploads the temp file f under h, then closes and removes it. PUT of
// one object is atomic: readers see the whole object or none.
func (b *Backend) Put(ctx context.Context, h cas.Handle, f vfs.File) error {
	defer os.Remove(f.Name())
	defer f.Close()
	key, err := keyOf(b.prefix, h)
	if err != nil {
		return fmt.Errorf("put %s: %w", h, err)
	}
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("put %s: %w", h, err)
	}
	size := info.Size()
	err = retry(ctx, func() error {
		up, err := b.client.PutObject(ctx, b.bucket, key, io.NewSectionReader(f, 0, size), size,
			minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: partSize, NumThreads: 4})
		if err != nil {
			return err
		}
		if up.Size != size {
			return fmt.Errorf("stored %d of %d bytes", up.Size, size)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put %s as s3 object %s: %w", h, key, err)
	}
	return nil
}

// Delete removes h; S3 does not report a missing object, so neither does
// Delete.
func (b *Backend) Delete(ctx context.Context, h cas.Handle) error {
	key, err := keyOf(b.prefix, h)
	if err != nil {
		return fmt.Errorf("delete %s: %w", h, err)
	}
	err = retry(ctx, func() error {
		return b.client.RemoveObject(ctx, b.bucket, key, minio.RemoveObjectOptions{})
	})
	if err != nil {
		return fmt.Errorf("delete %s (s3 object %s): %w", h, key, err)
	}
	return nil
}
