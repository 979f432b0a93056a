package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The uids the privilege tests run as. memberGID is the daemon's
// --allow-group: member has it as its primary group, supMember as a
// supplementary one.
const (
	memberGID    = 10001
	memberUID    = 10001
	supMemberUID = 10002
	otherUID     = 65534
)

var (
	asMember    = &syscall.Credential{Uid: memberUID, Gid: memberGID}
	asSupMember = &syscall.Credential{Uid: supMemberUID, Gid: supMemberUID, Groups: []uint32{memberGID}}
	asOther     = &syscall.Credential{Uid: otherUID, Gid: otherUID}
)

// rawHelperEnv makes the test binary a child that sends one request over
// the socket and prints the status and body: how a test speaks HTTP as
// another uid for routes the CLI has no command for.
const rawHelperEnv = "VMREP_TEST_RAW_REQUEST"

func rawRequestMain() int {
	socket, method, path := os.Getenv("VMREP_TEST_SOCKET"), os.Getenv("VMREP_TEST_METHOD"), os.Getenv(rawHelperEnv)
	hc := &http.Client{Transport: &http.Transport{DialContext: unixDial(socket)}, Timeout: time.Minute}
	req, err := http.NewRequest(method, "http://vmrepd"+path, strings.NewReader(os.Getenv("VMREP_TEST_BODY")))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	resp, err := hc.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d\n%s", resp.StatusCode, body)
	return 0
}

var helperOnce struct {
	sync.Once
	path string
	err  error
}

// helperBin is a copy of the test binary that other uids may execute.
func helperBin(t *testing.T) string {
	helperOnce.Do(func() {
		self, err := os.Executable()
		if err != nil {
			helperOnce.err = err
			return
		}
		b, err := os.ReadFile(self)
		if err == nil {
			helperOnce.path = filepath.Join(binDir, "vmrep.test")
			err = os.WriteFile(helperOnce.path, b, 0o755)
		}
		helperOnce.err = err
	})
	if helperOnce.err != nil {
		t.Fatalf("copying the test binary: %v", helperOnce.err)
	}
	return helperOnce.path
}

// answer is a daemon's reply to one raw request.
type answer struct {
	status int
	body   string
}

// request sends one request as cred (nil: as root, this process's uid).
func (d *testDaemon) request(t *testing.T, cred *syscall.Credential, method, path, body string) answer {
	t.Helper()
	cmd := exec.Command(helperBin(t))
	cmd.Env = append(os.Environ(), rawHelperEnv+"="+path, "VMREP_TEST_METHOD="+method,
		"VMREP_TEST_SOCKET="+d.socket, "VMREP_TEST_BODY="+body)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	r := runCLI(t, cmd)
	status, rest, _ := strings.Cut(r.stdout, "\n")
	n, err := strconv.Atoi(status)
	if r.code != 0 || err != nil {
		t.Fatalf("%s %s as %v: exit %d, stdout %q, stderr %q", method, path, cred, r.code, r.stdout, r.stderr)
	}
	return answer{n, rest}
}

// waitJob waits, as root, until the job in a 202 answer ends and returns
// its final state.
func (d *testDaemon) waitJob(t *testing.T, a answer) string {
	t.Helper()
	var j struct{ ID, State string }
	if err := json.Unmarshal([]byte(a.body), &j); err != nil || j.ID == "" {
		t.Fatalf("not a job: %q (%v)", a.body, err)
	}
	cl := d.client(t)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		v, err := cl.GetJob(context.Background(), j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v.Finished != nil {
			return v.State
		}
	}
	t.Fatalf("job %s did not end", j.ID)
	return ""
}

