package testminio

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"
)

// Get returns the content of the object key in the bucket.
func (s Server) Get(ctx context.Context, key string) ([]byte, error) {
	cl, err := s.client()
	if err != nil {
		return nil, err
	}
	obj, err := cl.GetObject(ctx, s.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", s.Bucket, key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", s.Bucket, key, err)
	}
	return b, nil
}

// Put replaces the object key in the bucket with data (tests damage
// objects with it).
func (s Server) Put(ctx context.Context, key string, data []byte) error {
	cl, err := s.client()
	if err != nil {
		return err
	}
	_, err = cl.PutObject(ctx, s.Bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", s.Bucket, key, err)
	}
	return nil
}
