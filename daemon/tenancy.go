package daemon

import (
	"context"
	"fmt"
	"github.com/vmrep/vmrep/internal/tokens"
	"sort"
	"sync"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/gc"
	"github.com/vmrep/vmrep/engine/volume"
)

// Tenancy is one tenancy a server hosts besides its default one (the
// server's own store, DefaultTenancy): a namespace of its own, in a store
// of its own, so VG names, snapshots and replicas of one tenancy are
// invisible to another and no chunk is deduplicated across tenancies.
type Tenancy struct {
	Name string
	// Store is the tenancy's own store; the caller opens it and closes it
	// after the Server's Shutdown, as it does the server's store.
	Store *cas.Store
	// QuotaBytes bounds the bytes the tenancy's packs may take; 0: none.
	QuotaBytes int64
	// ReplicaRoot is where the tenancy's materialize writes; "" puts it
	// in the directory named after the tenancy under the replication
	// listener's replica root.
	ReplicaRoot string
}

// CheckTenancyName refuses a tenancy name that is not what
// `vmrep server provision --tenancy` takes (tokens.ValidTenancy: 1 to 63
// lowercase letters, digits and '-', starting with a letter or digit):
// the name is a directory and a bucket prefix.
func CheckTenancyName(name string) error {
	if !tokens.ValidTenancy(name) {
		return fmt.Errorf("tenancy name %q: want 1 to 63 lowercase letters, digits and '-', starting with a letter or digit", name)
	}
	return nil
}

// tenant is a tenancy as the handlers see it: every replication handler
// works on the request's tenant and never on the Server's store.
type tenant struct {
	name    string
	store   *cas.Store
	cat     *volume.Catalog
	writers *vgLocks
	known   *replicaRegistry
	quota   *quota // nil: no quota
	cfgRoot string // Tenancy.ReplicaRoot
	root    string // the replica root materialize writes under; "" refuses it
}

// AddTenancy makes s host t. Call it before the replication listener is
// built and before Serve.
func (s *Server) AddTenancy(t Tenancy) error {
	if err := CheckTenancyName(t.Name); err != nil {
		return err
	}
	if t.Store == nil {
		return fmt.Errorf("tenancy %s: no store", t.Name)
	}
	if t.QuotaBytes < 0 {
		return fmt.Errorf("tenancy %s: negative quota", t.Name)
	}
	if _, dup := s.tenancies[t.Name]; dup {
		return fmt.Errorf("tenancy %s is configured twice", t.Name)
	}
	if s.tenancies == nil {
		s.tenancies = make(map[string]*tenant)
	}
	tn := &tenant{name: t.Name, store: t.Store, cat: volume.NewCatalog(t.Store), writers: &vgLocks{},
		known: newReplicaRegistry(t.Store.Dir(), s.log), cfgRoot: t.ReplicaRoot}
	if t.QuotaBytes > 0 {
		tn.quota = &quota{limit: t.QuotaBytes}
	}
	s.tenancies[t.Name] = tn
	return nil
}

// defaultTenant is the server's own store as a tenant.
func (s *Server) defaultTenant(root string) *tenant {
	return &tenant{name: DefaultTenancy, store: s.store, cat: s.cat, writers: &s.writers, known: s.known, root: root}
}

