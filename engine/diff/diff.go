package diff

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
)

// Extent is a changed range [Off, Off+Len) of the target volume. Zero says
// the target reads as zeros there (a hole where the base had data, or the
// grown tail's holes); otherwise the target holds chunk data there.
type Extent struct {
	Off  int64 `json:"off"`
	Len  int64 `json:"len"`
	Zero bool  `json:"zero,omitempty"`
}

// End returns the offset just past the extent.
func (e Extent) End() int64 { return e.Off + e.Len }

// Stats sum up one comparison.
type Stats struct {
	BaseSize      int64 `json:"base_size"`
	TargetSize    int64 `json:"target_size"`
	ChangedBytes  int64 `json:"changed_bytes"`  // bytes covered by extents
	Extents       int64 `json:"extents"`        // coalesced extents
	ChangedChunks int64 `json:"changed_chunks"` // target chunk entries in changed ranges
	PagesSkipped  int64 `json:"pages_skipped"`  // target pages equal to the base's, not loaded
	PagesRead     int64 `json:"pages_read"`     // pages loaded, of both manifests
}

// Options tune a comparison.
type Options struct {
	// Workers bounds the page ranges compared at once; default GOMAXPROCS.
	Workers int
}

// pageSpan is a run of consecutive target pages none of which matched.
type pageSpan struct{ first, last int }

// Volumes compares manifest a (base, may be nil for an added volume) with b
// (target). Target pages equal to base pages at the same offset are skipped
// unread; the rest are walked in step with the base, in parallel. Extents
// come back sorted and coalesced.
func Volumes(ctx context.Context, r blob.Reader, a, b *volume.Manifest, opts Options) ([]Extent, Stats, error) {
	if a == nil {
		a = &volume.Manifest{}
	}
	st := Stats{BaseSize: a.Size, TargetSize: b.Size}
	spans := changedSpans(a, b, &st)
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	results := make([][]Extent, len(spans))
	counts := make([]Stats, len(spans))
	// Each worker keeps one walker, so its page buffers and base cursor
	// carry over from span to span instead of being allocated per span.
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range min(workers, len(spans)) {
		g.Go(func() error {
			w := walker{ctx: gctx, r: r, a: a, b: b, base: cursor{pageNo: -1}}
			for {
				i := int(next.Add(1) - 1)
				if i >= len(spans) {
					return nil
				}
				sp := spans[i]
				w.st, w.out = &counts[i], nil
				ext, err := w.span(sp)
				if err != nil {
					return fmt.Errorf("diff %s against %s, pages %d..%d: %w", b.ID.Short(), a.ID.Short(), sp.first, sp.last, err)
				}
				results[i] = ext
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, Stats{}, err
	}
	var out []Extent
	for i := range results {
		st.PagesRead += counts[i].PagesRead
		st.ChangedChunks += counts[i].ChangedChunks
		for _, e := range results[i] {
			out = appendExtent(out, e)
		}
	}
	for _, e := range out {
		st.ChangedBytes += e.Len
	}
	st.Extents = int64(len(out))
	return out, st, nil
}

// changedSpans lists the runs of target pages that have no equal base page
// at the same offset. Both page lists are sorted by offset, so one merge
// pass finds the matches.
func changedSpans(a, b *volume.Manifest, st *Stats) []pageSpan {
	var spans []pageSpan
	j := 0
	for i, p := range b.Pages {
		for j < len(a.Pages) && a.Pages[j].Offset < p.Offset {
			j++
		}
		if j < len(a.Pages) && a.Pages[j].Offset == p.Offset && a.Pages[j].ID == p.ID {
			st.PagesSkipped++
			continue
		}
		if n := len(spans); n > 0 && spans[n-1].last == i-1 {
			spans[n-1].last = i
			continue
		}
		spans = append(spans, pageSpan{i, i})
	}
	return splitSpans(spans)
}

// splitSpans cuts long runs so that one big change still spreads over the
// workers.
func splitSpans(spans []pageSpan) []pageSpan {
	const maxPages = 8
	var out []pageSpan
	for _, s := range spans {
		for s.last-s.first+1 > maxPages {
			out = append(out, pageSpan{s.first, s.first + maxPages - 1})
			s.first += maxPages
		}
		out = append(out, s)
	}
	return out
}

// appendExtent adds e to a sorted list, merging it into the last extent when
// they touch and are of the same kind.
func appendExtent(list []Extent, e Extent) []Extent {
	if e.Len <= 0 {
		return list
	}
	if n := len(list); n > 0 && list[n-1].End() == e.Off && list[n-1].Zero == e.Zero {
		list[n-1].Len += e.Len
		return list
	}
	return append(list, e)
}

// Coalesce sorts extents and merges those that touch and are of one kind.
func Coalesce(list []Extent) []Extent {
	slices.SortFunc(list, func(x, y Extent) int {
		switch {
		case x.Off < y.Off:
			return -1
		case x.Off > y.Off:
			return 1
		}
		return 0
	})
	var out []Extent
	for _, e := range list {
		out = appendExtent(out, e)
	}
	return out
}
