package source

import "context"

// rangeMerger joins adjacent ranges before handing them on, so callers see
// maximal runs rather than one range per cluster or grain.
type rangeMerger struct {
	ctx     context.Context
	fn      func(Range) error
	pending Range
	n       int
}

func (m *rangeMerger) add(r Range) error {
	if r.Len <= 0 {
		return nil
	}
	if m.pending.Len > 0 && m.pending.Off+m.pending.Len == r.Off {
		m.pending.Len += r.Len
		return nil
	}
	if err := m.flush(); err != nil {
		return err
	}
	m.pending = r
	return nil
}

func (m *rangeMerger) flush() error {
	if m.pending.Len == 0 {
		return nil
	}
	r := m.pending
	m.pending = Range{}
	// Checking the context per emitted range keeps cancellation prompt
	// without a check per cluster.
	if m.n++; m.n%64 == 0 {
		if err := m.ctx.Err(); err != nil {
			return err
		}
	}
	return m.fn(r)
}
