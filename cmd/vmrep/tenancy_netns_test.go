package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// serverNetns is a network namespace for the rehearsal's replication
// server, joined to the test's by a veth pair: the server is then another
// host as far as TCP goes, reached only at its own address.
type serverNetns struct {
	name         string
	hostIP, nsIP string
	wrapper      string // runs vmrepd inside the namespace
}

// newServerNetns makes the namespace, or returns nil (and says why in the
// log) where it cannot be made; it is removed when the test ends.
func newServerNetns(t *testing.T) *serverNetns {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Log("no ip command: the replication server runs on loopback")
		return nil
	}
	id := rand.IntN(1 << 14) // 10.231.(id>>6).(id&63)*4 + 1, 2: a /30 each
	n := &serverNetns{name: fmt.Sprintf("vmrep-t%d", id),
		hostIP: fmt.Sprintf("10.231.%d.%d", id>>6, (id&63)*4+1), nsIP: fmt.Sprintf("10.231.%d.%d", id>>6, (id&63)*4+2)}
	host, peer := fmt.Sprintf("vmh%d", id), fmt.Sprintf("vmn%d", id)
	steps := [][]string{
		{"netns", "add", n.name},
		{"link", "add", host, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "netns", n.name},
		{"addr", "add", n.hostIP + "/30", "dev", host},
		{"link", "set", host, "up"},
		{"-n", n.name, "addr", "add", n.nsIP + "/30", "dev", peer},
		{"-n", n.name, "link", "set", peer, "up"},
		{"-n", n.name, "link", "set", "lo", "up"},
	}
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", host).Run()
		exec.Command("ip", "netns", "del", n.name).Run()
	})
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			t.Logf("ip %s: %v: %s; the replication server runs on loopback", strings.Join(s, " "), err, out)
			return nil
		}
	}
	n.wrapper = filepath.Join(t.TempDir(), "vmrepd-in-netns")
	script := fmt.Sprintf("#!/bin/sh\nexec ip netns exec %s %s \"$@\"\n", n.name, filepath.Join(binDir, "vmrepd"))
	if err := os.WriteFile(n.wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return n
}

// newDaemonIn starts a vmrepd inside the namespace.
func (n *serverNetns) newDaemonIn(t *testing.T, extra ...string) *testDaemon {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	d := &testDaemon{t: t, bin: n.wrapper, dir: dir, store: filepath.Join(dir, "store"),
		socket: filepath.Join(dir, "run", "vmrepd.sock"), extra: extra}
	d.start()
	t.Cleanup(d.stop)
	return d
}

// forward relays TCP connections made to the host's veth address to
// target (MinIO listens on the host's loopback only), until the test ends.
func (n *serverNetns) forward(t *testing.T, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", n.hostIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				done := make(chan struct{})
				go func() { io.Copy(u, c); u.(*net.TCPConn).CloseWrite(); close(done) }()
				io.Copy(c, u)
				c.(*net.TCPConn).CloseWrite()
				<-done
			}()
		}
	}()
	return ln.Addr().String()
}
