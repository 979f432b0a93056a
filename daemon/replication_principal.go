package daemon

import (
	"context"
	"net/http"
)

// ReplScope is what a replication token may do. Scopes are ordered:
// admin includes replicate, replicate includes read.
type ReplScope string

const (
	ScopeRead      ReplScope = "read"      // ask what the server holds
	ScopeReplicate ReplScope = "replicate" // push VG records, blobs and snapshots
	ScopeAdmin     ReplScope = "admin"     // materialize into block storage, and the above
)

// rank orders scopes; an unknown scope ranks below read.
func (s ReplScope) rank() int {
	switch s {
	case ScopeRead:
		return 1
	case ScopeReplicate:
		return 2
	case ScopeAdmin:
		return 3
	}
	return 0
}

// Allows says whether a token of scope s may do what need requires.
func (s ReplScope) Allows(need ReplScope) bool {
	return s.rank() > 0 && s.rank() >= need.rank()
}

// DefaultTenancy is the tenancy of a server's own store: the one a
// single --token-file token reaches.
const DefaultTenancy = ""

// principal is who a replication request authenticated as: the tenancy
// its token belongs to and what the token may do. The listener's
// authentication sets it; handlers read it with principalOf.
type principal struct {
	Tenancy string
	Scope   ReplScope
	TokenID string // the token's public ID, for logs; empty for the legacy token
}

type principalKey struct{}

func withPrincipal(ctx context.Context, p principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// principalOf returns the request's principal. A request that reached a
// handler was authenticated, so a missing one is a programming error and
// gets no rights at all.
func principalOf(r *http.Request) principal {
	p, _ := r.Context().Value(principalKey{}).(principal)
	return p
}
