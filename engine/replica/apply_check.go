package replica

import (
	"context"
	"sync"

	"github.com/vmrep/vmrep/engine/delta"
)

// prepassChecked runs the pre-pass and, for a delta opened with
// delta.OpenForApply, its checksum pass alongside: both only read, and
// nothing is written before both are done, so a damaged delta is still
// refused with the replica untouched, while the delta file is read once
// less before the first write. A failed checksum is the error reported,
// whatever the pre-pass made of the damaged records.
func prepassChecked(ctx context.Context, rd *delta.Reader, vols []*applyVol, jr *journal, sum *delta.Summary) (*plan, error) {
	if rd.Checked() {
		return prepass(ctx, rd, vols, jr, sum)
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var cerr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		if cerr = rd.Check(ctx); cerr != nil {
			cancel()
		}
	}()
	p, perr := prepass(pctx, rd, vols, jr, sum)
	wg.Wait()
	if cerr != nil {
		return nil, cerr
	}
	return p, perr
}
