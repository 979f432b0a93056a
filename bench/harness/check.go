package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
)

// checkReport proves a run produced its report: the newest JSON in dir
// parses and holds figures for every part, the Markdown next to it has its
// tables, and each plot it names decodes as a PNG.
func checkReport(dir string) error {
	js, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(js) == 0 {
		return fmt.Errorf("no report JSON in %s", dir)
	}
	newest := js[0]
	for _, f := range js {
		if a, b := stat(f), stat(newest); a != nil && b != nil && a.ModTime().After(b.ModTime()) {
			newest = f
		}
	}
	data, err := os.ReadFile(newest)
	if err != nil {
		return err
	}
	var res Results
	if err := json.Unmarshal(data, &res); err != nil {
		return fmt.Errorf("parse %s: %w", newest, err)
	}
	for name, n := range map[string]int{"ingest": len(res.Ingest), "delta": len(res.Delta), "sweep": len(res.Sweep), "synth": len(res.Synth), "goals": len(res.Goals)} {
		if n == 0 {
			return fmt.Errorf("%s has no %s figures", newest, name)
		}
	}
	for _, r := range append(append(res.Ingest, res.Delta...), res.Sweep...) {
		if r.Seconds <= 0 || r.RSSMiB <= 0 {
			return fmt.Errorf("%s: %s %s on %s has no time or RSS", newest, r.Tool, r.Op, r.Workload)
		}
	}
	if _, ok := find(res.Ingest, "os", "vmrep", daemonOp, 0); !ok {
		return fmt.Errorf("%s has no ingest timed through vmrepd", newest)
	}
	md, err := os.ReadFile(strings.TrimSuffix(newest, ".json") + ".md")
	if err != nil {
		return err
	}
	for _, h := range []string{"## Ingest", "## Delta", "## Goals", "| vmrep |"} {
		if !bytes.Contains(md, []byte(h)) {
			return fmt.Errorf("%s.md lacks %q", strings.TrimSuffix(newest, ".json"), h)
		}
	}
	pngs, _ := filepath.Glob(strings.TrimSuffix(newest, ".json") + "-*.png")
	if len(pngs) < 2 {
		return fmt.Errorf("want 2 plots next to %s, found %d", newest, len(pngs))
	}
	for _, f := range pngs {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		_, err = png.Decode(fh)
		fh.Close()
		if err != nil {
			return fmt.Errorf("plot %s: %w", f, err)
		}
	}
	return nil
}

func stat(p string) os.FileInfo {
	fi, _ := os.Stat(p)
	return fi
}
