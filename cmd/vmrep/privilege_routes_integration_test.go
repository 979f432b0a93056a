package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// routeStep is one request of TestPrivilegeEveryRoute: sent as a foreign
// uid (always refused), as a member, and as root (always served).
type routeStep struct {
	route        string // the route as doc/design.md's matrix names it
	method, path string // path may hold {mjob} and {rjob}
	body         string
	member       bool // a member is served
	status       int  // when served; 0: any 2xx
	jobMayFail   bool
	saveJobs     bool // remember the member's and root's jobs as {mjob} and {rjob}
}

func privilegeSteps(d *testDaemon, out string) []routeStep {
	o := func(name string) string { return filepath.Join(out, name) }
	return []routeStep{
		{route: "GET /v1/vgs", method: "GET", path: "/v1/vgs", member: true},
		{route: "POST /v1/vgs", method: "POST", path: "/v1/vgs", body: jsonBody(map[string]any{"name": "web", "volumes": []map[string]string{
			{"name": "boot", "role": "boot", "path": filepath.Join(d.dir, "boot.img")},
			{"name": "db", "role": "data", "path": filepath.Join(d.dir, "data.img")}}})},
		{route: "GET /v1/vgs/{name}", method: "GET", path: "/v1/vgs/web", member: true},
		{route: "PATCH /v1/vgs/{name}", method: "PATCH", path: "/v1/vgs/web", body: `{"hook_timeout":"30s"}`},
		{route: "POST /v1/vgs/{name}/snapshots", method: "POST", path: "/v1/vgs/web/snapshots", member: true, saveJobs: true},
		{route: "GET /v1/vgs/{name}/snapshots", method: "GET", path: "/v1/vgs/web/snapshots", member: true},
		{route: "GET /v1/vgs/{name}/snapshots/{seq}", method: "GET", path: "/v1/vgs/web/snapshots/1", member: true},
		{route: "POST /v1/vgs/{name}/snapshots/{seq}/pin", method: "POST", path: "/v1/vgs/web/snapshots/1/pin", body: `{"note":"keep"}`},
		{route: "DELETE /v1/vgs/{name}/snapshots/{seq}/pin", method: "DELETE", path: "/v1/vgs/web/snapshots/1/pin"},
		{route: "POST /v1/vgs/{name}/forget", method: "POST", path: "/v1/vgs/web/forget", body: `{"last":5,"dry_run":true}`},
		{route: "POST /v1/diff", method: "POST", path: "/v1/diff", body: `{"base":"web@1","target":"web@2"}`, member: true},
		{route: "POST /v1/verify", method: "POST", path: "/v1/verify", body: `{"read_data":true}`, member: true},
		// A daily schedule, deleted a few steps on: it never runs here.
		{route: "PUT /v1/schedules/{name}", method: "PUT", path: "/v1/schedules/web", body: `{"every":"24h","keep":"last=2"}`},
		{route: "GET /v1/schedules", method: "GET", path: "/v1/schedules", member: true},
		{route: "GET /v1/schedules/{name}", method: "GET", path: "/v1/schedules/web", member: true},
		{route: "POST /v1/schedules/{name}/pause", method: "POST", path: "/v1/schedules/web/pause"},
		{route: "POST /v1/schedules/{name}/resume", method: "POST", path: "/v1/schedules/web/resume"},
		{route: "DELETE /v1/schedules/{name}", method: "DELETE", path: "/v1/schedules/web"},
		{route: "GET /v1/jobs", method: "GET", path: "/v1/jobs", member: true},
		{route: "GET /v1/jobs/{id}", method: "GET", path: "/v1/jobs/{mjob}", member: true},
		{route: "GET /v1/jobs/{id}/events", method: "GET", path: "/v1/jobs/{mjob}/events", member: true},
		// A member cancels its own job, never another's.
		{route: "DELETE /v1/jobs/{id}", method: "DELETE", path: "/v1/jobs/{mjob}", member: true},
		{route: "DELETE /v1/jobs/{id}", method: "DELETE", path: "/v1/jobs/{rjob}"},
		{route: "POST /v1/restore", method: "POST", path: "/v1/restore", body: jsonBody(map[string]string{
			"snapshot": "web@1", "volume": "boot", "output": o("boot.img")})},
		{route: "POST /v1/export", method: "POST", path: "/v1/export", body: jsonBody(map[string]string{
			"snapshot": "web@1", "volume": "boot", "format": "qcow2", "output": o("boot.qcow2")})},
		{route: "POST /v1/replicas", method: "POST", path: "/v1/replicas", body: jsonBody(map[string]string{
			"snapshot": "web@1", "dir": o("replica")})},
		{route: "POST /v1/replicas/show", method: "POST", path: "/v1/replicas/show", body: jsonBody(map[string]string{"dir": o("replica")})},
		{route: "POST /v1/replicas/verify", method: "POST", path: "/v1/replicas/verify", body: jsonBody(map[string]string{"dir": o("replica")})},
		{route: "POST /v1/deltas/export", method: "POST", path: "/v1/deltas/export", body: jsonBody(map[string]string{
			"base": "web@1", "target": "web@2", "output": o("d.vmdelta")})},
		{route: "POST /v1/deltas/show", method: "POST", path: "/v1/deltas/show", body: jsonBody(map[string]string{"delta": o("d.vmdelta")})},
		{route: "POST /v1/deltas/stream", method: "POST", path: "/v1/deltas/stream", body: `{"base":"web@1","target":"web@2"}`},
		{route: "POST /v1/deltas/apply", method: "POST", path: "/v1/deltas/apply", body: jsonBody(map[string]string{
			"delta": o("d.vmdelta"), "replica": o("replica")})},
		// The replica (now at web@2) holds no bootable disk: QEMU's firmware
		// fails the test launch at once, a failed job.
		{route: "POST /v1/launch", method: "POST", path: "/v1/launch", body: jsonBody(map[string]any{
			"dir": o("replica"), "snapshot": "web@2", "test": true, "accel": "tcg"}), jobMayFail: true},
		// A dry run: checked and listed, nothing done.
		{route: "POST /v1/vgs/{name}/cutover", method: "POST", path: "/v1/vgs/web/cutover", body: jsonBody(map[string]any{
			"replica": o("replica"), "dry_run": true})},
		{route: "GET /v1/instances", method: "GET", path: "/v1/instances", member: true},
		{route: "DELETE /v1/instances/{id}", method: "DELETE", path: "/v1/instances/vm-0", status: http.StatusNotFound},
		{route: "POST /v1/stacks", method: "POST", path: "/v1/stacks", body: jsonBody(map[string]string{
			"snapshot": "web@1", "target": "local", "out": o("stack")})},
		{route: "POST /v1/server-stacks", method: "POST", path: "/v1/server-stacks", body: jsonBody(map[string]any{
			"target": "oci", "out": o("server-stack"), "name": "vmrep-server", "port": 7443})},
		{route: "GET /v1/tenancies", method: "GET", path: "/v1/tenancies"},
		{route: "POST /v1/replicate", method: "POST", path: "/v1/replicate", body: `{"snapshot":"web@1","to":"127.0.0.1:1","token":"x"}`, jobMayFail: true},
		{route: "GET /v1/mounts", method: "GET", path: "/v1/mounts", member: true},
		{route: "GET /v1/status", method: "GET", path: "/v1/status", member: true},
		{route: "GET /v1/status/{name}", method: "GET", path: "/v1/status/web", member: true},
		{route: "POST /v1/mounts", method: "POST", path: "/v1/mounts", body: jsonBody(map[string]any{"dir": o("mnt"), "allow_other": true})},
		{route: "POST /v1/mounts/unmount", method: "POST", path: "/v1/mounts/unmount", body: jsonBody(map[string]string{"dir": o("mnt")})},
		{route: "DELETE /v1/vgs/{name}/snapshots/{seq}", method: "DELETE", path: "/v1/vgs/web/snapshots/2?force=true"}, // a replica made above is at web@2
		{route: "POST /v1/gc", method: "POST", path: "/v1/gc", body: `{}`},
		{route: "DELETE /v1/vgs/{name}", method: "DELETE", path: "/v1/vgs/spare"},
		{route: "GET /v1/debug/goroutines", method: "GET", path: "/v1/debug/goroutines", member: true},
		{route: "/", method: "GET", path: "/v1/no-such-thing", member: true, status: http.StatusNotFound},
	}
}

