package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/volume"
)

// TestAnswerError checks the one place handler errors become answers: a
// handler's own *api.Error as it stands, anything else mapped to a code.
func TestAnswerError(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	rs := &ReplicationServer{s: s}
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
		msg    string
	}{
		{"own error", api.Errorf(api.CodeInvalid, "bad %s", "thing"), http.StatusBadRequest, api.CodeInvalid, "bad thing"},
		{"own not found", api.Errorf(api.CodeNotFound, "no job"), http.StatusNotFound, api.CodeNotFound, "no job"},
		{"wrapped api error", fmt.Errorf("step: %w", api.Errorf(api.CodeBusy, "busy")), http.StatusConflict, api.CodeBusy, "busy"},
		{"canceled", fmt.Errorf("reading: %w", context.Canceled), http.StatusConflict, api.CodeCanceled, "reading: context canceled"},
		{"internal", errors.New("disk on fire"), http.StatusInternalServerError, api.CodeInternal, "disk on fire"},
		{"conflict", fmt.Errorf("delete: %w", volume.ErrHasSnapshots), http.StatusConflict, api.CodeConflict, ""},
	} {
		for _, srv := range []struct {
			name  string
			serve func(handlerFunc) http.HandlerFunc
		}{{"socket", s.serve}, {"replication", rs.serve}} {
			t.Run(tc.name+"/"+srv.name, func(t *testing.T) {
				h := srv.serve(func(http.ResponseWriter, *http.Request) error { return tc.err })
				w := httptest.NewRecorder()
				h(w, httptest.NewRequest("POST", "/v1/x", nil))
				var e api.Error
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
					t.Fatalf("body %q: %v", w.Body, err)
				}
				if w.Code != tc.status || e.Code != tc.code || (tc.msg != "" && e.Message != tc.msg) {
					t.Errorf("got %d %+v, want %d %s %q", w.Code, e, tc.status, tc.code, tc.msg)
				}
			})
		}
	}
	// A handler that answers itself and returns nil is left alone.
	w := httptest.NewRecorder()
	s.serve(func(w http.ResponseWriter, _ *http.Request) error { w.WriteHeader(http.StatusNoContent); return nil })(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Errorf("nil error: %d %q", w.Code, w.Body)
	}
}
