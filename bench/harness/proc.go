package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// measured is one child process: its wall time, peak RSS and, for
// vmrepbench, the figures it printed.
type measured struct {
	Wall   float64
	CPU    float64 // user and system seconds of the child
	RSSKiB int64
	Out    map[string]any
}

// runChild runs argv with extra environment and measures it.
func runChild(ctx context.Context, env []string, argv ...string) (measured, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t := time.Now()
	err := cmd.Run()
	m := measured{Wall: time.Since(t).Seconds()}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			m.RSSKiB = ru.Maxrss
		}
		m.CPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	}
	if err != nil {
		return m, fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, tail(errb.String()+out.String()))
	}
	if line := lastLine(out.String()); strings.HasPrefix(line, "{") {
		if err := json.Unmarshal([]byte(line), &m.Out); err != nil {
			return m, fmt.Errorf("%s: parse its figures: %w", argv[0], err)
		}
		// vmrepbench's own VmHWM: ru_maxrss of a child carries the
		// harness's high-water mark (vfork+exec), so it is only a bound.
		if hwm := m.f("hwm_kib"); hwm > 0 {
			m.RSSKiB = int64(hwm)
		}
	}
	return m, nil
}

func (m measured) f(key string) float64 {
	v, _ := m.Out[key].(float64)
	return v
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 600 {
		s = "..." + s[len(s)-600:]
	}
	return s
}

// warm reads path once so the next tool finds it in the page cache.
func warm(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("warm %s: %w", path, err)
	}
	defer f.Close()
	_, err = io.CopyBuffer(io.Discard, f, make([]byte, 4<<20))
	return err
}

// duBytes is the disk space a file or tree takes (allocated blocks).
func duBytes(path string) int64 {
	var n int64
	filepath.Walk(path, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		}
		return nil
	})
	return n
}

// fileSize is the apparent size of a file, 0 when missing.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// canDropCaches reports whether the page cache could be dropped here: it
// opens the control file for writing and closes it without writing, so
// nothing is dropped.
func canDropCaches() bool {
	f, err := os.OpenFile("/proc/sys/vm/drop_caches", os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}