// TestPrivilegeEveryRoute sends a real request on every route of the API
// as a foreign uid, a member of --allow-group and root, and checks the
// design's matrix: who is served, who is refused with what words, and
// that a refused request changes neither the daemon nor any file.
func TestPrivilegeEveryRoute(t *testing.T) {
	d, out := newPrivilegeDaemon(t)
	steps := privilegeSteps(d, out)
	checkCoversMatrix(t, steps)
	vars := map[string]string{}
	for _, st := range steps {
		path := st.path
		for k, v := range vars {
			path = strings.ReplaceAll(path, k, v)
		}
		name := st.method + " " + path
		before := d.fingerprint(t, out)
		d.checkRefused(t, "uid 65534 on "+name, d.request(t, asOther, st.method, path, st.body),
			"uid 65534 is not allowed to use this daemon", before, out)

		m := d.request(t, asMember, st.method, path, st.body)
		switch {
		case st.member && st.status != 0:
			if m.status != st.status {
				t.Errorf("as member on %s: %d %s, want %d", name, m.status, m.body, st.status)
			}
		case st.member:
			d.served(t, "member on "+name, m, st.jobMayFail)
		default:
			d.checkRefused(t, "member on "+name, m, memberRefusal, before, out)
		}

		r := d.request(t, nil, st.method, path, st.body)
		if st.status != 0 {
			if r.status != st.status {
				t.Errorf("as root on %s: %d %s, want %d", name, r.status, r.body, st.status)
			}
		} else {
			d.served(t, "root on "+name, r, st.jobMayFail)
		}
		if st.saveJobs {
			vars["{mjob}"], vars["{rjob}"] = jobID(t, m), jobID(t, r)
		}
	}
	if !strings.Contains(d.log.String(), "refused request: needs an admin") {
		t.Errorf("no member refusal in the daemon's log:\n%s", d.log)
	}
}

// checkCoversMatrix fails when a route of doc/design.md's privilege matrix
// has no step, so a new route needs a line here too.
func checkCoversMatrix(t *testing.T, steps []routeStep) {
	t.Helper()
	doc, err := os.ReadFile("../../doc/design.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, _ := strings.Cut(string(doc), "\n## Privilege model\n")
	sec, _, _ = strings.Cut(sec, "\n## ")
	n := 0
	for _, line := range strings.Split(sec, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 7 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		route := strings.Split(strings.TrimSpace(cells[1]), "`")[1]
		n++
		covered := false
		for _, st := range steps {
			covered = covered || st.route == route
		}
		if !covered {
			t.Errorf("route %s of doc/design.md's privilege matrix has no step in this test", route)
		}
	}
	if n < 30 {
		t.Fatalf("found %d routes in doc/design.md's privilege matrix; is the table still there?", n)
	}
}
