package daemon

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/vmrep/vmrep/engine/replica"
)

// tenantHandler is a replication endpoint: it works on the request's
// tenant, never on the Server's store.
type tenantHandler func(w http.ResponseWriter, r *http.Request, t *tenant) error

// serveTenant finds the tenant of the request's principal and runs h on
// it. A principal of a tenancy this server does not host is refused with
// the answer of a bad token, so a token says nothing about which
// tenancies exist.
func (rs *ReplicationServer) serveTenant(h tenantHandler) http.HandlerFunc {
	return rs.serve(func(w http.ResponseWriter, r *http.Request) error {
		p := principalOf(r)
		t, ok := rs.tenants[p.Tenancy]
		if !ok {
			rs.refuse(w, r, fmt.Sprintf("token %s names tenancy %q, which this server does not host", p.TokenID, p.Tenancy))
			return nil
		}
		return h(w, r, t)
	})
}

// authenticateWith lets through the requests auth gives a principal, with
// that principal; the others get the answer of a bad token.
func (rs *ReplicationServer) authenticateWith(auth func(*http.Request) (principal, bool), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth(r)
		if !ok {
			rs.refuse(w, r, "refused by the test authentication hook")
			return
		}
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

// tenantRoots builds the listener's tenants: the default one on the
// server's store and replica root, and each hosted tenancy with its own
// replica root (its configured one, else the directory named after it
// under the listener's replica root; none when neither is set).
func (rs *ReplicationServer) tenantRoots() (map[string]*tenant, error) {
	out := map[string]*tenant{DefaultTenancy: rs.s.defaultTenant(rs.root)}
	for _, name := range rs.s.tenancyNames() {
		t := *rs.s.tenancies[name]
		root := t.cfgRoot
		if root == "" && rs.root != "" {
			root = filepath.Join(rs.root, name)
			// A replica of the default tenancy named like the tenancy
			// would become the tenancy's.
			if _, err := os.Stat(filepath.Join(root, replica.StateName)); err == nil {
				return nil, fmt.Errorf("replication listener: %s is a replica of the server's own store; tenancy %s needs another replica_root", root, name)
			}
		}
		if root != "" {
			if err := os.MkdirAll(root, 0o750); err != nil {
				return nil, fmt.Errorf("replication listener: replica root of tenancy %s: %w", name, err)
			}
			real, err := realPath(root)
			if err != nil {
				return nil, fmt.Errorf("replication listener: replica root of tenancy %s: %w", name, err)
			}
			root = real
		}
		t.root = root
		out[name] = &t
	}
	return out, nil
}

// othersRoot says whether path lies in the replica root of a tenant other
// than t that does not hold t's own: the default replica root holds the
// hosted tenancies' roots, and the default tenancy must not write into
// them.
func (rs *ReplicationServer) othersRoot(t *tenant, path string) bool {
	for _, o := range rs.tenants {
		if o != t && o.root != "" && within(path, o.root) && !within(t.root, o.root) {
			return true
		}
	}
	return false
}
