package ingestapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

// TestErrorTextsAreNotCorruptedByRedaction: the user id is hidden where a
// value is printed, never by replacing its text in the finished message.
func TestErrorTextsAreNotCorruptedByRedaction(t *testing.T) {
	s := chtest.NewStore(t)
	_, srv := newServer(t, s, ingest.Config{Now: func() time.Time { return fixedNow }})
	cases := []struct {
		name, line string
		want       []ingest.FieldError // Line filled below
	}{
		// Before: "must be an integer <user_id>-<user_id>000000".
		{"user id 1, bad count", line("r1", map[string]any{"user_id": `"1"`, "count": "0"}),
			[]ingest.FieldError{{Field: "count", Error: "0: must be an integer 1-1000000"}}},
		{"user id 1, too big a count", line("r2", map[string]any{"user_id": `"1"`, "count": "1000001"}),
			[]ingest.FieldError{{Field: "count", Error: "1000001: must be an integer 1-1000000"}}},
		// Before: "cod<us<user_id>r_id> in upp…".
		{"user id e, bad country", line("r3", map[string]any{"user_id": `"e"`, "country": `"fr"`}),
			[]ingest.FieldError{{Field: "country", Error: `"fr" is not an ISO 3166-1 alpha-2 code in upper case (for example FR)`}}},
		{"user id e, unknown event type", line("r4", map[string]any{"user_id": `"e"`, "event_type": `"click"`}),
			[]ingest.FieldError{{Field: "event_type", Error: `unknown event type "click" (known: account_linked, message, session_start, signup)`}}},
		// The user id itself put into another field is still hidden.
		{"phone number as the channel", line("r5", map[string]any{"user_id": `"+33612345678"`, "channel": `"+33612345678"`}),
			[]ingest.FieldError{{Field: "channel", Error: `holds the user_id value (<user_id>): want one of android, api, desktop, instagram, ios, messenger, phone, sms, telegram, web, whatsapp`}}},
		{"phone number as the time", line("r6", map[string]any{"user_id": `"+33612345678"`, "time": `"+33612345678"`}),
			[]ingest.FieldError{{Field: "time", Error: `<user_id> is not RFC 3339 with an offset (2026-01-15T09:30:00Z) or Unix milliseconds`}}},
		// Every field error of a line, in field order, decoding errors
		// first; the line is one rejected event.
		{"three bad fields", line("r7", map[string]any{"assistant": `"bard"`, "country": `"fr"`, "linked": `"yes"`}),
			[]ingest.FieldError{{Field: "linked", Error: "must be true or false, got a string"},
				{Field: "assistant", Error: `unknown assistant "bard" (known: chatgpt, copilot, meta_ai, perplexity)`},
				{Field: "country", Error: `"fr" is not an ISO 3166-1 alpha-2 code in upper case (for example FR)`}}},
	}
	var body strings.Builder
	var want []ingest.FieldError
	for i, c := range cases {
		body.WriteString(c.line + "\n")
		for _, fe := range c.want {
			fe.Line = i + 1
			want = append(want, fe)
		}
	}
	body.WriteString(line("ok", nil) + "\n")
	r := post(t, srv.URL, "application/x-ndjson", []byte(body.String()), nil)
	if r.body.Rejected != len(cases) || r.body.Accepted != 1 {
		t.Fatalf("%d rejected, %d accepted; want %d and 1: %s", r.body.Rejected, r.body.Accepted, len(cases), r.raw)
	}
	if fmt.Sprint(r.body.Errors) != fmt.Sprint(want) {
		t.Errorf("errors\n got %v\nwant %v", r.body.Errors, want)
	}
	// The phone number (a raw id) is nowhere in the answer.
	if strings.Contains(string(r.raw), "33612345678") {
		t.Errorf("raw user id in the answer: %s", r.raw)
	}
}

// TestAtMostTenErrorsPerLine: a line with more bad fields lists ten and
// counts one rejected event.
func TestAtMostTenErrorsPerLine(t *testing.T) {
	s := chtest.NewStore(t)
	_, srv := newServer(t, s, ingest.Config{Now: func() time.Time { return fixedNow }})
	bad := `{"event_id":5,"time":true,"assistant":1,"channel":2,"user_id":3,"event_type":4,"modality":6,"country":7,"count":"x","linked":"y","source":8}`
	r := post(t, srv.URL, "application/x-ndjson", []byte(bad+"\n"), nil)
	if r.body.Rejected != 1 || len(r.body.Errors) != ingest.MaxErrorsPerLine {
		t.Fatalf("rejected %d with %d errors, want 1 with %d: %s", r.body.Rejected, len(r.body.Errors), ingest.MaxErrorsPerLine, r.raw)
	}
	seen := map[string]bool{}
	for _, e := range r.body.Errors {
		if e.Line != 1 || seen[e.Field] {
			t.Errorf("error %+v: want distinct fields of line 1", e)
		}
		seen[e.Field] = true
	}
}
