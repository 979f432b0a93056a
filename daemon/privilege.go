package daemon

import (
	"context"
	"net/http"
	"runtime"
	"strconv"

	"github.com/vmrep/vmrep/api"
)

// access is who may call a route of the Unix-socket API. The daemon runs as
// root and answers over HTTP, so it cannot open a file with the caller's
// rights: any path a caller names is opened with the daemon's. Hence only
// an admin may make the daemon open, create or write a host path, run a
// command, mount, or destroy data; a member of the allowed group may read
// the catalog and snapshot the volume groups an admin set up.
// doc/design.md, "Privilege model", holds the full matrix.
type access int

const (
	// accessUnset is the zero value: a route registered without a level is
	// served to admins only, and TestRouteAccess fails.
	accessUnset access = iota
	// accessMember routes serve admins and members of --allow-group.
	accessMember
	// accessAdmin routes serve root and the daemon's own uid only.
	accessAdmin
)

func (a access) String() string {
	switch a {
	case accessMember:
		return "member"
	case accessAdmin:
		return "admin"
	}
	return "unset"
}

// route is one endpoint of the Unix-socket API and who may call it.
type route struct {
	pattern string // "METHOD /path", as http.ServeMux takes it
	access  access
	what    string // what it does, in a refusal: "creating a volume group"
	handle  handlerFunc
}

// routeTable lists every endpoint of the Unix-socket API, in one place so
// that none can be added without saying who may call it.
func (s *Server) routeTable() []route {
	const M, A = accessMember, accessAdmin
	return []route{
		{"GET /v1/vgs", M, "listing volume groups", s.listVGs},
		{"POST /v1/vgs", A, "creating a volume group", s.createVG},
		{"GET /v1/vgs/{name}", M, "showing a volume group", s.getVG},
		{"DELETE /v1/vgs/{name}", A, "deleting a volume group", s.deleteVG},
		{"PATCH /v1/vgs/{name}", A, "changing a volume group's hooks", s.updateVG},
		{"GET /v1/vgs/{name}/snapshots", M, "listing snapshots", s.listSnapshots},
		{"POST /v1/vgs/{name}/snapshots", M, "creating a snapshot", s.createSnapshot},
		{"GET /v1/vgs/{name}/snapshots/{seq}", M, "showing a snapshot", s.getSnapshot},
		{"DELETE /v1/vgs/{name}/snapshots/{seq}", A, "deleting a snapshot", s.deleteSnapshot},
		{"POST /v1/vgs/{name}/cutover", A, "cutting a volume group over", s.cutover},
		{"POST /v1/vgs/{name}/forget", A, "forgetting snapshots", s.forgetVG},
		{"POST /v1/vgs/{name}/snapshots/{seq}/pin", A, "pinning a snapshot", s.pinSnapshot},
		{"DELETE /v1/vgs/{name}/snapshots/{seq}/pin", A, "unpinning a snapshot", s.unpinSnapshot},
		{"POST /v1/restore", A, "restoring a volume", s.restore},
		{"POST /v1/verify", M, "verifying the store", s.verify},
		{"POST /v1/gc", A, "collecting garbage", s.gc},
		{"POST /v1/diff", M, "comparing snapshots", s.diff},
		{"POST /v1/replicas", A, "creating a replica", s.createReplica},
		{"POST /v1/replicas/verify", A, "verifying a replica", s.verifyReplica},
		{"POST /v1/replicas/show", A, "showing a replica", s.showReplica},
		{"POST /v1/deltas/export", A, "exporting a delta", s.exportDelta},
		{"POST /v1/deltas/apply", A, "applying a delta", s.applyDelta},
		{"POST /v1/deltas/show", A, "reading a delta file", s.showDelta},
		{"POST " + api.DeltaStreamPath, A, "streaming a delta", s.streamDelta},
		{"POST /v1/stacks", A, "generating a stack", s.generateStack},
		{"POST " + api.ServerStackPath, A, "generating a server stack", s.generateServerStack},
		{"GET " + api.TenanciesPath, A, "listing tenancies", s.listTenancies},
		{"POST /v1/export", A, "exporting a volume image", s.export},
		{"POST /v1/replicate", A, "replicating a snapshot", s.replicate},
		{"GET /v1/mounts", M, "listing mounts", s.listMounts},
		{"GET /v1/status", M, "showing the status", s.listStatus},
		{"GET /v1/status/{name}", M, "showing a volume group's status", s.getStatus},
		{"POST /v1/mounts", A, "mounting the store", s.mount},
		{"POST /v1/mounts/unmount", A, "unmounting the store", s.unmount},
		{"GET /v1/schedules", M, "listing schedules", s.listSchedules},
		{"GET /v1/schedules/{name}", M, "showing a schedule", s.getSchedule},
		{"PUT /v1/schedules/{name}", A, "setting a schedule", s.setSchedule},
		{"DELETE /v1/schedules/{name}", A, "deleting a schedule", s.deleteSchedule},
		{"POST /v1/schedules/{name}/pause", A, "pausing a schedule", s.pauseSchedule},
		{"POST /v1/schedules/{name}/resume", A, "resuming a schedule", s.resumeSchedule},
		{"POST /v1/launch", A, "launching a replica", s.launchTest},
		{"GET /v1/instances", M, "listing instances", s.listInstances},
		{"DELETE /v1/instances/{id}", A, "stopping an instance", s.deleteInstance},
		{"GET /v1/jobs", M, "listing jobs", s.listJobs},
		{"GET /v1/jobs/{id}", M, "showing a job", s.getJob},
		{"DELETE /v1/jobs/{id}", M, "canceling a job", s.cancelJob},
		{"GET /v1/jobs/{id}/events", M, "following a job", s.jobEvents},
		{"GET /v1/debug/goroutines", M, "counting goroutines", s.goroutines},
		{"/", M, "an unknown endpoint", s.notFound},
	}
}

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	for _, rt := range s.routeTable() {
		m.Handle(rt.pattern, s.require(rt))
	}
	return m
}

