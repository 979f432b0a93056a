package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/seal"
	"github.com/vmrep/vmrep/internal/secretfile"
)

// kekEnv names the environment variable that may hold the key-encryption
// key, as 64 hex digits.
const kekEnv = "VMREP_KEK"

// keyCommandTimeout bounds a --key-command (a KMS client, say).
const keyCommandTimeout = 30 * time.Second

// keySource is where a key-encryption key comes from: a file, a command or
// the environment; at most one.
type keySource struct {
	file, command string
}

func (k *keySource) register(cmd *cobra.Command, prefix, what string) {
	fs := cmd.Flags()
	fs.StringVar(&k.file, prefix+"key-file", "", "read the "+what+" key-encryption key from this `file` (64 hex digits or 32 bytes; mode 600)")
	fs.StringVar(&k.command, prefix+"key-command", "", "run this shell `command` and read the "+what+" key-encryption key from its stdout (a KMS client)")
}

// load returns the key, or nil when no source is given; env is consulted
// only when envName is not "".
func (k keySource) load(ctx context.Context, prefix, envName string, getenv func(string) string) ([]byte, error) {
	env := ""
	if envName != "" {
		env = getenv(envName)
	}
	n := 0
	for _, s := range []string{k.file, k.command, env} {
		if s != "" {
			n++
		}
	}
	switch {
	case n == 0:
		return nil, nil
	case n > 1 && envName != "":
		return nil, usageError{fmt.Errorf("give one key source: --%skey-file, --%skey-command or %s", prefix, prefix, envName)}
	case n > 1:
		return nil, usageError{fmt.Errorf("give one of --%skey-file and --%skey-command", prefix, prefix)}
	}
	switch {
	case k.file != "":
		return readKeyFile("--"+prefix+"key-file", k.file)
	case k.command != "":
		return runKeyCommand(ctx, "--"+prefix+"key-command", k.command)
	}
	key, err := seal.ParseKEK([]byte(env))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envName, err)
	}
	return key, nil
}

// readKeyFile reads a key file, refusing one that others may read.
func readKeyFile(flag, path string) ([]byte, error) {
	b, err := secretfile.Read(flag, path)
	if err != nil {
		return nil, err
	}
	key, err := seal.ParseKEK(b)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	return key, nil
}

// runKeyCommand runs command with sh -c and reads the key from its stdout.
func runKeyCommand(ctx context.Context, flag, command string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, keyCommandTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return nil, fmt.Errorf("%s: %w: %s", flag, err, msg)
	}
	key, err := seal.ParseKEK(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: its output: %w", flag, err)
	}
	return key, nil
}

// explainKeyError turns the store's key errors into one line that says
// what to give.
func explainKeyError(dir string, err error) error {
	switch {
	case errors.Is(err, cas.ErrKeyRequired):
		return fmt.Errorf("store %s is encrypted: give its key with --key-file, --key-command or %s", dir, kekEnv)
	case errors.Is(err, cas.ErrNotEncrypted):
		return fmt.Errorf("store %s is not encrypted: drop --encrypt and the key (no store is half encrypted)", dir)
	case errors.Is(err, seal.ErrWrongKey):
		return fmt.Errorf("store %s: the key given does not open it (another key, or a key rotated away)", dir)
	}
	return err
}
