package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/vmrep/vmrep/api"
)

// check runs verify --read-data and restores every remaining snapshot,
// comparing it with what its sources held.
func (g *gcRace) check(run int) {
	ctx := context.Background()
	j, err := g.cl.Verify(ctx, api.VerifyRequest{ReadData: true})
	if err != nil {
		g.unexpected("run %d: verify: %v", run, err)
		return
	}
	ev, err := g.cl.Wait(ctx, j.ID, nil)
	var vr api.VerifyResult
	if err == nil {
		err = json.Unmarshal(ev.Result, &vr)
	}
	if err != nil && isMissing(err.Error()) {
		g.count("missing chunks", 1)
		g.t.Errorf("run %d: verify: %v", run, err)
	} else if err != nil {
		g.unexpected("run %d: verify: %v", run, err)
	}
	for _, p := range vr.Problems {
		if isMissing(p) {
			g.count("missing chunks", 1)
		} else {
			g.count("verify problems", 1)
		}
		g.t.Errorf("run %d: verify: %s", run, p)
	}
	out := filepath.Join(g.d.dir, "restored.img")
	for name, sums := range g.want {
		for i, vol := range []string{"boot", "db"} {
			g.restoreOne(run, name, vol, out, sums[i])
		}
	}
}

// restoreOne restores one volume of a snapshot and compares its hash.
func (g *gcRace) restoreOne(run int, name, vol, out string, want [32]byte) {
	ctx := context.Background()
	j, err := g.cl.Restore(ctx, api.RestoreRequest{Snapshot: name, Volume: vol, Output: out})
	if err == nil {
		_, err = g.cl.Wait(ctx, j.ID, nil)
	}
	if err != nil {
		if isMissing(err.Error()) {
			g.count("missing chunks", 1)
			g.t.Errorf("run %d: restore %s %s: %v", run, name, vol, err)
		} else {
			g.unexpected("run %d: restore %s %s: %v", run, name, vol, err)
		}
		return
	}
	b, err := os.ReadFile(out)
	if err != nil {
		g.t.Fatal(err)
	}
	g.count("restores checked", 1)
	if sha256.Sum256(b) != want {
		g.count("wrong restores", 1)
		g.t.Errorf("run %d: restore of %s %s differs from the source it captured", run, name, vol)
	}
}

// isMissing says whether an error or problem names a blob the store lacks.
func isMissing(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, "not found") || strings.Contains(s, "missing")
}
