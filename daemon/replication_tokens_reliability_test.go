package daemon

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/reliability"
	"github.com/vmrep/vmrep/internal/tokens"
)

// TestReliabilityTokenTiming: refusals of an unknown token ID, a known ID
// with a wrong secret, an expired and a revoked token and a malformed
// token, interleaved, through the listener's handler: each goes through
// exactly one hash-and-compare (always: this is what catches an early
// return on a miss, since one SHA-256 is a few percent of a refusal), and
// under VMREP_RELIABILITY=full their median times differ by less than half
// (a generous bound a loaded box does not break; it catches gross
// differences, such as a miss that rereads the store or sleeps).
func TestReliabilityTokenTiming(t *testing.T) {
	res := reliability.Start(t, "token check timing", "refusals of unknown, wrong, expired, revoked and malformed tokens take one hash-and-compare each and the same time")
	tl := newTokenListener(t)
	n := reliability.Size(200, 20000)
	res.Size = fmt.Sprintf("%d requests of each kind", n)
	unknown, _, _ := tokens.New()
	id, _, _ := tokens.Parse(tl.tokens["acme-admin"])
	kinds := []struct{ name, tok string }{
		{"unknown id", unknown},
		{"wrong secret", tokens.Prefix + id + "_" + strings.Repeat("0", 64)},
		{"expired", tl.tokens["acme-expired"]},
		{"revoked", tl.tokens["acme-revoked"]},
		{"malformed", "vmrep_not_a_token"},
	}
	times := make([][]time.Duration, len(kinds))
	h := tl.rs.httpSrv.Handler
	extra := 0
	for i := 0; i < n; i++ {
		for k, kind := range kinds {
			req := httptest.NewRequest(http.MethodPost, api.ReplMissingPath, nil)
			req.Header.Set("Authorization", "Bearer "+kind.tok)
			rec := httptest.NewRecorder()
			before := tokens.CompareCount()
			start := time.Now()
			h.ServeHTTP(rec, req)
			times[k] = append(times[k], time.Since(start))
			if c := tokens.CompareCount() - before; c != 1 || rec.Code != http.StatusUnauthorized {
				extra++
				t.Errorf("%s: %d compares, status %d", kind.name, c, rec.Code)
			}
		}
	}
	res.Bad["requests not taking exactly one compare"] = extra
	medians := make([]time.Duration, len(kinds))
	for k := range kinds {
		slices.Sort(times[k])
		medians[k] = times[k][len(times[k])/2]
		res.Figures["median "+kinds[k].name] = medians[k].String()
	}
	lo, hi := slices.Min(medians), slices.Max(medians)
	res.Figures["max/min median"] = fmt.Sprintf("%.2f", float64(hi)/float64(lo))
	t.Logf("medians: %v", res.Figures)
	if reliability.Full() && float64(hi) > 1.5*float64(lo) {
		res.Bad["kinds whose median differs by half or more"] = 1
		t.Errorf("median refusal times differ: %v", res.Figures)
	}
}
