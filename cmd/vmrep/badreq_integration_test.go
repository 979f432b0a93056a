package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/client"
)

// state is everything a bad request must leave alone.
func state(t *testing.T, d *testDaemon) (vgs []api.VG, snaps []api.Snapshot) {
	d.okJSON(&vgs, "vg", "list")
	d.okJSON(&snaps, "snapshot", "list", "web")
	return vgs, snaps
}

func TestBadRequests(t *testing.T) {
	d := newDaemon(t)
	boot, _ := d.makeVG("web", 4<<20, 7)
	d.ok("snapshot", "create", "web")
	vgs0, snaps0 := state(t, d)

	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"unknown vg", []string{"snapshot", "create", "nope"}, `volume group "nope": not found`},
		{"unknown vg show", []string{"vg", "show", "nope"}, "not found"},
		{"malformed name", []string{"vg", "create", "bad/name", "--boot", boot}, "invalid volume group name"},
		{"malformed volume name", []string{"vg", "create", "ok", "--boot", "b@d=" + boot}, "invalid volume name"},
		{"directory", []string{"vg", "create", "dir", "--boot", d.dir}, "is a directory"},
		{"inside store", []string{"vg", "create", "st", "--boot", filepath.Join(d.store, "config")}, "inside the store"},
		{"two boots", []string{"vg", "create", "two", "--boot", boot, "--data", "boot=" + boot}, `two volumes named "boot"`},
		{"unknown snapshot delete", []string{"snapshot", "delete", "web@7"}, "snapshot web@7 does not exist"},
		{"unknown vg status", []string{"status", "nope"}, `volume group "nope": not found`},
		{"malformed vg status", []string{"status", "bad@name"}, "invalid volume group name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := d.vmrep(c.args...)
			if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.msg) {
				t.Errorf("exit %d, stderr %q; want exit 1 and one line with %q", r.code, r.stderr, c.msg)
			}
		})
	}

	t.Run("body of 100 MiB", func(t *testing.T) {
		cl := client.New(d.socket)
		defer cl.Close()
		body := io.MultiReader(strings.NewReader(`{"name":"x","volumes":[{"name":"`),
			io.LimitReader(zeroReader{}, 100<<20))
		err := cl.Post(context.Background(), "/v1/vgs", body)
		if !client.IsCode(err, api.CodeTooLarge) || !strings.Contains(err.Error(), "request body too large") ||
			strings.Contains(err.Error(), "\n") {
			t.Fatalf("100 MiB body: %v", err)
		}
	})
	t.Run("malformed json", func(t *testing.T) {
		cl := client.New(d.socket)
		defer cl.Close()
		err := cl.Post(context.Background(), "/v1/vgs", bytes.NewReader([]byte(`{"name": 12`)))
		if !client.IsCode(err, api.CodeInvalid) {
			t.Fatalf("malformed body: %v", err)
		}
		err = cl.Post(context.Background(), "/v1/nope", nil)
		if !client.IsCode(err, api.CodeNotFound) {
			t.Fatalf("unknown endpoint: %v", err)
		}
	})
	// Issue 13's attack: a second JSON value after the body was ignored,
	// so {"dry_run":true}{"dry_run":false} started a real gc.
	t.Run("data after the json value", func(t *testing.T) {
		cl := client.New(d.socket)
		defer cl.Close()
		err := cl.Post(context.Background(), "/v1/gc", strings.NewReader(`{"dry_run":true}{"dry_run":false}`))
		if !client.IsCode(err, api.CodeInvalid) || !strings.Contains(err.Error(), "data after the JSON value") {
			t.Fatalf("two JSON values: %v", err)
		}
		var jobs []api.Job
		d.okJSON(&jobs, "jobs", "list")
		for _, j := range jobs {
			if j.Kind == api.JobGC {
				t.Fatalf("a refused body started a gc: %+v", j)
			}
		}
	})
	// delta show of a directory that holds no delta answered 500.
	t.Run("delta show of a non-delta", func(t *testing.T) {
		r := d.vmrep("delta", "show", d.dir)
		if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "is not a delta file or a split delta's directory") {
			t.Fatalf("delta show of a directory: exit %d, stderr %q", r.code, r.stderr)
		}
		hc := &http.Client{Transport: &http.Transport{DialContext: unixDial(d.socket)}}
		resp, err := hc.Post("http://vmrepd/v1/deltas/show", "application/json", strings.NewReader(`{"delta":"`+d.dir+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST /v1/deltas/show of a directory: %d, want 400", resp.StatusCode)
		}
	})
	t.Run("status codes", func(t *testing.T) {
		hc := &http.Client{Transport: &http.Transport{DialContext: unixDial(d.socket)}}
		resp, err := hc.Get("http://vmrepd/v1/vgs/nope")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET unknown vg: %d", resp.StatusCode)
		}
	})

	vgs1, snaps1 := state(t, d)
	if !reflect.DeepEqual(vgs0, vgs1) || !reflect.DeepEqual(snaps0, snaps1) {
		t.Fatalf("bad requests changed the state:\nbefore %+v %+v\nafter  %+v %+v", vgs0, snaps0, vgs1, snaps1)
	}
	if _, err := os.Stat(filepath.Join(d.dir, "dir")); err == nil {
		t.Fatal("unexpected file")
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}
