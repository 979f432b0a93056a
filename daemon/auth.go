package daemon

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vmrep/vmrep/api"
)

type peerKey struct{}

// peer is who is on the other end of a connection, as the kernel says.
type peer struct {
	cred *unix.Ucred
	err  error
}

// connContext records the peer's credentials when a connection is accepted,
// once per connection rather than per request.
func connContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return context.WithValue(ctx, peerKey{}, peer{err: fmt.Errorf("not a unix socket connection")})
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return context.WithValue(ctx, peerKey{}, peer{err: err})
	}
	var p peer
	if err := raw.Control(func(fd uintptr) {
		p.cred, p.err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		p.err = err
	}
	return context.WithValue(ctx, peerKey{}, p)
}

type authorizer struct {
	allowGroup int
	log        *slog.Logger
}

// middleware lets through root, the daemon's own uid (admins) and members
// of the allowed group, recording which in the request's context for the
// route's own check (privilege.go); anyone else gets 403 and a warning in
// the log.
func (a authorizer) middleware(next http.Handler) http.Handler {
	self := os.Getuid()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := r.Context().Value(peerKey{}).(peer)
		if p.cred == nil {
			a.log.Warn("refused request: peer credentials unknown", "path", r.URL.Path, "err", p.err)
			writeError(w, api.Errorf(api.CodeForbidden, "cannot tell who is calling: %v", p.err))
			return
		}
		uid := int(p.cred.Uid)
		c := caller{uid: uid, gid: int(p.cred.Gid), admin: uid == 0 || uid == self}
		if c.admin || a.inGroup(p.cred) {
			next.ServeHTTP(w, r.WithContext(withCaller(r.Context(), c)))
			return
		}
		a.log.Warn("refused request from a uid that is not allowed", "uid", uid, "gid", p.cred.Gid, "pid", p.cred.Pid, "method", r.Method, "path", r.URL.Path)
		writeError(w, api.Errorf(api.CodeForbidden, "uid %d is not allowed to use this daemon", uid))
	})
}

// inGroup reports whether the peer has the allowed group as its primary or
// a supplementary group; SO_PEERCRED gives only the primary one, so the
// rest come from the peer process's status file.
func (a authorizer) inGroup(c *unix.Ucred) bool {
	if a.allowGroup < 0 {
		return false
	}
	if int(c.Gid) == a.allowGroup {
		return true
	}
	f, err := os.Open("/proc/" + strconv.Itoa(int(c.Pid)) + "/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Groups:")
		if !ok {
			continue
		}
		for _, g := range strings.Fields(rest) {
			if n, err := strconv.Atoi(g); err == nil && n == a.allowGroup {
				return true
			}
		}
	}
	return false
}
