package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/capture"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/export"
	"github.com/vmrep/vmrep/engine/ingest"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/clock"
	"github.com/vmrep/vmrep/stackgen"
)

// Config is what a Server needs.
type Config struct {
	Store  *cas.Store
	Logger *slog.Logger
	// AllowGroup lets members of this gid use the daemon besides root and
	// the daemon's own uid; negative: nobody else.
	AllowGroup int
	// JobHistory bounds how many finished jobs are remembered; default 100.
	JobHistory int
	// Clock drives the schedules, dates snapshots and is the time status
	// measures ages with; default clock.Real.
	Clock clock.Clock
	// Bucket tunes the locks and gc of a store shared with other daemons.
	Bucket BucketOptions
}

// Server serves the API for one open store.
type Server struct {
	store    *cas.Store
	storeDir string
	cat      *volume.Catalog
	ingest   *ingest.Ingester // the store's chunker and the source opener
	log      *slog.Logger
	auth     authorizer
	jobs     *jobManager
	writers  vgLocks
	replicas dirLocks
	mounts   *mountTable      // FUSE mounts, see mounts.go
	known    *replicaRegistry // replicas written and targets pushed to, see pins.go
	pins     *pinStore        // snapshots pinned with snapshot pin, see pinned.go
	cutovers *cutoverStore    // volume groups cut over, see cutovers.go
	lvm      *capture.LVM     // temporary LVM snapshots, see lvm.go
	clock    clock.Clock
	sched    *scheduler // schedules, see schedule_runner.go
	vms      vmTable    // VMs run from replicas, see instances.go
	// scheduleInfo, when set, tells status the replication schedule of a
	// VG (by ID); nil or false: the VG has none and status shows none.
	scheduleInfo func(vgID string) (api.StatusSchedule, bool)
	metrics      *metrics // see metrics.go
	// tenancies hosted besides the default one, by name; set before
	// Serve, read-only after (tenancy.go)
	tenancies map[string]*tenant
	// lag history for the status page's charts, see laghistory.go
	lagOnce sync.Once
	lagMu   sync.Mutex
	lag     *lagRecorder
	lagStop func()

	httpSrv *http.Server
	base    context.Context
	stop    context.CancelFunc
}

// New builds a server over an open store.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	ing, err := ingest.New(cfg.Store.Config().Chunker, nil)
	if err != nil {
		return nil, fmt.Errorf("daemon: chunker of store %s: %w", cfg.Store.Dir(), err)
	}
	storeDir, err := realPath(cfg.Store.Dir())
	if err != nil {
		return nil, fmt.Errorf("daemon: store directory: %w", err)
	}
	base, stop := context.WithCancel(context.Background())
	s := &Server{
		store: cfg.Store, storeDir: storeDir, cat: volume.NewCatalog(cfg.Store),
		ingest: ing, log: cfg.Logger,
		auth:  authorizer{allowGroup: cfg.AllowGroup, log: cfg.Logger},
		jobs:  newJobManager(cfg.JobHistory, cfg.Logger),
		clock: cfg.Clock,
		base:  base, stop: stop,
	}
	s.httpSrv = &http.Server{
		Handler:           s.auth.middleware(s.routes()),
		ConnContext:       connContext,
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	s.metrics = newMetrics(s)
	s.jobs.ended = s.metrics.jobEnded
	removeStateTemps(storeDir, cfg.Logger)
	s.jobs.persistTo(storeDir)
	s.startBucket(cfg.Bucket)
	s.known = newReplicaRegistry(storeDir, cfg.Logger)
	s.pins = newPinStore(storeDir)
	if err := s.pins.err(); err != nil {
		cfg.Logger.Error("every snapshot counts as pinned until this is fixed", "err", err)
	}
	// Mounts a killed daemon left behind are cleaned and served again.
	s.mounts = newMountTable(storeDir, s.cat, cfg.Store, cfg.Logger)
	s.mounts.onRead = s.metrics.fuseRead
	s.mounts.restore(base)
	// LVM snapshots a killed daemon left behind are removed.
	s.lvm = s.startLVM(base)
	// Schedules start last: their runs use all of the above.
	s.cutovers = newCutoverStore(storeDir)
	if err := s.cutovers.err(); err != nil {
		cfg.Logger.Error("cutovers", "err", err)
	}
	s.sched = newScheduler(s, cfg.Clock, storeDir, cfg.Logger)
	s.metrics.reg.MustRegister(rpoCollector{s.sched}) // metrics_rpo.go
	s.scheduleInfo = s.sched.statusOf
	return s, nil
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.httpSrv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections, cancels running jobs and waits for
// them, then ends open requests (event streams). The store stays open: the
// caller closes it.
func (s *Server) Shutdown(ctx context.Context) error {
	var wg sync.WaitGroup
	var shutErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		shutErr = s.httpSrv.Shutdown(ctx)
	}()
	s.sched.shutdown() // no new runs; the running ones are jobs
	s.jobs.shutdown()
	s.mounts.unmountAll()
	s.vms.stopAll()
	s.stopLagHistory()
	s.stop() // ends event streams and other open requests
	wg.Wait()
	if shutErr != nil {
		s.httpSrv.Close()
	}
	return shutErr
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *api.Error) {
	writeJSON(w, api.Status(e.Code), e)
}

