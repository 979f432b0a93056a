package daemon

import (
	"crypto/subtle"
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !presents(r, token) {
			w.Header().Set("WWW-Authenticate", `Basic realm="vmrepd", charset="UTF-8"`)
			http.Error(w, "unauthorized: this listener needs the token of vmrepd --http-token-file", http.StatusUnauthorized)
			return
		}
		m.ServeHTTP(w, r)
	})
}

// presents says whether r carries token, compared in constant time.
func presents(r *http.Request, token string) bool {
	got := ""
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		got = strings.TrimPrefix(h, "Bearer ")
	} else if _, pw, ok := r.BasicAuth(); ok {
		got = pw
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}
