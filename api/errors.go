package api

import (
	"fmt"
	"net/http"
)

// Error codes.
const (
	CodeNotFound  = "not_found"
	CodeExists    = "exists"
	CodeInvalid   = "invalid"
	CodeBusy      = "busy"
	CodeForbidden = "forbidden"
	CodeTooLarge  = "too_large"
	CodeConflict  = "conflict"
	CodeCorrupt   = "corrupt"
	CodeInternal  = "internal"
	// CodeReadOnly: the store cannot be written (a full or read-only
	// file system) until space is freed and vmrepd restarts.
	CodeReadOnly = "read_only"
	// CodeCanceled: the job or request was canceled, by its caller or by
	// the daemon shutting down. 409, as for other work the daemon's state
	// stopped: nothing went wrong inside it.
	CodeCanceled = "canceled"
)

// Error is the body of every error response and the error of failed jobs.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Status is the HTTP status that goes with an error code.
func Status(code string) int {
	switch code {
	case CodeNotFound:
		return http.StatusNotFound
	case CodeExists, CodeBusy, CodeConflict, CodeReadOnly, CodeCanceled:
		return http.StatusConflict
	case CodeInvalid:
		return http.StatusBadRequest
	case CodeForbidden:
		return http.StatusForbidden
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20
