package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// captureV1 posts one event with channel to PostHog's capture v1 endpoint
// of the running product and returns the status and the event's verdict.
func (p *rulesProduct) captureV1(t *testing.T, uuid, channel string) (int, string, string) {
	t.Helper()
	body := fmt.Sprintf(`{"created_at":%q,"batch":[{"event":"message","uuid":%q,"distinct_id":"u-%s","timestamp":%q,"properties":{"assistant":"chatgpt","channel":%q}}]}`,
		time.Now().UTC().Format(time.RFC3339), uuid, uuid, time.Now().UTC().Add(-time.Hour).Format(time.RFC3339), channel)
	req, _ := http.NewRequest(http.MethodPost, p.base+"/i/v1/analytics/events", bytes.NewReader([]byte(body)))
	req.Header.Set("Authorization", "Bearer "+rulesIngestToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var answer struct {
		Results map[string]struct{ Result, Details string }
	}
	if err := json.NewDecoder(res.Body).Decode(&answer); err != nil {
		t.Fatalf("capture v1 answer (%d %s): %v", res.StatusCode, res.Header.Get("Content-Type"), err)
	}
	v := answer.Results[uuid]
	return res.StatusCode, v.Result, v.Details
}