// require serves rt to the callers its level allows.
func (s *Server) require(rt route) http.Handler {
	return s.serve(func(w http.ResponseWriter, r *http.Request) error {
		c := callerOf(r)
		if rt.access != accessMember && !c.admin {
			return s.refuse(r, c, rt.what, "may only read and snapshot existing volume groups")
		}
		return rt.handle(w, r)
	})
}

// refuse is the 403 for a member asking for what only an admin may do,
// saying what is needed in one line; it logs a warning.
func (s *Server) refuse(r *http.Request, c caller, what, may string) *api.Error {
	s.log.Warn("refused request: needs an admin", "uid", c.uid, "gid", c.gid, "method", r.Method, "path", r.URL.Path, "what", what)
	return api.Errorf(api.CodeForbidden, "%s needs root (uid 0 or the daemon's uid); uid %d is a member of group %d, which %s",
		what, c.uid, s.auth.allowGroup, may)
}

func (s *Server) goroutines(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, api.GoroutinesResponse{Goroutines: runtime.NumGoroutine()})
	return nil
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) error {
	return api.Errorf(api.CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path)
}

// caller is who sent a request, as the auth middleware found it.
type caller struct {
	uid, gid int
	admin    bool // root or the daemon's own uid
}

type callerKey struct{}

// callerOf returns the request's caller; a request that did not pass the
// middleware is nobody, and no admin.
func callerOf(r *http.Request) caller {
	if c, ok := r.Context().Value(callerKey{}).(caller); ok {
		return c
	}
	return caller{uid: -2, gid: -2}
}

func withCaller(ctx context.Context, c caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// ownerName names who started a job, in a refusal.
func ownerName(uid int) string {
	if uid < 0 {
		return "the daemon"
	}
	return "uid " + strconv.Itoa(uid)
}
