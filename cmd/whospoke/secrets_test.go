package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestMain lets a test run the CLI itself as a child process.
func TestMain(m *testing.M) {
	if os.Getenv("WHOSPOKE_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestHelpHidesSecrets sets every credential-bearing variable and checks
// that no command's --help prints one (flag defaults used to).
func TestHelpHidesSecrets(t *testing.T) {
	// Each value carries a token found nowhere else in the help text.
	secrets := map[string]string{
		"WHOSPOKE_MEDIA_SECRET": "tok1-media-secret-0123456789",
		"WHOSPOKE_POSTGRES":     "postgres://u:tok2-pg@db/whospoke",
		"WHOSPOKE_NATS":         "nats://u:tok3-nats@nats:4222",
		"WHOSPOKE_S3":           "s3://AKIA:tok4-s3@minio:9000/bucket",
		"WHOSPOKE_API_KEY":      "wsk_tok5-key",
		"WHOSPOKE_URL":          "http://u:tok6-url@host",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(rootCmd, nil)
	if len(paths) < 5 {
		t.Fatalf("found only %d commands", len(paths))
	}
	for _, p := range paths {
		// A child process: flag defaults are set when the program starts,
		// so only a fresh process sees the environment above.
		cmd := exec.Command(os.Args[0], append(p, "--help")...)
		cmd.Env = append(os.Environ(), "WHOSPOKE_TEST_RUN_MAIN=1")
		b, err := cmd.CombinedOutput()
		out := string(b)
		if err != nil {
			t.Fatalf("%v --help: %v", p, err)
		}
		if !strings.Contains(out, "Usage:") {
			t.Fatalf("%v --help printed no usage: %q", p, out)
		}
		for k, v := range secrets {
			if tok := v[strings.Index(v, "tok"):][:4]; strings.Contains(out, tok) {
				t.Errorf("%v --help shows $%s (%q)", p, k, tok)
			}
		}
	}
}

// TestStartupErrorsHideSecrets starts `serve` against unreachable services
// whose URLs carry credentials: the error it exits with, and anything it
// logs on the way, name the service but never the password.
func TestStartupErrorsHideSecrets(t *testing.T) {
	for _, c := range []struct{ env, url, names string }{
		{"WHOSPOKE_NATS", "nats://u:tok3-nats@127.0.0.1:1", "NATS"},
		{"WHOSPOKE_POSTGRES", "postgres://u:tok2-pg@127.0.0.1:1/whospoke", "127.0.0.1:1"},
		{"WHOSPOKE_S3", "s3://AKIA:tok4-s3@127.0.0.1:1/bucket?ssl=false", "S3"},
	} {
		cmd := exec.Command(os.Args[0], "serve", "--addr", "127.0.0.1:0")
		cmd.Env = append(os.Environ(), "WHOSPOKE_TEST_RUN_MAIN=1", "WHOSPOKE_DATA="+t.TempDir(),
			"WHOSPOKE_MEDIA_SECRET=tok1-media-secret-0123456789", c.env+"="+c.url)
		b, err := cmd.CombinedOutput()
		out := string(b)
		if err == nil || !strings.Contains(out, c.names) {
			t.Errorf("serve with unreachable $%s: %v, %q", c.env, err, out)
		}
		for _, tok := range []string{"tok1", c.url[strings.Index(c.url, "tok"):][:4]} {
			if strings.Contains(out, tok) {
				t.Errorf("serve with unreachable $%s printed %q: %s", c.env, tok, out)
			}
		}
	}
}
