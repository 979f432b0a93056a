package daemon

import (
	"crypto/sha256"
	"net/http"
	"strings"
)

// HTTPHandler serves the monitoring listener (vmrepd --http): /metrics in
// the Prometheus text format and the read-only status page at /. Nothing
// on it changes anything. With a token, every request must present it,
// as a bearer token (Prometheus' authorization) or as the password of
// HTTP basic authentication (a browser's prompt; any user name).
func (s *Server) HTTPHandler(token string) http.Handler {
	m := http.NewServeMux()
	m.Handle("GET /metrics", s.metricsHandler())
	m.HandleFunc("GET /{$}", s.statusPage)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not found: this listener serves / and /metrics, read-only", http.StatusNotFound)
	})
	if token == "" {
		return m
	}
	sum := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !presents(r, sum) {
			w.Header().Set("WWW-Authenticate", `Basic realm="vmrepd", charset="UTF-8"`)
			http.Error(w, "unauthorized: this listener needs the token of vmrepd --http-token-file", http.StatusUnauthorized)
			return
		}
		m.ServeHTTP(w, r)
	})
}

// presents says whether r carries the token whose SHA-256 is sum, as a
// bearer token or a basic-auth password, checked as the replication
// listener checks its own (tokenMatches).
func presents(r *http.Request, sum [sha256.Size]byte) bool {
	got := ""
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = tok
	} else if _, pw, ok := r.BasicAuth(); ok {
		got = pw
	}
	return got != "" && tokenMatches(got, sum)
}
