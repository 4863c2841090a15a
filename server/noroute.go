package server

import (
	"fmt"
	"net/http"
	"strings"
)

// routeMethods are the methods a route may be registered for.
var routeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch}

// noRoute answers requests no route takes: 405 with Allow when the path
// exists under other methods, else 404. The catch-all "/" pattern would
// otherwise hide the mux's own 405.
func noRoute(mux *http.ServeMux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range routeMethods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("Method %s not allowed here; use %s", r.Method, strings.Join(allow, ", ")))
			return
		}
		writeError(w, r, http.StatusNotFound, fmt.Sprintf("No route %s %s", r.Method, clip(r.URL.Path)))
	}
}

// clip bounds a user-supplied value echoed in an error message.
func clip(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	return s[:most] + "…"
}