// handlerFunc is an endpoint that returns its error rather than writing
// it: the server answers it in one place, answerError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// answerError writes a handler's error. An *api.Error the handler built
// itself (a refusal, a bad request) is the answer as it stands; any other
// error goes through fail, which maps it to a code.
func answerError(w http.ResponseWriter, r *http.Request, err error, fail func(http.ResponseWriter, *http.Request, error)) {
	if e, ok := err.(*api.Error); ok {
		writeError(w, e)
		return
	}
	fail(w, r, err)
}

// serve adapts h to net/http, answering its error with s.fail.
func (s *Server) serve(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			answerError(w, r, err, s.fail)
		}
	}
}

// fail writes err as a typed error, logging what is not the client's fault.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	if e.Code == api.CodeNotFound {
		e = s.damagedHint(e)
	}
	if e.Code == api.CodeInternal {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, e)
}

// damagedHint adds to a not-found answer that some record files of the
// store are damaged: what was asked for may be named by one of them.
func (s *Server) damagedHint(e *api.Error) *api.Error {
	d := s.store.DamagedRecords()
	if len(d) == 0 {
		return e
	}
	return api.Errorf(e.Code, "%s; the store has %d damaged record file(s), which may hold it (%s; vmrep verify lists them)", e.Message, len(d), d[0])
}

// toAPIError maps engine errors to typed API errors.
func toAPIError(err error) *api.Error {
	var ae *api.Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, context.Canceled):
		return api.Errorf(api.CodeCanceled, "%v", err)
	case errors.Is(err, cas.ErrReadOnly):
		return api.Errorf(api.CodeReadOnly, "%v", err)
	case errors.Is(err, volume.ErrNotFound):
		return api.Errorf(api.CodeNotFound, "%v", err)
	case errors.Is(err, volume.ErrExists):
		return api.Errorf(api.CodeExists, "%v", err)
	case errors.Is(err, volume.ErrHasSnapshots), errors.Is(err, volume.ErrVolumeInUse):
		return api.Errorf(api.CodeConflict, "%v", err)
	case errors.Is(err, replica.ErrNotBase), errors.Is(err, replica.ErrInterrupted), errors.Is(err, stackgen.ErrNotAStack):
		return api.Errorf(api.CodeConflict, "%v", err)
	case errors.Is(err, replica.ErrBusy):
		return api.Errorf(api.CodeBusy, "%v", err)
	case errors.Is(err, delta.ErrFormat), errors.Is(err, replica.ErrDamaged):
		return api.Errorf(api.CodeCorrupt, "%v", err)
	case errors.Is(err, stackgen.ErrInvalidPlan), errors.Is(err, export.ErrFormat):
		return api.Errorf(api.CodeInvalid, "%v", err)
	}
	return api.Errorf(api.CodeInternal, "%v", err)
}

// decodeBody reads a JSON body of bounded size into v.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) *api.Error {
	r.Body = http.MaxBytesReader(w, r.Body, api.MaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return api.Errorf(api.CodeTooLarge, "request body too large (limit %d bytes)", mbe.Limit)
		}
		return api.Errorf(api.CodeInvalid, "malformed request body: %v", err)
	}
	// One JSON value and nothing after it: a second value would be ignored,
	// and {"dry_run":true}{"dry_run":false} must not start a gc.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return api.Errorf(api.CodeInvalid, "malformed request body: data after the JSON value")
	}
	return nil
}
