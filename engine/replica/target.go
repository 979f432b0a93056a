package replica

import (
	"os"

	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/internal/vfs"
)

// newTarget returns the write target of a replica volume: restore's
// FileTarget for an OS file (it punches holes and sizes block devices),
// and a plain one for a file of another vfs.FS, such as the tests' MemFS.
func newTarget(f vfs.File) (restore.Target, error) {
	if of, ok := f.(*os.File); ok {
		return restore.NewFileTarget(of, false)
	}
	return plainTarget{f}, nil
}

// plainTarget writes zeros where FileTarget would punch a hole.
type plainTarget struct{ vfs.File }

func (t plainTarget) Size() (int64, error) {
	fi, err := t.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (t plainTarget) Zero(off, n int64) error {
	zeros := make([]byte, min(n, 1<<20))
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := t.WriteAt(zeros[:k], off); err != nil {
			return err
		}
		off, n = off+k, n-k
	}
	return nil
}
