package daemon

import (
	"fmt"
	"net/http"

	"github.com/vmrep/vmrep/api"
)

// listTenancies shows the operator each hosted tenancy's usage, quota and
// how many VGs and snapshots it holds; names only, nothing of their data.
func (s *Server) listTenancies(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	res := api.TenanciesResult{Tenancies: []api.Tenancy{}}
	for _, name := range s.tenancyNames() {
		t := s.tenancies[name]
		used, err := t.usage(ctx)
		if err != nil {
			return fmt.Errorf("tenancy %s: %w", name, err)
		}
		vgs, err := t.cat.ListVGs(ctx)
		if err != nil {
			return fmt.Errorf("tenancy %s: %w", name, err)
		}
		a := api.Tenancy{Name: name, StoredBytes: used, VGs: len(vgs)}
		if t.quota != nil {
			a.QuotaBytes = t.quota.limit
		}
		for _, vg := range vgs {
			snaps, err := t.cat.ListSnapshots(ctx, vg.ID)
			if err != nil {
				return fmt.Errorf("tenancy %s: %w", name, err)
			}
			a.Snapshots += len(snaps)
		}
		res.Tenancies = append(res.Tenancies, a)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