// fingerprint is what a refused request must leave as it was: the
// catalog, the mounts, the jobs, and every file under out (not under a
// mount point).
func (d *testDaemon) fingerprint(t *testing.T, out string) string {
	t.Helper()
	var b strings.Builder
	vgs := d.rootGet(t, "/v1/vgs")
	b.WriteString(vgs)
	var list []struct{ Name string }
	json.Unmarshal([]byte(vgs), &list)
	for _, vg := range list {
		b.WriteString(d.rootGet(t, "/v1/vgs/"+vg.Name+"/snapshots"))
	}
	b.WriteString(d.rootGet(t, "/v1/mounts"))
	var jobs []struct{ ID, State string }
	json.Unmarshal([]byte(d.rootGet(t, "/v1/jobs")), &jobs)
	fmt.Fprintf(&b, "%v\n", jobs)
	filepath.WalkDir(out, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d\n", p, fi.Mode(), fi.Size())
		if e.IsDir() && e.Name() == "mnt" {
			return fs.SkipDir
		}
		return nil
	})
	return b.String()
}

// rootGet answers a GET as this process (root), without a child process.
func (d *testDaemon) rootGet(t *testing.T, path string) string {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: unixDial(d.socket)}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("http://vmrepd" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// newPrivilegeDaemon starts vmrepd with --allow-group memberGID, its socket
// reachable by every uid so that refusals come from the daemon, with a VG
// "web" of two small images and an empty VG "spare".
func newPrivilegeDaemon(t *testing.T) (d *testDaemon, out string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to run requests as other uids")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("needs /dev/fuse for the mount routes")
	}
	d = newDaemon(t, "--allow-group", strconv.Itoa(memberGID), "--socket-mode", "0666")
	if err := os.Chmod(filepath.Dir(d.socket), 0o755); err != nil {
		t.Fatal(err)
	}
	out = filepath.Join(d.dir, "out")
	if err := os.MkdirAll(filepath.Join(out, "mnt"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"boot", "data", "spare"} {
		writeImage(t, filepath.Join(d.dir, name+".img"), 1<<20, uint64(len(name)))
	}
	d.ok("vg", "create", "spare", "--boot", filepath.Join(d.dir, "spare.img"))
	return d, out
}

// refusal is the start of what a member is told by an admin route.
var memberRefusal = "needs root (uid 0 or the daemon's uid); uid " + strconv.Itoa(memberUID) + " is a member of group " + strconv.Itoa(memberGID)

// checkRefused checks that a is a 403 saying want, and that nothing changed.
func (d *testDaemon) checkRefused(t *testing.T, who string, a answer, want, before, out string) {
	t.Helper()
	var e struct{ Code, Message string }
	json.Unmarshal([]byte(a.body), &e)
	if a.status != http.StatusForbidden || e.Code != "forbidden" || !strings.Contains(e.Message, want) {
		t.Errorf("as %s: %d %s; want 403 saying %q", who, a.status, a.body, want)
	}
	if after := d.fingerprint(t, out); after != before {
		t.Errorf("a refused request as %s changed the daemon or the files:\nbefore:\n%s\nafter:\n%s", who, before, after)
	}
}

// served checks a 2xx answer, waiting for the job a 202 starts; replicate
// to nowhere is accepted and then fails, which is still served.
func (d *testDaemon) served(t *testing.T, who string, a answer, jobMayFail bool) {
	t.Helper()
	if a.status < 200 || a.status > 299 {
		t.Fatalf("as %s: %d %s; want it served\ndaemon log:\n%s", who, a.status, a.body, d.log)
	}
	if a.status == http.StatusAccepted {
		if st := d.waitJob(t, a); st != "done" && !jobMayFail {
			t.Fatalf("as %s: the job ended %s", who, st)
		}
	}
}

func jobID(t *testing.T, a answer) string {
	var j struct{ ID string }
	if err := json.Unmarshal([]byte(a.body), &j); err != nil || j.ID == "" {
		t.Fatalf("not a job: %q", a.body)
	}
	return j.ID
}

func jsonBody(v any) string {
	var b bytes.Buffer
	json.NewEncoder(&b).Encode(v)
	return b.String()
}
