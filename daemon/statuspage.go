package daemon

import (
	"html/template"
	"net/http"
)

var statusPageTmpl = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>vmrepd status</title></head><body>
<h1>vmrepd</h1>
{{range .VGs}}<section class="vg" id="vg-{{.Name}}"><h2>{{.Name}}</h2>
<p>last snapshot: {{with .LastSnapshot}}{{.Name}} ({{.Created.Format "2006-01-02 15:04:05Z07:00"}}){{else}}none{{end}}</p>
</section>{{else}}<p>no volume groups</p>{{end}}
</body></html>
`))

// statusPage is the read-only status page at / of the monitoring listener.
func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	vgs, err := s.cat.ListVGs(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	rep, err := s.status(r.Context(), vgs)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	statusPageTmpl.Execute(w, rep)
}
