package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/engine/cas"
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
bucket's copy of the wrapped key changes first, then the local one.`,
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
	be, err := openBackend(ctx, o.backend)
	if err != nil {
		return err
	}
	err = cas.RotateKey(ctx, o.store, be, oldKEK, newKEK)
	var le *cas.LockedError
	if errors.As(err, &le) {
		return fmt.Errorf("store %s is served by vmrepd (pid %d); stop it first", o.store, le.PID)
	}
	if err != nil {
		return explainKeyError(o.store, err)
	}
	fmt.Fprintf(stdout, "store %s: data key re-wrapped under the new key; the old key no longer opens it\n", o.store)
	return nil
}
