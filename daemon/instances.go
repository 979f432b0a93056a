package daemon

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/launch"
)

// vmTable holds the VMs the daemon runs from replicas (real launches).
// A VM that stops on its own stays listed, not running, until stopped.
type vmTable struct {
	mu struct {
		sync.Mutex
		next int
		vms  map[string]*vmEntry
	}
}

type vmEntry struct {
	info    api.Instance
	in      *launch.Instance
	release func() // the replica's lock
	done    chan struct{}
}

// add registers a running VM and returns its ID; a goroutine owns it
// until it exits, then releases the replica.
func (t *vmTable) add(info api.Instance, in *launch.Instance, release func(), log *slog.Logger) string {
	t.mu.Lock()
	if t.mu.vms == nil {
		t.mu.vms = make(map[string]*vmEntry)
	}
	t.mu.next++
	info.ID = "vm-" + strconv.Itoa(t.mu.next)
	info.Running = true
	e := &vmEntry{info: info, in: in, release: release, done: make(chan struct{})}
	t.mu.vms[info.ID] = e
	t.mu.Unlock()
	go func() {
		<-in.Exited()
		_ = in.Stop(context.Background()) // removes its directory
		t.mu.Lock()
		e.info.Running = false
		t.mu.Unlock()
		release()
		log.Info("VM stopped", "instance", info.ID, "replica", info.Dir)
		close(e.done)
	}()
	log.Info("VM running", "instance", info.ID, "replica", info.Dir, "snapshot", info.Snapshot, "pid", info.PID)
	return info.ID
}

// stop stops the VM id and forgets it; false when there is none.
func (t *vmTable) stop(ctx context.Context, id string) bool {
	t.mu.Lock()
	e, ok := t.mu.vms[id]
	delete(t.mu.vms, id)
	t.mu.Unlock()
	if !ok {
		return false
	}
	_ = e.in.Stop(ctx)
	<-e.done
	return true
}

// stopAll stops every VM: the daemon's shutdown.
func (t *vmTable) stopAll() {
	for _, i := range t.list() {
		t.stop(context.Background(), i.ID)
	}
}

func (t *vmTable) list() []api.Instance {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]api.Instance, 0, len(t.mu.vms))
	for _, e := range t.mu.vms {
		out = append(out, e.info)
	}
	slices.SortFunc(out, func(a, b api.Instance) int { return a.Started.Compare(b.Started) })
	return out
}

// StopInstance stops a VM a real launch left running.
func (s *Server) stopInstance(ctx context.Context, id string) error {
	if !s.vms.stop(ctx, id) {
		return api.Errorf(api.CodeNotFound, "no instance %q", id)
	}
	return nil
}

func (s *Server) listInstances(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.vms.list())
	return nil
}

func (s *Server) deleteInstance(w http.ResponseWriter, r *http.Request) error {
	if err := s.stopInstance(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
