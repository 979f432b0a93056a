package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// vmrepAs runs the CLI against the daemon as cred.
func (d *testDaemon) vmrepAs(t *testing.T, cred *syscall.Credential, args ...string) result {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "vmrep"), append([]string{"--socket", d.socket}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return runCLI(t, cmd)
}

// TestPrivilegeMemberAttacks replays, through the real CLI, what a member
// of --allow-group could do as root before the privilege model, and checks
// each is refused in one line and leaves no trace.
func TestPrivilegeMemberAttacks(t *testing.T) {
	d, out := newPrivilegeDaemon(t)
	d.ok("vg", "create", "web", "--boot", filepath.Join(d.dir, "boot.img"))
	d.ok("snapshot", "create", "web")
	refusal := func(what string, uid int) string {
		return "vmrep: " + what + " needs root (uid 0 or the daemon's uid); uid " + strconv.Itoa(uid) +
			" is a member of group " + strconv.Itoa(memberGID) + ", which may only read and snapshot existing volume groups\n"
	}
	secret := filepath.Join(d.dir, "secret")
	if err := os.WriteFile(secret, []byte("root only\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	private := filepath.Join(d.dir, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	hookRan := filepath.Join(out, "hook-ran")
	for _, tc := range []struct {
		name string
		cred *syscall.Credential
		args []string
		what string
	}{
		{"a hook that would run as root", asMember, []string{"vg", "create", "p", "--boot", filepath.Join(d.dir, "data.img"), "--pre-snapshot", "id > " + hookRan}, "creating a volume group"},
		{"a root-only file as a source", asMember, []string{"vg", "create", "sec", "--boot", secret}, "creating a volume group"},
		{"a supplementary member", asSupMember, []string{"vg", "create", "sec", "--boot", secret}, "creating a volume group"},
		{"restore into a root-only directory", asMember, []string{"restore", "web@1", "--volume", "boot", "-o", filepath.Join(private, "boot.img")}, "restoring a volume"},
		{"a mount every user can read", asMember, []string{"mount", filepath.Join(out, "mnt"), "--allow-other"}, "mounting the store"},
		{"a hook changed on root's VG", asMember, []string{"vg", "set", "web", "--pre-snapshot", "id > " + hookRan}, "changing a volume group's hooks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := d.fingerprint(t, out)
			r := d.vmrepAs(t, tc.cred, tc.args...)
			if want := refusal(tc.what, int(tc.cred.Uid)); r.code != 1 || r.stderr != want {
				t.Fatalf("vmrep %s as uid %d: exit %d, stderr %q; want exit 1, %q", strings.Join(tc.args, " "), tc.cred.Uid, r.code, r.stderr, want)
			}
			if after := d.fingerprint(t, out); after != before {
				t.Fatalf("the refused request changed something:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
	// What a member may do still works, and runs no hook of its own.
	for _, cred := range []*syscall.Credential{asMember, asSupMember} {
		if r := d.vmrepAs(t, cred, "snapshot", "create", "web"); r.code != 0 {
			t.Fatalf("snapshot create as uid %d: exit %d, %s", cred.Uid, r.code, r.stderr)
		}
		if r := d.vmrepAs(t, cred, "vg", "show", "web"); r.code != 0 {
			t.Fatalf("vg show as uid %d: exit %d, %s", cred.Uid, r.code, r.stderr)
		}
	}
	d.vmrepAs(t, asMember, "snapshot", "create", "p")
	if _, err := os.Stat(hookRan); err == nil {
		t.Fatal("a member's hook ran")
	}
	if ents, _ := os.ReadDir(private); len(ents) != 0 {
		t.Fatalf("the root-only directory holds %v", ents)
	}
}
