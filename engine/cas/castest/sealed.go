package castest

import (
	"context"
	"errors"
	"testing"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
)

// SharedEncryptedBackend is SharedBackend for an encrypted store: cfg is
// made encrypted under kek when the storage holds no store yet, and every
// store directory opens with kek.
func SharedEncryptedBackend(newBackend func(t *testing.T) cas.Backend, cfg cas.Config, kek []byte) OpenStore {
	return func(t *testing.T, dir string) *cas.Store {
		t.Helper()
		ctx := context.Background()
		be := newBackend(t)
		if _, err := cas.BackendConfig(ctx, be); errors.Is(err, blob.ErrNotFound) {
			ecfg, err := cfg.WithEncryption(kek)
			if err != nil {
				t.Fatal(err)
			}
			if err := cas.InitBackend(ctx, dir, ecfg, be); err != nil {
				t.Fatal(err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
		s, err := cas.Open(ctx, dir, cas.Options{Backend: be, KEK: kek})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}
