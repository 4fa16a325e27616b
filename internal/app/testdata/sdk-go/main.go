// Command send sends 30 events (10 people) with posthog-go in
// CaptureModeAnalyticsV1 to the AdoptScope instance at $ADOPTSCOPE_URL,
// key $ADOPTSCOPE_KEY, then the same 30 events again (same uuids) from a
// second client, and prints one JSON line: the errors the SDK reported and
// how many events it took as delivered. Driven by
// internal/app/sdk_capturev1_test.go; a module of its own, so that the
// product's go.mod does not gain the SDK.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/posthog/posthog-go"
)

type callback struct {
	mu        sync.Mutex
	errors    []string
	delivered int
}

func (c *callback) Success(posthog.APIMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.delivered++
}

func (c *callback) Failure(_ posthog.APIMessage, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errors = append(c.errors, err.Error())
}

func (c *callback) outcomes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.delivered + len(c.errors)
}

func main() {
	url, key, run := os.Getenv("ADOPTSCOPE_URL"), os.Getenv("ADOPTSCOPE_KEY"), os.Getenv("ADOPTSCOPE_RUN")
	cb := &callback{}
	assistants := []string{"chatgpt", "copilot", "meta_ai", "perplexity"}
	channels := []string{"web", "ios", "whatsapp"}
	retries := 3
	for send := 0; send < 2; send++ {
		c, err := posthog.NewWithConfig(key, posthog.Config{
			Endpoint:           url,
			CaptureMode:        posthog.CaptureModeAnalyticsV1,
			Compression:        posthog.CompressionZstd,
			BatchSize:          100,
			Interval:           200 * time.Millisecond,
			MaxRetries:         &retries,
			BatchUploadTimeout: 20 * time.Second,
			Callback:           cb,
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for i := 0; i < 30; i++ {
			err := c.Enqueue(posthog.Capture{
				Uuid:       uuid.NewSHA1(uuid.NameSpaceURL, []byte(fmt.Sprintf("adoptscope-test/%s/%d", run, i))).String(),
				DistinctId: fmt.Sprintf("go-person-%d-%s", i%10, run),
				Event:      "Message Sent",
				Properties: posthog.NewProperties().
					Set("ai_product", assistants[i%4]).
					Set("channel", channels[i%3]).
					Set("count", i%5+1),
			})
			if err != nil {
				cb.Failure(nil, err)
			}
		}
		// Close stops the retries of a batch in flight: wait for every
		// event's outcome first.
		for deadline := time.Now().Add(60 * time.Second); cb.outcomes() < 30*(send+1) && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		if err := c.Close(); err != nil {
			cb.Failure(nil, err)
		}
	}
	out, _ := json.Marshal(map[string]any{"sdk": "posthog-go", "errors": cb.errors, "delivered": cb.delivered})
	fmt.Println(string(out))
}
