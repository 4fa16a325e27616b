package ingest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// FuzzCaptureV1 checks that the capture v1 parser never panics, refuses a
// body only as malformed, never refuses one encoding/json takes as valid
// for a reason of syntax, and answers one verdict slot per event.
func FuzzCaptureV1(f *testing.F) {
	ev := `{"event":"message","uuid":"0190a2b3-c4d5-7e6f-8a9b-000000000001","distinct_id":"u1","timestamp":"2026-01-10T09:30:00Z","options":{"disable_skew_correction":1},"properties":{"assistant":"chatgpt","channel":"web","$lib":"x"}}`
	for _, s := range []string{
		`{"created_at":"2026-01-10T09:30:00Z","batch":[` + ev + `]}`,
		`{"batch":[` + ev + `,{"event":"$pageview","uuid":"0190A2B3C4D57E6F8A9B000000000002","distinct_id":7,"timestamp":"x","properties":[]}]}`,
		`{"batch":[1,{}]}`, `{"batch":null}`, `{"batch":[]}`, `[]`, `{}`, `{"batch":[{"uuid":"a"}]}`, `{"batch":[{"options":"x","uuid":"0190a2b3-c4d5-7e6f-8a9b-000000000003"}]}`,
	} {
		f.Add([]byte(s))
	}
	m, err := NewSDKMapper(SDKConfig{})
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 1, 10, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := m.ParseCaptureV1(data, CaptureV1Meta{ClientTime: now, Library: "posthog-go"}, now)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("%q: %v is not ErrMalformed", data, err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("%q: taken, but not valid JSON", data)
		}
		if len(b.UUIDs) != b.Messages || len(b.Status) != b.Messages || len(b.Inputs) != len(b.Lines) {
			t.Fatalf("%q: %d uuids, %d verdicts, %d messages", data, len(b.UUIDs), len(b.Status), b.Messages)
		}
		for i, line := range b.Lines {
			if line < 1 || line > b.Messages || b.Status[line-1].Result != "" {
				t.Fatalf("%q: input %d at line %d with a verdict %v", data, i, line, b.Status)
			}
		}
	})
}
