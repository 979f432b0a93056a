package nbd

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Target is where an export is served: a network ("unix" or "tcp"), an
// address and the export's name.
type Target struct {
	Network, Addr, Export string
}

// DefaultPort is the NBD port IANA assigned.
const DefaultPort = "10809"

// IsURI reports whether s is an NBD URI (nbd://, nbd+unix://); it says
// nothing of whether it parses.
func IsURI(s string) bool {
	return strings.HasPrefix(s, "nbd://") || strings.HasPrefix(s, "nbd+unix://")
}

// ParseURI reads the standard NBD URIs: nbd://HOST[:PORT]/EXPORT and
// nbd+unix:///EXPORT?socket=PATH. TLS (nbds) is not supported.
func ParseURI(s string) (Target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, fmt.Errorf("nbd uri %q: %w", s, err)
	}
	export := strings.TrimPrefix(u.Path, "/")
	if len(export) > maxName {
		return Target{}, fmt.Errorf("nbd uri %q: export name longer than %d bytes", s, maxName)
	}
	q := u.Query()
	switch u.Scheme {
	case "nbd":
		if u.Host == "" {
			return Target{}, fmt.Errorf("nbd uri %q: no host (want nbd://HOST[:PORT]/EXPORT)", s)
		}
		if len(q) > 0 {
			return Target{}, fmt.Errorf("nbd uri %q: unexpected query %q", s, u.RawQuery)
		}
		host, port := u.Hostname(), u.Port()
		if port == "" {
			port = DefaultPort
		}
		return Target{Network: "tcp", Addr: net.JoinHostPort(host, port), Export: export}, nil
	case "nbd+unix":
		if u.Host != "" {
			return Target{}, fmt.Errorf("nbd uri %q: a unix socket URI has no host (want nbd+unix:///EXPORT?socket=PATH)", s)
		}
		sock := q.Get("socket")
		if sock == "" || len(q) != 1 || len(q["socket"]) != 1 {
			return Target{}, fmt.Errorf("nbd uri %q: want exactly one query parameter socket=PATH", s)
		}
		if !strings.HasPrefix(sock, "/") {
			return Target{}, fmt.Errorf("nbd uri %q: socket path %q is not absolute", s, sock)
		}
		return Target{Network: "unix", Addr: sock, Export: export}, nil
	}
	return Target{}, fmt.Errorf("nbd uri %q: scheme %q not supported (want nbd or nbd+unix)", s, u.Scheme)
}

// URI writes t back as a URI, with export in place of t's own when set.
func (t Target) URI() string {
	if t.Network == "unix" {
		return "nbd+unix:///" + t.Export + "?socket=" + url.QueryEscape(t.Addr)
	}
	return "nbd://" + t.Addr + "/" + t.Export
}
