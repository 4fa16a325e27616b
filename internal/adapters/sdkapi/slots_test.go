package sdkapi_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

// TestBodiesWaitForADecodingSlot: the SDK endpoints read their bodies in
// the pipeline's decoding slots, as POST /v1/events does. With every slot
// held, both families get 503 with Retry-After once the wait is over, and
// nothing is stored; with a slot free again the same bodies are stored.
func TestBodiesWaitForADecodingSlot(t *testing.T) {
	s := chtest.NewStore(t)
	in := start(t, s, ingest.Config{DecodeWait: 200 * time.Millisecond}, ingest.SDKConfig{})
	n := in.p.DecodeSlots()
	held := make(chan struct{}, n)
	release := make(chan struct{})
	done := make(chan error, n)
	for range n {
		go func() {
			done <- in.p.WithDecodeSlot(context.Background(), func() error {
				held <- struct{}{}
				<-release
				return nil
			})
		}()
	}
	for range n {
		<-held
	}
	bodies := []struct {
		path, body string
		hdr        map[string]string
	}{
		{"/batch", fmt.Sprintf(`{"api_key":%q,"batch":[{"event":"message","distinct_id":"u1","uuid":"slot-1","properties":{"assistant":"chatgpt","channel":"web"}}]}`, key), nil},
		{"/v1/track", `{"event":"message","userId":"u2","messageId":"slot-2","properties":{"assistant":"chatgpt","channel":"ios"}}`, basic(key)},
	}
	for _, c := range bodies {
		start := time.Now()
		a := in.post(t, c.path, []byte(c.body), c.hdr)
		waited := time.Since(start)
		if a.status != 503 || a.header.Get("Retry-After") == "" {
			t.Fatalf("%s with every slot held: %d %v %s", c.path, a.status, a.header, a.raw)
		}
		if ra, _ := strconv.Atoi(a.header.Get("Retry-After")); ra < 1 {
			t.Errorf("%s: Retry-After %q", c.path, a.header.Get("Retry-After"))
		}
		if waited < 200*time.Millisecond {
			t.Errorf("%s answered after %s, before the decoding wait of 200ms", c.path, waited)
		}
	}
	if got := rows(t, s); len(got) != 0 {
		t.Fatalf("stored while refused: %v", got)
	}
	close(release)
	for range n {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range bodies {
		if a := in.post(t, c.path, []byte(c.body), c.hdr); a.status != 200 {
			t.Fatalf("%s with the slots free: %d %s", c.path, a.status, a.raw)
		}
	}
	got := rows(t, s)
	if len(got) != 2 || got["slot-1"].Channel != "web" || got["slot-2"].Channel != "ios" {
		t.Errorf("stored %v", got)
	}
}
