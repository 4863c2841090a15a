package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/whospoke/whospoke/internal/testenv"
)

// The official pyannoteAI client works against whospoke unchanged but for
// its base URL: upload, diarize, retrieve, voiceprint, identify.
func TestPyannoteAISDK(t *testing.T) {
	py := python(t, "pyannoteai.sdk")
	dev := testenv.DevSet(t)
	data := t.TempDir()
	env := []string{"WHOSPOKE_DATA=" + data}
	key := createKey(t, env)
	n := serve(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := run(ctx, t, py, "testdata/sdk_compat.py", n.URL, key, sampleWAV(t),
		dev+"/speakers/ls_1688/1688-142285-0000.wav", dev+"/speakers/ls_1688/1688-142285-0003.wav")
	if err != nil {
		t.Fatalf("sdk: %v\n%s\nserver:\n%s", err, out, n.Logs())
	}
	t.Logf("sdk: %s", out)
}
