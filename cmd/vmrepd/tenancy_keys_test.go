package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
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
	kekFile, kek := writeKey(t, 0o600)
	o := options{store: t.TempDir(), compress: "zstd"}
	cfg, err := cas.DefaultConfig().WithEncryption(kek)
	if err != nil {
		t.Fatal(err)
	}
	if err := cas.Init(ctx, o.store, cfg); err != nil {
		t.Fatal(err)
	}
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

	// rotate-key re-wraps the server's data key and every tenancy's.
	newFile, newKEK := writeKey(t, 0o600)
	var out strings.Builder
	if err := rotateKey(rotateOptions{store: o.store, old: keySource{file: kekFile}, new: keySource{file: newFile}}, &out); err != nil {
		t.Fatalf("rotate-key: %v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "re-wrapped"); n != 3 {
		t.Fatalf("rotate-key re-wrapped %d stores, want the server's and two tenancies':\n%s", n, out.String())
	}
	for _, name := range []string{"acme", "globex"} {
		st, err := openTenancyStore(ctx, o, name, newKEK, log)
		if err != nil {
			t.Fatalf("tenancy %s after rotate-key, new key: %v", name, err)
		}
		st.Close()
		if _, err := openTenancyStore(ctx, o, name, kek, log); !errors.Is(err, seal.ErrWrongKey) {
			t.Fatalf("tenancy %s after rotate-key, old key: %v, want ErrWrongKey", name, err)
		}
	}
	st, err = cas.Open(ctx, o.store, cas.Options{KEK: newKEK})
	if err != nil {
		t.Fatalf("the server's store after rotate-key: %v", err)
	}
	st.Close()
}
