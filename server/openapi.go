package server

import (
	_ "embed"
	"net/http"
)

// openAPIDoc describes every route; schemathesis and the tests check the
// real responses against it.
//
//go:embed openapi.json
var openAPIDoc []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDoc)
}
