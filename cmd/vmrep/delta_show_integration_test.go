package main

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
)

// TestDeltaShowTargetCopies: a snapshot that writes the same new bytes
// twice, more than a frame apart, exports as a delta with target copies;
// delta show, through the daemon and in this process, counts them per
// volume as the export's summary does, and prints the column.
func TestDeltaShowTargetCopies(t *testing.T) {
	d := newDaemon(t)
	boot, _ := d.makeVG("tc", 8<<20+12345, 21)
	d.ok("snapshot", "create", "tc")
	same := randomBytes(rand.New(rand.NewPCG(21, 22)), 3<<20)
	patchFile(t, boot, 0, same)
	patchFile(t, boot, 5<<20, same)
	d.ok("snapshot", "create", "tc")
	file := filepath.Join(d.dir, "tc12.vmdelta")
	var ex api.DeltaExportResult
	d.okJSONResult(&ex, "delta", "export", "tc@1", "tc@2", "-o", file)
	if ex.Summary.TargetCopyBytes < 1<<20 {
		t.Fatalf("export: %d bytes of target copies for 3 MiB written twice (summary %+v)", ex.Summary.TargetCopyBytes, ex.Summary)
	}
	for _, how := range [][]string{nil, {"--local"}} {
		var info api.DeltaInfo
		d.okJSON(&info, append([]string{"delta", "show", file}, how...)...)
		var tc, cp, data, zero int64
		for _, v := range info.Volumes {
			tc, cp, data, zero = tc+v.TargetCopyBytes, cp+v.CopyBytes, data+v.DataBytes, zero+v.ZeroBytes
		}
		s := ex.Summary
		if tc != s.TargetCopyBytes || cp != s.CopyBytes || data != s.DataBytes || zero != s.ZeroBytes {
			t.Errorf("delta show %v: target copies %d, copies %d, data %d, zeros %d; export summary %+v", how, tc, cp, data, zero, s)
		}
	}
	txt := d.ok("delta", "show", file)
	if !strings.Contains(txt, "TARGET COPIES") {
		t.Errorf("delta show text has no target copies column:\n%s", txt)
	}
}
