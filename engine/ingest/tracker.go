package ingest

import (
	"context"
	"fmt"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
)

// tracking is one volume's round of a source that tracks its own changes
// (source.Tracker, a QEMU dirty bitmap).
type tracking struct {
	t     source.Tracker
	token string
	note  string
	hint  *Hint
}

// startTracking starts the round of every tracked source, all before any
// volume is read, and turns what each knows into a Hint. A chain that broke
// (no bitmap recorded, bitmap missing or unusable, disk resized, a volume
// the last snapshot lacked, --full) gives no hint: the volume is read whole
// and its note says why.
func startTracking(ctx context.Context, pages blob.Reader, vg volume.VG, srcs []source.Reader, prev volume.Snapshot, full bool) ([]*tracking, error) {
	out := make([]*tracking, len(srcs))
	for i, v := range vg.Volumes {
		t, ok := srcs[i].(source.Tracker)
		if !ok {
			continue
		}
		pv, had := prev.Volume(v.ID)
		use, why := true, ""
		switch {
		case prev.ID == "":
			use, why = false, "first snapshot"
		case !had:
			use, why = false, "volume new since the last snapshot"
		case pv.Size != srcs[i].Size():
			use, why = false, fmt.Sprintf("disk resized from %d to %d bytes", pv.Size, srcs[i].Size())
		case full:
			use, why = false, "full read asked for"
		case pages == nil:
			use, why = false, "no store to load the last manifest from"
		}
		tr, err := t.Track(ctx, pv.DirtyBitmap, "vmrep-"+v.ID, use)
		if err != nil {
			return out, fmt.Errorf("volume %q: dirty bitmap: %w", v.Name, err)
		}
		st := &tracking{t: t, token: tr.Token}
		out[i] = st
		switch {
		case why != "":
			st.note = why + ": full read"
		case tr.Broken != "":
			st.note = tr.Broken + ": full read"
		default:
			base, err := volume.LoadManifest(ctx, pages, pv.Manifest)
			if err != nil {
				return out, fmt.Errorf("volume %q: dirty bitmap: base manifest: %w", v.Name, err)
			}
			st.hint = &Hint{Base: base, Pages: pages, Changed: tr.Changed, Exact: true}
			var n int64
			for _, r := range tr.Changed {
				n += r.Len
			}
			st.note = fmt.Sprintf("dirty bitmap %s: %d changed ranges, %d bytes", pv.DirtyBitmap, len(tr.Changed), n)
		}
	}
	return out, nil
}

// finishTracking ends every round; after a recorded snapshot an error only
// leaves an old bitmap behind (the next round removes it), so it is logged.
func finishTracking(ctx context.Context, ts []*tracking, committed bool, log func(string)) {
	for _, t := range ts {
		if t == nil {
			continue
		}
		if err := t.t.Finish(ctx, committed); err != nil && log != nil {
			log(err.Error())
		}
	}
}

// hasTracker reports whether any source tracks its changes.
func hasTracker(srcs []source.Reader) bool {
	for _, s := range srcs {
		if _, ok := s.(source.Tracker); ok {
			return true
		}
	}
	return false
}
