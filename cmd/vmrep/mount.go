package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/client"
)

// mountRequest, unmountRequest and mountInfo mirror the daemon's
// MountRequest, UnmountRequest and MountInfo on the wire.
type mountRequest struct {
	Dir        string `json:"dir"`
	AllowOther bool   `json:"allow_other,omitempty"`
	CacheSize  int64  `json:"cache_size,omitempty"`
}

type unmountRequest struct {
	Dir string `json:"dir"`
}

type mountInfo struct {
	Dir        string    `json:"dir"`
	AllowOther bool      `json:"allow_other,omitempty"`
	CacheSize  int64     `json:"cache_size"`
	Since      time.Time `json:"since"`
}

func newMountCmd(a *app) *cobra.Command {
	var allowOther, list bool
	var cacheSize string
	cmd := &cobra.Command{
		Use:   "mount DIR [--allow-other] [--cache-size 256MiB] | mount --list",
		Short: "Serve every snapshot read-only at DIR through FUSE",
		Long: `The daemon mounts the store at DIR: DIR/<vg>/<seq>/<volume>.img for every
snapshot, DIR/<vg>/latest, and DIR/<vg>/<seq>/snapshot.json. New snapshots
appear without a remount. The mount lasts until "vmrep umount DIR"; the
daemon serves it again after a restart.`,
		Example: `  vmrep mount /mnt/vmrep
  mount -o loop,ro /mnt/vmrep/web/latest/boot.img /mnt/web
  vmrep mount --list
  vmrep umount /mnt/vmrep`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if list {
				if len(argv) > 0 {
					return usagef("--list takes no directory")
				}
				return a.listMounts(cmd.Context())
			}
			if len(argv) != 1 {
				return usagef("mount needs a directory (or --list)")
			}
			dir, err := absPath(argv[0])
			if err != nil {
				return err
			}
			req := mountRequest{Dir: dir, AllowOther: allowOther}
			if cacheSize != "" {
				if req.CacheSize, err = parseSize(cacheSize); err != nil {
					return err
				}
			}
			var info mountInfo
			if err := a.call(cmd.Context(), http.MethodPost, "/v1/mounts", req, &info); err != nil {
				return err
			}
			if a.json {
				return a.emit(info)
			}
			fmt.Fprintf(a.stdout, "mounted the store at %s (cache %s)\n", info.Dir, humanBytes(info.CacheSize))
			return nil
		},
	}
	cmd.Flags().BoolVar(&allowOther, "allow-other", false, "let users other than root read the mount")
	cmd.Flags().StringVar(&cacheSize, "cache-size", "", "memory for decompressed chunks, e.g. 256MiB (the default)")
	cmd.Flags().BoolVar(&list, "list", false, "list the daemon's mounts")
	return cmd
}

func newMountsCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "mounts",
		Short: "List the daemon's FUSE mounts (same as mount --list)",
		Args:  args(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return a.listMounts(cmd.Context()) },
	}
}

func newUmountCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "umount DIR",
		Aliases: []string{"unmount"},
		Short:   "Unmount a FUSE mount of the store",
		Example: `  vmrep umount /mnt/vmrep`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			dir, err := absPath(argv[0])
			if err != nil {
				return err
			}
			if err := a.call(cmd.Context(), http.MethodPost, "/v1/mounts/unmount", unmountRequest{Dir: dir}, nil); err != nil {
				return err
			}
			if !a.json {
				fmt.Fprintf(a.stdout, "unmounted %s\n", dir)
			}
			return nil
		},
	}
}

func (a *app) listMounts(ctx context.Context) error {
	var infos []mountInfo
	if err := a.call(ctx, http.MethodGet, "/v1/mounts", nil, &infos); err != nil {
		return err
	}
	if a.json {
		return a.emit(infos)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DIR\tCACHE\tALLOW-OTHER\tSINCE")
	for _, m := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", m.Dir, humanBytes(m.CacheSize), m.AllowOther, m.Since.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

// call sends one JSON request to the daemon's mount endpoints. The client
// package has no typed calls for them yet, so this speaks the same wire
// protocol (JSON over the Unix socket, typed errors) itself.
func (a *app) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encoding request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", a.socket)
		},
	}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, method, "http://vmrepd"+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("connect to vmrepd at %s: %w", a.socket, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e api.Error
		if json.Unmarshal(b, &e) != nil || e.Code == "" {
			return &client.Error{Code: api.CodeInternal, Message: fmt.Sprintf("daemon answered %s: %s", resp.Status, bytes.TrimSpace(b))}
		}
		return &client.Error{Code: e.Code, Message: e.Message}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
		}
	}
	return nil
}
