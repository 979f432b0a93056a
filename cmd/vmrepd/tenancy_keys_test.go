package main

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/seal"
)

// TestTenancyStoresEncrypted checks that on a server with a key-encryption
// key every tenancy's store is created encrypted, with a data key of its
// own (two tenancies never share one), that the KEK opens it again, and
// that it does not open without the KEK or with another.
func TestTenancyStoresEncrypted(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	kek := seal.NewDataKey()
	o := options{store: t.TempDir(), compress: "zstd"}
	keys := map[string]string{}
	for _, name := range []string{"acme", "globex"} {
		st, err := openTenancyStore(ctx, o, name, kek, log)
		if err != nil {
			t.Fatal(err)
		}
		cfg := st.Config()
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if cfg.Encryption == "" || cfg.DataKey == "" {
			t.Fatalf("tenancy %s: store created plain on a server with a KEK: %+v", name, cfg)
		}
		keys[name] = cfg.DataKey
	}
	if keys["acme"] == keys["globex"] {
		t.Fatal("two tenancies share one wrapped data key")
	}
	st, err := openTenancyStore(ctx, o, "acme", kek, log)
	if err != nil {
		t.Fatalf("reopening acme's store with the server's KEK: %v", err)
	}
	st.Close()
	if _, err := openTenancyStore(ctx, o, "acme", nil, log); !errors.Is(err, cas.ErrKeyRequired) {
		t.Fatalf("acme's store without the KEK: %v, want ErrKeyRequired", err)
	}
	if _, err := openTenancyStore(ctx, o, "acme", seal.NewDataKey(), log); !errors.Is(err, seal.ErrWrongKey) {
		t.Fatalf("acme's store with another KEK: %v, want ErrWrongKey", err)
	}
}
