package source

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vmrep/vmrep/internal/nbd"
	"github.com/vmrep/vmrep/internal/qmp"
)

// Tracker is a source that tracks its own writes between snapshots, as a
// QEMU dirty bitmap does. A snapshot calls Track once before reading, then
// Finish once, whether or not it was recorded.
type Tracker interface {
	Reader
	// Track starts a new tracking round named by a fresh token and says
	// what changed since the round prev named (recorded by the previous
	// snapshot; "" for none). It returns Broken (why the changes are not
	// known, so the source must be read whole) when prev is "", unusable,
	// or useChanges is false. The Reader reads the volume as of Track.
	Track(ctx context.Context, prev, prefix string, useChanges bool) (Tracked, error)
	// Finish ends the round: when committed, prev's round is dropped and the
	// new token carries on; else the new round is folded back into prev's,
	// so a failed snapshot loses nothing.
	Finish(ctx context.Context, committed bool) error
}

// Tracked is what Track learned.
type Tracked struct {
	Token   string  // to record in the snapshot, for the next Track
	Changed []Range // what changed since prev (when Broken is "")
	Broken  string  // why the changes are not known: read whole
}

// qemuSource is an NBD export of a QEMU process or qemu-storage-daemon
// whose QMP socket vmrep may use: each snapshot rotates a persistent dirty
// bitmap on the export's node and reads through a temporary read-only
// export of the same node that shows the frozen bitmap.
type qemuSource struct {
	target nbd.Target
	q      *qmp.Conn
	node   string
	size   int64

	c        *nbd.Conn // the temporary export, after Track
	export   string    // its id and name
	prev     string    // the bitmap frozen by Track ("" when broken)
	retire   string    // the old bitmap to drop once committed
	token    string    // the bitmap that tracks from Track on
	finished bool
}

// OpenQEMU opens the NBD export uri served by the QEMU process or
// qemu-storage-daemon whose QMP socket is qmpPath, for Track. The export's
// block node is the one whose export id or node name is the export's name,
// or the only export there is.
func OpenQEMU(ctx context.Context, uri, qmpPath string) (Tracker, error) {
	t, err := nbd.ParseURI(uri)
	if err != nil {
		return nil, err
	}
	q, err := qmp.Dial(ctx, qmpPath)
	if err != nil {
		return nil, err
	}
	s := &qemuSource{target: t, q: q}
	if err := s.findNode(ctx); err != nil {
		q.Close()
		return nil, fmt.Errorf("%s: %w", uri, err)
	}
	return s, nil
}

type blockExport struct {
	ID   string `json:"id"`
	Node string `json:"node-name"`
	Type string `json:"type"`
}

type bitmapInfo struct {
	Name         string `json:"name"`
	Recording    bool   `json:"recording"`
	Persistent   bool   `json:"persistent"`
	Busy         bool   `json:"busy"`
	Inconsistent bool   `json:"inconsistent"`
}

type blockNode struct {
	Node    string       `json:"node-name"`
	Bitmaps []bitmapInfo `json:"dirty-bitmaps"`
	Image   struct {
		Size int64 `json:"virtual-size"`
	} `json:"image"`
}

func (s *qemuSource) findNode(ctx context.Context) error {
	var exps []blockExport
	if err := s.q.Execute(ctx, "query-block-exports", nil, &exps); err != nil {
		return err
	}
	var nbdExps []blockExport
	for _, e := range exps {
		if e.Type == "nbd" && !strings.HasPrefix(e.ID, "vmrep-") {
			nbdExps = append(nbdExps, e)
		}
	}
	for _, e := range nbdExps {
		if e.ID == s.target.Export || e.Node == s.target.Export {
			s.node = e.Node
		}
	}
	if s.node == "" && len(nbdExps) == 1 {
		s.node = nbdExps[0].Node
	}
	if s.node == "" {
		return fmt.Errorf("no NBD export with id or node name %q among %d exports of the QMP peer", s.target.Export, len(nbdExps))
	}
	n, err := s.nodeInfo(ctx)
	if err != nil {
		return err
	}
	s.size = n.Image.Size
	return nil
}

