package fusefs

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"syscall"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
)

// toErrno is the one place where errors become errno values. It logs every
// error it is given except a plain not-found, which is the normal answer to
// a lookup of a name that does not exist.
//
// A blob that cannot be read (missing, corrupt, I/O) is EIO even when the
// cause is "not found": the catalog said the blob exists, so a read that
// answered ENOENT would misdescribe damage to the store as a missing file.
func toErrno(log *slog.Logger, op string, err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var be *blob.Error
	var errno syscall.Errno
	var code syscall.Errno
	switch {
	case errors.As(err, &be), errors.Is(err, blob.ErrCorrupt), errors.Is(err, volume.ErrMalformed):
		code = syscall.EIO
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		code = syscall.EINTR
	case errors.Is(err, volume.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return syscall.ENOENT
	case errors.As(err, &errno):
		code = errno
	default:
		code = syscall.EIO
	}
	log.Warn("fusefs: "+op+" failed", "err", err, "errno", code.Error())
	return code
}
