package daemon

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/volume"
)

// ingestMeter feeds the ingest counters of one snapshot of a VG as it
// goes: bytes read, new and stored move with each progress report, and
// the snapshot's end adds what the last report had not (and the
// deduplicated bytes and new chunks, which only the end knows).
type ingestMeter struct {
	read, fresh, stored, dedup, chunks prometheus.Counter
	w                                  *cas.Writer

	mu      sync.Mutex
	counted map[int]*[2]int64 // per volume index: read and new bytes counted
	stored0 int64             // w.StoredBytes() counted
}

func (m *metrics) ingestMeter(vg string, w *cas.Writer) *ingestMeter {
	return &ingestMeter{
		read: m.ingestRead.WithLabelValues(vg), fresh: m.ingestNew.WithLabelValues(vg),
		stored: m.ingestStored.WithLabelValues(vg), dedup: m.ingestDedup.WithLabelValues(vg),
		chunks: m.ingestNewChunks.WithLabelValues(vg),
		w:      w, counted: map[int]*[2]int64{},
	}
}

// progress counts what one progress report of volume index adds.
func (im *ingestMeter) progress(index int, readBytes, newBytes int64) {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.addLocked(index, readBytes, newBytes)
}

func (im *ingestMeter) addLocked(index int, readBytes, newBytes int64) {
	c := im.counted[index]
	if c == nil {
		c = new([2]int64)
		im.counted[index] = c
	}
	if d := readBytes - c[0]; d > 0 {
		im.read.Add(float64(d))
		c[0] = readBytes
	}
	if d := newBytes - c[1]; d > 0 {
		im.fresh.Add(float64(d))
		c[1] = newBytes
	}
	if st := im.w.StoredBytes(); st > im.stored0 {
		im.stored.Add(float64(st - im.stored0))
		im.stored0 = st
	}
}

// done counts the rest once the snapshot sn is recorded, with the
// per-volume stats of its ingest.
func (im *ingestMeter) done(sn volume.Snapshot, stats []ingest.Stats) {
	im.mu.Lock()
	defer im.mu.Unlock()
	for i, st := range stats {
		im.addLocked(i, st.ReadBytes, st.NewBytes)
		im.chunks.Add(float64(st.NewChunks))
	}
	for _, v := range sn.Volumes {
		if d := v.DataBytes - v.NewBytes; d > 0 {
			im.dedup.Add(float64(d))
		}
	}
}
