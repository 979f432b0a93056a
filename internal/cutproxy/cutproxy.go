// Package cutproxy is a TCP proxy for tests that cuts connections after a
// budget of client bytes: a connection dropped in the middle of a
// transfer. It imports nothing of the project.
package cutproxy

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections to a target and, once armed, cuts
// every connection after a budget of bytes from the client, calling onCut
// first (to kill the server instead).
type Proxy struct {
	ln net.Listener
	mu struct {
		sync.Mutex
		target string
		budget int64 // client bytes still allowed; < 0: no limit
		conns  []net.Conn
		cut    bool
		onCut  func()
		bytes  int64 // client bytes passed on, all connections
	}
}

// Bytes is how many client bytes the proxy has passed on.
func (p *Proxy) Bytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.bytes
}

// New starts a proxy to target on a loopback port; it closes with t.
func New(t testing.TB, target string) *Proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln}
	p.mu.target, p.mu.budget = target, -1
	t.Cleanup(func() { ln.Close(); p.CloseAll() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

// Addr is where clients connect.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Arm cuts after budget more client bytes, calling onCut (if any) first.
func (p *Proxy) Arm(budget int64, onCut func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.budget, p.mu.cut, p.mu.onCut = budget, false, onCut
}

// Disarm lets everything through to target from now on, and reports
// whether a cut happened since arm (its onCut has returned).
func (p *Proxy) Disarm(target string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	cut := p.mu.cut
	p.mu.budget, p.mu.cut, p.mu.onCut, p.mu.target = -1, false, nil, target
	return cut
}

// CloseAll closes every connection open through the proxy.
func (p *Proxy) CloseAll() {
	p.mu.Lock()
	conns := p.mu.conns
	p.mu.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func (p *Proxy) serve(c net.Conn) {
	p.mu.Lock()
	target := p.mu.target
	if p.mu.cut {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.mu.conns = append(p.mu.conns, c)
	p.mu.Unlock()
	up, err := net.Dial("tcp", target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.mu.conns = append(p.mu.conns, up)
	p.mu.Unlock()
	go func() { io.Copy(c, up); c.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			p.mu.Lock()
			if p.mu.cut {
				p.mu.Unlock()
				break
			}
			pass, cut := n, false
			if p.mu.budget >= 0 {
				pass = int(min(int64(n), p.mu.budget))
				p.mu.budget -= int64(pass)
				cut = p.mu.budget == 0
			}
			p.mu.bytes += int64(pass)
			if cut {
				// Under the lock, so that disarm sees the kill done.
				p.mu.cut = true
				up.Write(buf[:pass])
				if p.mu.onCut != nil {
					p.mu.onCut()
				}
				p.mu.Unlock()
				p.CloseAll()
				return
			}
			p.mu.Unlock()
			if _, werr := up.Write(buf[:pass]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	up.Close()
	c.Close()
}
