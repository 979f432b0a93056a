package ingest

import (
	"errors"

	"github.com/vmrep/vmrep/engine/cas"
)

func isNotFound(err error) bool { return errors.Is(err, cas.ErrNotFound) }
