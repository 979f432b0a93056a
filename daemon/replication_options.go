package daemon

import (
	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/seal"
	"github.com/vmrep/vmrep/internal/bandwidth"
	"github.com/vmrep/vmrep/internal/tokens"
)

// ReplicateOptions are the choices of one replication run beside the
// snapshot and the server. The replicate endpoint fills them from its
// request; a scheduled run fills them from its schedule and calls
// runReplicate with them.
type ReplicateOptions struct {
	// Materialize, when set, has the server write the snapshot into this
	// replica directory under its replica root once it is committed.
	Materialize string
	// Devices, with Materialize, binds volume IDs to block devices on the
	// server: only those volumes are written, each into its device.
	Devices map[string]string
	// Limit bounds the bytes of the blob streams on the wire (the
	// compressed frames, before TLS), by a token bucket with
	// bandwidth.DefaultBurst; bandwidth.Unlimited is no limit.
	Limit bandwidth.Rate
	// Limiter, when set, is used instead of one made from Limit, so that
	// several runs can share one budget.
	Limiter *bandwidth.Limiter
	// StreamBytes bounds the wire bytes of one blob stream; 0 is
	// maxStreamSend. The server makes a stream's blobs durable when it
	// ends, so this bounds what a run cut at any moment sends again.
	StreamBytes int64
	// EncryptFor and Seal, when set, seal every chunk for that tenancy
	// before it leaves (sendSealed); sourceKey is the key Seal came from,
	// passed to the server only to materialize.
	EncryptFor string
	Seal       *seal.SourceKeys
	sourceKey  []byte
}

// limiter returns the limiter the run's blob streams go through; nil is
// no limit.
func (o ReplicateOptions) limiter() *bandwidth.Limiter {
	if o.Limiter != nil {
		return o.Limiter
	}
	return bandwidth.NewLimiter(o.Limit, 0, nil)
}

// replicateOptions reads the options of a replicate request.
func replicateOptions(req api.ReplicateRequest) (ReplicateOptions, *api.Error) {
	o := ReplicateOptions{Materialize: req.Materialize, Devices: req.Devices}
	if len(req.Devices) > 0 && req.Materialize == "" {
		return o, api.Errorf(api.CodeInvalid, "devices go with materialize: they are where the server writes the replica's volumes")
	}
	if req.Limit != "" {
		r, err := bandwidth.ParseRate(req.Limit)
		if err != nil {
			return o, api.Errorf(api.CodeInvalid, "limit: %v", err)
		}
		o.Limit = r
	}
	switch {
	case req.EncryptFor == "" && len(req.SourceKey) > 0:
		return o, api.Errorf(api.CodeInvalid, "a source key goes with encrypt_for: the tenancy the chunks are sealed for")
	case req.EncryptFor == "":
	case !tokens.ValidTenancy(req.EncryptFor):
		return o, api.Errorf(api.CodeInvalid, "encrypt_for: %q is not a tenancy name (1-63 lower-case letters, digits or '-', starting with a letter or digit)", req.EncryptFor)
	default:
		key, err := seal.ParseSourceKey(req.SourceKey)
		if err != nil {
			return o, api.Errorf(api.CodeInvalid, "source key: %v", err)
		}
		k, err := seal.NewSourceKeys(key, req.EncryptFor)
		if err != nil {
			return o, api.Errorf(api.CodeInvalid, "encrypt_for: %v", err)
		}
		o.EncryptFor, o.Seal, o.sourceKey = req.EncryptFor, k, key
	}
	return o, nil
}
