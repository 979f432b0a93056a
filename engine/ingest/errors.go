package ingest

import (
	"errors"

	"github.com/vmrep/vmrep/engine/blob"
)

func isNotFound(err error) bool { return errors.Is(err, blob.ErrNotFound) }
