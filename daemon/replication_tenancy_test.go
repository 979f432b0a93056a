package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/client"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/cas/s3backend"
	"github.com/vmrep/vmrep/engine/gc"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/internal/clock"
	"github.com/vmrep/vmrep/internal/testminio"
)

// openBucketStore creates (on first use) and opens a store whose packs and
// records lie under prefix in the MinIO bucket.
func openBucketStore(t *testing.T, m testminio.Server, dir, prefix string) *cas.Store {
	t.Helper()
	ctx := context.Background()
	be, err := s3backend.New(ctx, s3backend.Config{Bucket: m.Bucket, Prefix: prefix, Endpoint: m.Endpoint,
		AccessKey: m.AccessKey, SecretKey: m.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cas.BackendConfig(ctx, be); errors.Is(err, blob.ErrNotFound) {
		if err := cas.InitBackend(ctx, dir, cas.DefaultConfig(), be); err != nil {
			t.Fatal(err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	st, err := cas.Open(ctx, dir, cas.Options{Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// tenancyTokens gives each test token its principal: the listener's
// Authenticate seam, standing in for the token store.
var tenancyTokens = map[string]principal{
	"token-of-acme-0123456789":   {Tenancy: "acme", Scope: ScopeAdmin, TokenID: "acme"},
	"token-of-globex-0123456789": {Tenancy: "globex", Scope: ScopeAdmin, TokenID: "globex"},
	"token-of-ghost-0123456789":  {Tenancy: "ghost", Scope: ScopeAdmin, TokenID: "ghost"},
	"token-of-server-0123456789": {Tenancy: DefaultTenancy, Scope: ScopeAdmin},
}

func tokenPrincipal(r *http.Request) (principal, bool) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p, ok := tenancyTokens[tok]
	return p, ok
}

// createVGWith makes VG name on d of one volume holding data.
func (d *schedDaemon) createVGWith(name string, data []byte) string {
	d.t.Helper()
	img := filepath.Join(d.dir, name+".img")
	if err := os.WriteFile(img, data, 0o600); err != nil {
		d.t.Fatal(err)
	}
	req := api.CreateVGRequest{Name: name, Volumes: []api.VolumeSource{{Name: "boot", Role: "boot", Path: img}}}
	if _, err := d.cl.CreateVG(context.Background(), req); err != nil {
		d.t.Fatal(err)
	}
	return img
}

// runJob waits for job j and returns its last event.
func (d *schedDaemon) runJob(j api.Job, err error) api.Event {
	d.t.Helper()
	if err != nil {
		d.t.Fatal(err)
	}
	ev, err := d.cl.Wait(context.Background(), j.ID, nil)
	if err != nil && !api.Final(ev.State) {
		d.t.Fatal(err)
	}
	return ev
}

// replicateTo snapshots vg and replicates the snapshot with token; it
// returns the job's last event.
func (d *schedDaemon) replicateTo(vg, addr, token, caPEM, materialize string) api.Event {
	d.t.Helper()
	ctx := context.Background()
	if ev := d.runJob(d.cl.CreateSnapshot(ctx, vg, api.CreateSnapshotRequest{})); ev.State != api.StateDone {
		d.t.Fatalf("snapshot of %s: %+v", vg, ev.Error)
	}
	snaps, err := d.cl.ListSnapshots(ctx, vg)
	if err != nil {
		d.t.Fatal(err)
	}
	return d.runJob(d.cl.Replicate(ctx, api.ReplicateRequest{Snapshot: fmt.Sprintf("%s@%d", vg, snaps[len(snaps)-1].Seq), To: addr, Token: token,
		CAPEM: caPEM, Materialize: materialize}))
}

// Two tenancies replicate the same VM image to one server whose stores
// lie in one MinIO bucket: each tenancy's store holds its own copy (the
// second sends every blob again, and the bucket holds the blobs twice,
// under each tenancy's prefix); each sees only its own names; a
// replication over a tenancy's quota fails, leaves no snapshot record and
// the tenancy's earlier snapshot intact, and gc reclaims what it stored;
// the other tenancy is unaffected.
func TestTenanciesShareNothing(t *testing.T) {
	m := testminio.Start(t, "vmrep")
	ctx := context.Background()
	dir := t.TempDir()
	tc, caPEM := testTLS(t)

	// The server: its own store under srv/, a tenancy acme with a quota
	// of 3 MiB and globex without one under srv/tenancies/NAME.
	storeDir := filepath.Join(dir, "server", "store")
	own := openBucketStore(t, m, storeDir, "srv")
	const quota = 3 << 20
	stores := map[string]*cas.Store{}
	for _, name := range []string{"acme", "globex"} {
		stores[name] = openBucketStore(t, m, filepath.Join(storeDir, "tenancies", name), "srv/tenancies/"+name)
	}
	srv, err := New(Config{Store: own, AllowGroup: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddTenancy(Tenancy{Name: "acme", Store: stores["acme"], QuotaBytes: quota}); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddTenancy(Tenancy{Name: "globex", Store: stores["globex"]}); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "replicas")
	rs, err := srv.NewReplicationServer(ReplicationConfig{TLS: tc, Token: "token-of-server-0123456789", ReplicaRoot: root,
		Authenticate: tokenPrincipal})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = rs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = rs.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
		for _, st := range stores {
			_ = st.Close()
		}
		_ = own.Close()
	})
	addr := ln.Addr().String()

	// Two source sites with the same 1 MiB image in a VG named web.
	image := make([]byte, 1<<20)
	_, _ = rand.Read(image)
	siteA := startSchedDaemon(t, filepath.Join(dir, "a"), clock.NewFake(day0))
	siteB := startSchedDaemon(t, filepath.Join(dir, "b"), clock.NewFake(day0))
	siteA.createVGWith("web", image)
	siteB.createVGWith("web", image)
	var res = map[string]api.ReplicateResult{}
	for name, d := range map[string]*schedDaemon{"acme": siteA, "globex": siteB} {
		ev := d.replicateTo("web", addr, "token-of-"+name+"-0123456789", caPEM, "web")
		if ev.State != api.StateDone {
			t.Fatalf("%s: replicate web@1: %+v", name, ev.Error)
		}
		var r api.ReplicateResult
		if err := json.Unmarshal(ev.Result, &r); err != nil {
			t.Fatal(err)
		}
		res[name] = r
	}
	for name, r := range res {
		t.Logf("%s: web@1 %d blobs, sent %d (%d bytes), skipped %d", name, r.Blobs, r.SentBlobs, r.SentBytes, r.SkippedBlobs)
	}
	// No deduplication across tenancies: the second tenancy's server
	// answered that it lacked every blob, whichever ran second.
	for name, r := range res {
		if !r.Committed || r.SkippedBlobs != 0 || r.SentBlobs != r.Blobs || r.SentBytes < int64(len(image)) {
			t.Errorf("%s: %+v; want every blob sent and none skipped", name, r)
		}
	}

	// The bucket: each tenancy's blobs lie in pack objects under its own
	// prefix, the server's own store holds none. The blob IDs are BLAKE3
	// of the content, so both stores index the same IDs; "no chunk
	// shared" means each ID is stored once per tenancy, in that tenancy's
	// objects, which no other store's index names.
	objs, err := m.Objects(ctx, "srv/")
	if err != nil {
		t.Fatal(err)
	}
	packsUnder := func(prefix string) map[string]bool {
		out := map[string]bool{}
		for k := range objs {
			if rest, ok := strings.CutPrefix(k, prefix); ok && strings.HasPrefix(rest, "packs/") {
				out[k] = true
			}
		}
		return out
	}
	if p := packsUnder("srv/"); len(p) != 0 {
		t.Errorf("the server's own store holds packs %v; every replication went to a tenancy", p)
	}
	ids := map[string]map[blob.ID]bool{}
	for name, st := range stores {
		prefix := "srv/tenancies/" + name + "/"
		packs := packsUnder(prefix)
		if len(packs) == 0 {
			t.Fatalf("%s: no pack under %s", name, prefix)
		}
		ids[name] = map[blob.ID]bool{}
		err := st.ForEachBlob(ctx, func(id blob.ID, loc cas.Location) error {
			ids[name][id] = true
			if key := prefix + "packs/" + loc.Pack[:2] + "/" + loc.Pack + ".pack"; !packs[key] {
				t.Errorf("%s: blob %s lies in %s, not an object under %s", name, id, loc.Pack, prefix)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(ids["acme"]) != len(ids["globex"]) || int64(len(ids["acme"])) != res["acme"].Blobs {
		t.Errorf("acme indexes %d blobs, globex %d, the snapshot names %d; the same image gives the same blobs, stored once in each",
			len(ids["acme"]), len(ids["globex"]), res["acme"].Blobs)
	}

	// Names: each tenancy holds one VG web, its own source's; the server's
	// own catalog holds none.
	for name, d := range map[string]*schedDaemon{"acme": siteA, "globex": siteB} {
		vg, err := d.cl.GetVG(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		vgs, err := srv.tenancies[name].cat.ListVGs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(vgs) != 1 || vgs[0].ID != vg.ID || vgs[0].Name != "web" {
			t.Errorf("%s holds %+v; want only its own web (%s)", name, vgs, vg.ID)
		}
		// Its materialize wrote under its own replica root.
		got, err := os.ReadFile(replica.VolumePath(filepath.Join(root, name, "web"), vg.Volumes[0].ID))
		if err != nil || !bytes.Equal(got, image) {
			t.Errorf("%s: replica under %s: %v (equal %v)", name, filepath.Join(root, name), err, bytes.Equal(got, image))
		}
	}
	if vgs, err := srv.cat.ListVGs(ctx); err != nil || len(vgs) != 0 {
		t.Errorf("the server's own catalog: %+v %v; want nothing", vgs, err)
	}
	acmeVG, err := siteA.cl.GetVG(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	remote := func(token string, source ...string) *client.Client {
		c, e := newRemote(api.ReplicateRequest{To: addr, Token: token, CAPEM: caPEM})
		if e != nil {
			t.Fatal(e)
		}
		c.SetSource("site-c")
		if len(source) > 0 {
			c.SetSource(source[0])
		}
		return c
	}
	// globex asking for acme's VG finds nothing: the answer is the one of
	// a VG that exists nowhere.
	_, errOther := remote("token-of-globex-0123456789").ReplMaterialize(ctx, api.ReplReplicaRequest{VGID: acmeVG.ID, Seq: 1, Dir: "x"})
	_, errNone := remote("token-of-globex-0123456789").ReplMaterialize(ctx, api.ReplReplicaRequest{VGID: "vg-" + strings.Repeat("0", 16), Seq: 1, Dir: "x"})
	if code(errOther) != api.CodeNotFound || code(errNone) != api.CodeNotFound {
		t.Errorf("globex materializing acme's VG: %v; one that exists nowhere: %v; want both not found", errOther, errNone)
	}
	if strings.Contains(errOther.Error(), "web") {
		t.Errorf("the answer names acme's VG: %v", errOther)
	}
	// The default tenancy may not write into a tenancy's replica root.
	if _, err := remote("token-of-server-0123456789").ReplMaterialize(ctx, api.ReplReplicaRequest{VGID: acmeVG.ID, Seq: 1, Dir: "acme/web2"}); code(err) != api.CodeInvalid {
		t.Errorf("the default tenancy writing into acme's replica root: %v; want refused as invalid", err)
	}
	if _, err := os.Stat(filepath.Join(root, "acme", "web2")); !os.IsNotExist(err) {
		t.Errorf("acme/web2: %v; want nothing written", err)
	}
	// A token of a tenancy the server does not host gets the bad token's
	// answer, byte for byte.
	if a, b := rawAnswer(t, addr, caPEM, "token-of-ghost-0123456789"), rawAnswer(t, addr, caPEM, "no-such-token-0123456789"); a != b || !strings.HasPrefix(a, "401 ") {
		t.Errorf("unknown tenancy: %q; bad token: %q; want the same 401", a, b)
	}

	// Over the quota: a 4 MiB VG does not fit in acme's 3 MiB.
	big := make([]byte, 4<<20)
	_, _ = rand.Read(big)
	siteA.createVGWith("big", big)
	ev := siteA.replicateTo("big", addr, "token-of-acme-0123456789", caPEM, "")
	if ev.State != api.StateFailed || ev.Error == nil || !strings.Contains(ev.Error.Message, "quota") || strings.Contains(ev.Error.Message, "\n") {
		t.Fatalf("replicating big over acme's quota: %s %+v; want one line about the quota", ev.State, ev.Error)
	}
	t.Logf("over quota: %s", ev.Error.Message)
	acme := srv.tenancies["acme"]
	used, err := acme.usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if used > quota {
		t.Errorf("acme stores %d bytes, over its quota of %d", used, quota)
	}
	bigVG, err := siteA.cl.GetVG(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if snaps, err := acme.cat.ListSnapshots(ctx, bigVG.ID); err != nil || len(snaps) != 0 {
		t.Errorf("acme holds snapshots %+v of big (%v); a refused replication commits none", snaps, err)
	}
	checkTenancy := func(name string) {
		t.Helper()
		rep, err := stores[name].Verify(ctx, cas.VerifyOptions{ReadData: true})
		if err != nil || len(rep.Problems) != 0 {
			t.Errorf("verify %s: %v %+v", name, err, rep.Problems)
		}
		if snaps, err := srv.tenancies[name].cat.ListSnapshots(ctx, vgIDOf(t, name, siteA, siteB)); err != nil || len(snaps) != 1 {
			t.Errorf("%s: snapshots of web %+v %v; want web@1 kept", name, snaps, err)
		}
	}
	checkTenancy("acme")

	// globex, without a quota, takes the same 4 MiB.
	siteB.createVGWith("big", big)
	if ev := siteB.replicateTo("big", addr, "token-of-globex-0123456789", caPEM, ""); ev.State != api.StateDone {
		t.Fatalf("globex: replicate big: %+v", ev.Error)
	}
	checkTenancy("globex")

	// gc reclaims what the refused replication stored in acme, and leaves
	// web@1 whole: it still materializes byte for byte.
	gcRes, err := srv.gcTenancies(ctx, gc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gc of acme after the refusal: %d blobs deleted, packs %d -> %d bytes", gcRes["acme"].BlobsDeleted,
		gcRes["acme"].StoreBytesBefore, gcRes["acme"].StoreBytesAfter)
	if g := gcRes["acme"]; g.BlobsDeleted == 0 || g.StoreBytesAfter >= g.StoreBytesBefore {
		t.Errorf("gc of acme: %+v; want the refused replication's blobs reclaimed", g)
	}
	if g := gcRes["globex"]; g.BlobsDeleted != 0 {
		t.Errorf("gc of globex deleted %d blobs; every one is live", g.BlobsDeleted)
	}
	checkTenancy("acme")
	if _, err := remote("token-of-acme-0123456789", siteA.store.Config().ID).ReplMaterialize(ctx, api.ReplReplicaRequest{VGID: acmeVG.ID, Seq: 1, Dir: "again"}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(replica.VolumePath(filepath.Join(root, "acme", "again"), acmeVG.Volumes[0].ID))
	if err != nil || !bytes.Equal(got, image) {
		t.Fatalf("acme's web@1 after gc: %v (equal %v)", err, bytes.Equal(got, image))
	}
}

// vgIDOf is the ID of web on the site that replicates to tenancy name.
func vgIDOf(t *testing.T, name string, a, b *schedDaemon) string {
	d := a
	if name == "globex" {
		d = b
	}
	vg, err := d.cl.GetVG(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	return vg.ID
}

// code is the API code of err; "" for none.
func code(err error) string {
	var e *api.Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err != nil {
		return "not an api error: " + err.Error()
	}
	return ""
}

// rawAnswer is the status and body of a POST to the VG route with token.
func rawAnswer(t *testing.T, addr, caPEM, token string) string {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(caPEM)) {
		t.Fatal("no CA")
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	req, err := http.NewRequest(http.MethodPost, "https://"+addr+api.ReplVGsPath, strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(api.ReplSourceHeader, "site-c")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.Status + " " + string(body)
}

// A tenancy's replica root defaults to the directory named after it under
// the replica root, which must not be a replica of the server's own store;
// a configured one is used as given.
func TestTenancyReplicaRoots(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func(d string) *cas.Store {
		if err := cas.Init(ctx, d, cas.DefaultConfig()); err != nil {
			t.Fatal(err)
		}
		st, err := cas.Open(ctx, d, cas.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	srv, err := New(Config{Store: open(filepath.Join(dir, "store")), AllowGroup: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(ctx) })
	own := filepath.Join(dir, "globex-root")
	for _, tn := range []Tenancy{{Name: "acme", Store: open(filepath.Join(dir, "acme"))},
		{Name: "globex", Store: open(filepath.Join(dir, "globex")), ReplicaRoot: own}} {
		if err := srv.AddTenancy(tn); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.AddTenancy(Tenancy{Name: "acme", Store: srv.store}); err == nil {
		t.Error("a tenancy added twice")
	}
	tc, _ := testTLS(t)
	root := filepath.Join(dir, "replicas")
	rs, err := srv.NewReplicationServer(ReplicationConfig{TLS: tc, Token: "token-of-server-0123456789", ReplicaRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	realRoot, _ := realPath(root)
	realOwn, _ := realPath(own)
	if got := rs.tenants["acme"].root; got != filepath.Join(realRoot, "acme") {
		t.Errorf("acme's replica root %s, want %s", got, filepath.Join(realRoot, "acme"))
	}
	if got := rs.tenants["globex"].root; got != realOwn {
		t.Errorf("globex's replica root %s, want %s", got, realOwn)
	}
	if !rs.othersRoot(rs.tenants[DefaultTenancy], filepath.Join(realRoot, "acme", "x")) || rs.othersRoot(rs.tenants["acme"], filepath.Join(realRoot, "acme", "x")) {
		t.Error("the default tenancy may write into acme's root, or acme may not")
	}
	// A replica of the server's own store named acme refuses the listener.
	if err := os.WriteFile(filepath.Join(root, "acme", replica.StateName), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.NewReplicationServer(ReplicationConfig{TLS: tc, Token: "token-of-server-0123456789", ReplicaRoot: root}); err == nil || !strings.Contains(err.Error(), "another replica_root") {
		t.Errorf("a replica named like a tenancy: %v", err)
	}
}
