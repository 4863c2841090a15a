package server

import (
	"encoding/json"
	"net/http"

	"github.com/google/uuid"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/api/validate"
)

// writeJSON answers with a JSON body.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers 401/402/403/404/429/5xx in the contract's shape.
func writeError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	writeJSON(w, code, api.Error{RequestID: requestID(r), Message: msg})
}

// writeInvalid answers 400 with the failing fields (413 for a body over
// the size limit).
func writeInvalid(w http.ResponseWriter, errs []api.FieldError) {
	code := http.StatusBadRequest
	if len(errs) == 1 && errs[0] == validate.ErrBodyTooLarge {
		code = http.StatusRequestEntityTooLarge
	}
	writeJSON(w, code, api.ValidationError{Message: "Invalid request", Errors: errs})
}

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyAuth
)

func requestID(r *http.Request) string {
	if id, ok := r.Context().Value(keyRequestID).(string); ok {
		return id
	}
	return uuid.NewString()
}