func (s *qemuSource) nodeInfo(ctx context.Context) (blockNode, error) {
	var nodes []blockNode
	if err := s.q.Execute(ctx, "query-named-block-nodes", map[string]any{"flat": true}, &nodes); err != nil {
		return blockNode{}, err
	}
	for _, n := range nodes {
		if n.Node == s.node {
			return n, nil
		}
	}
	return blockNode{}, fmt.Errorf("block node %q is gone", s.node)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

type action struct {
	Type string         `json:"type"`
	Data map[string]any `json:"data"`
}

func (s *qemuSource) Track(ctx context.Context, prev, prefix string, useChanges bool) (Tracked, error) {
	if s.token != "" {
		return Tracked{}, errors.New("qemu source: Track called twice")
	}
	if err := s.dropStaleExports(ctx); err != nil {
		return Tracked{}, err
	}
	n, err := s.nodeInfo(ctx)
	if err != nil {
		return Tracked{}, err
	}
	s.size = n.Image.Size
	broken := ""
	var have *bitmapInfo
	for i, b := range n.Bitmaps {
		if b.Name == prev {
			have = &n.Bitmaps[i]
		}
	}
	if have != nil {
		if err := s.foldLeftovers(ctx, have, n.Bitmaps, prefix); err != nil {
			return Tracked{}, err
		}
	}
	switch {
	case prev == "":
		broken = "no dirty bitmap recorded for it"
	case have == nil:
		broken = fmt.Sprintf("dirty bitmap %s missing", prev)
	case have.Inconsistent:
		broken = fmt.Sprintf("dirty bitmap %s inconsistent (its QEMU stopped without saving it)", prev)
	case !have.Recording:
		broken = fmt.Sprintf("dirty bitmap %s not recording", prev)
	case have.Busy:
		broken = fmt.Sprintf("dirty bitmap %s busy", prev)
	case !useChanges:
		broken = "full read asked for"
	}
	// Leftovers of this volume's earlier rounds (a daemon killed between
	// add and remove) would only cost QEMU memory and qcow2 space.
	for _, b := range n.Bitmaps {
		if strings.HasPrefix(b.Name, prefix+"-") && b.Name != prev && !b.Busy {
			s.q.Execute(ctx, "block-dirty-bitmap-remove", map[string]any{"node": s.node, "name": b.Name}, nil)
		}
	}
	s.token = prefix + "-" + randomHex(6)
	acts := []action{{Type: "block-dirty-bitmap-add", Data: map[string]any{"node": s.node, "name": s.token, "persistent": true}}}
	if broken == "" {
		// One transaction: no write falls between the old bitmap's end and
		// the new one's start.
		acts = append(acts, action{Type: "block-dirty-bitmap-disable", Data: map[string]any{"node": s.node, "name": prev}})
	}
	if err := s.q.Execute(ctx, "transaction", map[string]any{"actions": acts}, nil); err != nil {
		s.token = ""
		return Tracked{}, fmt.Errorf("rotate dirty bitmap on node %s: %w", s.node, err)
	}
	if have != nil && !have.Busy {
		s.retire = prev
	}
	if broken == "" {
		s.prev = prev
	}
	if err := s.openExport(ctx); err != nil {
		return Tracked{}, err
	}
	out := Tracked{Token: s.token, Broken: broken}
	if broken == "" {
		out.Changed, err = s.dirty(ctx)
		if err != nil {
			return Tracked{}, err
		}
	}
	return out, nil
}

// foldLeftovers undoes the switch of a round a killed vmrep left: prev
// disabled, and the round's own bitmap recording every write since. As
// Finish does after a failure, one transaction merges every such bitmap of
// the volume into prev, enables prev and removes them; prev then holds all
// writes since its snapshot again.
func (s *qemuSource) foldLeftovers(ctx context.Context, prev *bitmapInfo, all []bitmapInfo, prefix string) error {
	if prev.Recording || prev.Inconsistent || prev.Busy {
		return nil
	}
	var left []string
	for _, b := range all {
		if strings.HasPrefix(b.Name, prefix+"-") && b.Name != prev.Name && b.Recording && !b.Inconsistent && !b.Busy {
			left = append(left, b.Name)
		}
	}
	if len(left) == 0 {
		return nil
	}
	acts := []action{
		{Type: "block-dirty-bitmap-merge", Data: map[string]any{"node": s.node, "target": prev.Name, "bitmaps": left}},
		{Type: "block-dirty-bitmap-enable", Data: map[string]any{"node": s.node, "name": prev.Name}},
	}
	for _, l := range left {
		acts = append(acts, action{Type: "block-dirty-bitmap-remove", Data: map[string]any{"node": s.node, "name": l}})
	}
	if err := s.q.Execute(ctx, "transaction", map[string]any{"actions": acts}, nil); err != nil {
		return fmt.Errorf("fold leftover bitmaps %v into %s: %w", left, prev.Name, err)
	}
	prev.Recording = true
	return nil
}

// dropStaleExports removes the temporary exports of the node that a vmrep
// killed during a snapshot left behind: they keep the bitmap they show
// busy, which would break the chain.
func (s *qemuSource) dropStaleExports(ctx context.Context) error {
	var exps []blockExport
	if err := s.q.Execute(ctx, "query-block-exports", nil, &exps); err != nil {
		return err
	}
	for _, e := range exps {
		if e.Node == s.node && strings.HasPrefix(e.ID, "vmrep-") {
			s.export = e.ID
			if err := s.dropExport(ctx); err != nil {
				return fmt.Errorf("remove leftover export %s: %w", e.ID, err)
			}
		}
	}
	return nil
}

// openExport adds a read-only export of the node that shows the frozen
// bitmap, and connects to it.
func (s *qemuSource) openExport(ctx context.Context) error {
	s.export = "vmrep-" + randomHex(8)
	args := map[string]any{"type": "nbd", "id": s.export, "node-name": s.node, "name": s.export, "writable": false}
	metas := []string{metaAllocation}
	if s.prev != "" {
		args["bitmaps"] = []string{s.prev}
		metas = append(metas, "qemu:dirty-bitmap:"+s.prev)
	}
	if err := s.q.Execute(ctx, "block-export-add", args, nil); err != nil {
		s.export = ""
		return fmt.Errorf("export node %s for reading: %w", s.node, err)
	}
	t := s.target
	t.Export = s.export
	c, err := nbd.Dial(ctx, t, nbd.Options{MetaContexts: metas})
	if err != nil {
		return err
	}
	s.c = c
	if c.Size() != s.size {
		return fmt.Errorf("export %s: size %d, node says %d", s.export, c.Size(), s.size)
	}
	if s.prev != "" && !c.HasContext("qemu:dirty-bitmap:"+s.prev) {
		return fmt.Errorf("export %s: server did not grant dirty bitmap %s", s.export, s.prev)
	}
	return nil
}

// dirty lists the ranges the frozen bitmap marks.
func (s *qemuSource) dirty(ctx context.Context) ([]Range, error) {
	var out []Range
	err := s.c.BlockStatus(ctx, "qemu:dirty-bitmap:"+s.prev, 0, s.size, func(e nbd.Extent) error {
		if e.Flags&1 == 0 {
			return nil
		}
		if k := len(out); k > 0 && out[k-1].Off+out[k-1].Len == e.Off {
			out[k-1].Len += e.Length
			return nil
		}
		out = append(out, Range{Off: e.Off, Len: e.Length})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dirty bitmap %s: %w", s.prev, err)
	}
	return out, nil
}

func (s *qemuSource) ReadAt(p []byte, off int64) (int, error) {
	if s.c == nil {
		return 0, errors.New("qemu source: read before Track")
	}
	return s.c.ReadAt(p, off)
}

func (s *qemuSource) Size() int64    { return s.size }
func (s *qemuSource) Format() string { return "nbd" }

func (s *qemuSource) Allocated(ctx context.Context, fn func(Range) error) error {
	if s.c == nil {
		return errors.New("qemu source: read before Track")
	}
	return allocatedNBD(ctx, s.c, fn)
}

// Finish drops the temporary export, then either retires the old bitmap
// (committed) or folds the new one back into it and drops the new one.
func (s *qemuSource) Finish(ctx context.Context, committed bool) error {
	if s.finished || s.token == "" {
		return nil
	}
	s.finished = true
	ctx = context.WithoutCancel(ctx)
	err := s.dropExport(ctx)
	node := s.node
	switch {
	case committed && s.retire != "":
		err = errors.Join(err, s.q.Execute(ctx, "block-dirty-bitmap-remove", map[string]any{"node": node, "name": s.retire}, nil))
	case !committed && s.prev != "":
		acts := []action{
			{Type: "block-dirty-bitmap-merge", Data: map[string]any{"node": node, "target": s.prev, "bitmaps": []string{s.token}}},
			{Type: "block-dirty-bitmap-enable", Data: map[string]any{"node": node, "name": s.prev}},
			{Type: "block-dirty-bitmap-remove", Data: map[string]any{"node": node, "name": s.token}},
		}
		err = errors.Join(err, s.q.Execute(ctx, "transaction", map[string]any{"actions": acts}, nil))
	case !committed:
		err = errors.Join(err, s.q.Execute(ctx, "block-dirty-bitmap-remove", map[string]any{"node": node, "name": s.token}, nil))
	}
	if err != nil {
		return fmt.Errorf("finish dirty bitmap round on node %s: %w", node, err)
	}
	return nil
}

// dropExport closes the connection and removes the temporary export,
// waiting until QEMU let go of it (the bitmap it shows is busy till then).
func (s *qemuSource) dropExport(ctx context.Context) error {
	if s.c != nil {
		s.c.Close()
		s.c = nil
	}
	if s.export == "" {
		return nil
	}
	id := s.export
	s.export = ""
	if err := s.q.Execute(ctx, "block-export-del", map[string]any{"id": id, "mode": "hard"}, nil); err != nil {
		return err
	}
	for i := 0; i < 500; i++ {
		var exps []blockExport
		if err := s.q.Execute(ctx, "query-block-exports", nil, &exps); err != nil {
			return err
		}
		gone := true
		for _, e := range exps {
			gone = gone && e.ID != id
		}
		if gone {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("export %s still there after 5 s", id)
}

// Close ends an unfinished round as failed, then the sessions.
func (s *qemuSource) Close() error {
	err := s.Finish(context.Background(), false)
	return errors.Join(err, s.q.Close())
}
