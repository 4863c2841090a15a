package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// schemathesis generates requests from /openapi.json (coverage, fuzzing and
// stateful phases) and checks every answer: no 5xx, status codes, headers and
// bodies as documented.
func TestOpenAPIWithSchemathesis(t *testing.T) {
	py := python(t, "schemathesis")
	data := t.TempDir()
	env := []string{"WHOSPOKE_DATA=" + data}
	key := createKey(t, env)
	n := serve(t, env, "--submit-limit", "-1", "--poll-limit", "-1")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	st := filepath.Join(filepath.Dir(py), "schemathesis")
	out, err := run(ctx, t, st, "run", n.URL+"/openapi.json",
		"-H", "Authorization: Bearer "+key,
		"-c", "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance",
		"-n", "40", "--generation-deterministic", "--request-timeout", "30")
	if err != nil {
		t.Fatalf("schemathesis: %v\n%s\nserver:\n%s", err, out, n.Logs())
	}
	t.Logf("schemathesis:\n%s", tail(out, 30))
}

func tail(s string, lines int) string {
	n := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			n++
			if n > lines {
				return s[i+1:]
			}
		}
	}
	return s
}