// tenancyNames lists the hosted tenancies besides the default, sorted.
func (s *Server) tenancyNames() []string {
	names := make([]string, 0, len(s.tenancies))
	for n := range s.tenancies {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// quota keeps a tenancy's stored bytes under its limit. used starts from
// the packs the store holds when no blob stream of the tenancy runs (then
// every received blob is flushed into packs), and grows by each new blob's
// size before it is stored: a blob that would pass the limit is refused
// instead, so the store never holds more than the limit (plus pack
// headers) however many streams run at once.
type quota struct {
	limit int64
	mu    struct {
		sync.Mutex
		used    int64
		streams int
	}
}

// begin starts a blob stream under the quota; end must follow.
func (q *quota) begin(ctx context.Context, st *cas.Store) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.streams == 0 {
		used, err := st.PackBytes(ctx)
		if err != nil {
			return err
		}
		q.mu.used = used
	}
	q.mu.streams++
	return nil
}

func (q *quota) end() {
	q.mu.Lock()
	q.mu.streams--
	q.mu.Unlock()
}

// errQuota is what reserve refuses with.
type errQuota struct{ limit, used int64 }

func (e *errQuota) Error() string {
	return fmt.Sprintf("tenancy quota exceeded: the next blob would pass the quota of %d bytes (%d stored); no snapshot is committed until its blobs are stored: forget snapshots and gc on the server, or have the quota raised", e.limit, e.used)
}

// reserve counts n more bytes, or refuses them when they would pass the
// limit; refund gives back what turned out not to be stored.
func (q *quota) reserve(n int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.used+n > q.limit {
		return &errQuota{limit: q.limit, used: q.mu.used}
	}
	q.mu.used += n
	return nil
}

func (q *quota) refund(n int64) {
	q.mu.Lock()
	q.mu.used -= n
	q.mu.Unlock()
}

// usage is the tenancy's stored bytes now.
func (t *tenant) usage(ctx context.Context) (int64, error) {
	return t.store.PackBytes(ctx)
}

// chunkerParams are the chunker settings of the tenant's store.
func (t *tenant) chunkerParams() *blob.ChunkerParams {
	p := t.store.Config().Chunker
	return &p
}

// quotaWriter stores a blob stream under a tenancy's quota: a blob the
// store lacks is counted before it is stored, and refused when it would
// pass the quota.
type quotaWriter struct {
	storedWriter
	has func(context.Context, blob.ID) (bool, error)
	q   *quota
}

func (w quotaWriter) Put(ctx context.Context, t blob.Type, id blob.ID, data []byte) (bool, error) {
	return w.counted(ctx, id, len(data), func() (bool, error) { return w.storedWriter.Put(ctx, t, id, data) })
}

func (w quotaWriter) PutStored(ctx context.Context, id blob.ID, st cas.Stored) (bool, error) {
	return w.counted(ctx, id, len(st.Data), func() (bool, error) { return w.storedWriter.PutStored(ctx, id, st) })
}

// counted runs put for a blob of n bytes (as it arrived: a raw blob the
// store compresses is counted at its raw size until the next stream
// recounts the packs).
func (w quotaWriter) counted(ctx context.Context, id blob.ID, n int, put func() (bool, error)) (bool, error) {
	if ok, err := w.has(ctx, id); err != nil || ok {
		if err != nil {
			return false, err
		}
		return put()
	}
	if err := w.q.reserve(int64(n)); err != nil {
		return false, err
	}
	isNew, err := put()
	if !isNew {
		w.q.refund(int64(n))
	}
	return isNew, err
}

// gcTenancies collects each hosted tenancy's store, within the gc job
// that has every store to itself (replication requests hold the same job
// manager). Blobs a refused or broken replication left, which no snapshot
// names, go here as in the server's own store.
func (s *Server) gcTenancies(ctx context.Context, opts gc.Options) (map[string]api.GCResult, error) {
	if len(s.tenancies) == 0 {
		return nil, nil
	}
	out := make(map[string]api.GCResult, len(s.tenancies))
	for _, name := range s.tenancyNames() {
		t := s.tenancies[name]
		st, err := gc.Run(ctx, t.store, t.cat, opts)
		if err != nil {
			return nil, fmt.Errorf("gc of tenancy %s: %w", name, err)
		}
		out[name] = toAPIGC(opts.DryRun, st)
	}
	return out, nil
}

// verifyTenancies verifies each hosted tenancy's store after the server's
// own (whose result and error are res and err), into res.Tenancies; the
// job fails as corrupt when any store has problems, the first named.
func (s *Server) verifyTenancies(ctx context.Context, j *job, req api.VerifyRequest, res *api.VerifyResult, err error) error {
	res.Tenancies = make(map[string]api.VerifyResult, len(s.tenancies))
	for _, name := range s.tenancyNames() {
		t := s.tenancies[name]
		tr, terr := verifyStore(ctx, j, t.store, t.cat, req)
		if terr != nil && !isCorrupt(terr) {
			return fmt.Errorf("verify tenancy %s: %w", name, terr)
		}
		res.Tenancies[name] = tr
		if terr != nil && err == nil {
			err = api.Errorf(api.CodeCorrupt, "tenancy %s: %s", name, terr.Error())
		}
	}
	return err
}
