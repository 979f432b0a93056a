package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/daemon"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/seal"
)

type rotateOptions struct {
	store, backend string
	old, new       keySource
}

func newRotateKeyCmd() *cobra.Command {
	var o rotateOptions
	cmd := &cobra.Command{
		Use:   "rotate-key --store DIR --old-key-file A --new-key-file B",
		Short: "Re-wrap an encrypted store's data key under a new key-encryption key",
		Long: `rotate-key re-wraps the data key of an encrypted store under a new
key-encryption key. No pack or record is rewritten: the data key stays, only
its wrapping changes, and the old key no longer opens the store. The store
must not be served while it runs (stop vmrepd first). With --backend, the
bucket's copy of the wrapped key changes first, then the local one. The
stores of hosted tenancies (DIR/tenancies/NAME, whose data keys the
server's key wraps) are re-wrapped too, before the server's own; a run
stopped half way is run again with the same keys.`,
		Example: `  # Move the store to a new key file, then serve it with that file.
  vmrepd rotate-key --store /var/lib/vmrep --old-key-file old.key --new-key-file new.key
  vmrepd --store /var/lib/vmrep --key-file new.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.store == "" {
				return usageError{errors.New("--store DIR is required")}
			}
			return rotateKey(o, cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.store, "store", "", "store `directory`")
	fs.StringVar(&o.backend, "backend", "", "the store's S3 `URL`, as vmrepd serves it")
	o.old.register(cmd, "old-", "current")
	o.new.register(cmd, "new-", "new")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	return cmd
}

func rotateKey(o rotateOptions, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	oldKEK, err := o.old.load(ctx, "old-", "", os.Getenv)
	if err != nil {
		return err
	}
	newKEK, err := o.new.load(ctx, "new-", "", os.Getenv)
	if err != nil {
		return err
	}
	if oldKEK == nil || newKEK == nil {
		return usageError{errors.New("give the current key (--old-key-file or --old-key-command) and the new one (--new-key-file or --new-key-command)")}
	}
	// Hosted tenancies' stores (STORE/tenancies/NAME, each wrapped by the
	// server's key) go first and the server's own store last, so a run
	// stopped half way is simply run again: a store the new key already
	// opens is counted as done.
	names, err := tenancyDirs(o.store)
	if err != nil {
		return err
	}
	for _, name := range names {
		dir := filepath.Join(o.store, "tenancies", name)
		if err := rotateOne(ctx, dir, o.backend, []string{"tenancies", name}, oldKEK, newKEK, stdout); err != nil {
			return fmt.Errorf("tenancy %s: %w", name, err)
		}
	}
	return rotateOne(ctx, o.store, o.backend, nil, oldKEK, newKEK, stdout)
}

// tenancyDirs lists the tenancy stores under store, by name.
func tenancyDirs(store string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(store, "tenancies"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && daemon.CheckTenancyName(e.Name()) == nil {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// rotateOne re-wraps one store's data key; a store the new key already
// opens (a rerun after a stop half way) is left as it is.
func rotateOne(ctx context.Context, dir, backend string, prefix []string, oldKEK, newKEK []byte, stdout io.Writer) error {
	be, err := openBackendUnder(ctx, backend, prefix...)
	if err != nil {
		return err
	}
	err = cas.RotateKey(ctx, dir, be, oldKEK, newKEK)
	if errors.Is(err, seal.ErrWrongKey) && cas.RotateKey(ctx, dir, be, newKEK, newKEK) == nil {
		fmt.Fprintf(stdout, "store %s: already under the new key\n", dir)
		return nil
	}
	var le *cas.LockedError
	if errors.As(err, &le) {
		return fmt.Errorf("store %s is served by vmrepd (pid %d); stop it first", dir, le.PID)
	}
	if err != nil {
		return explainKeyError(dir, err)
	}
	fmt.Fprintf(stdout, "store %s: data key re-wrapped under the new key; the old key no longer opens it\n", dir)
	return nil
}
