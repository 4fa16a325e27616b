package ingestapi_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

var fixedNow = time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)

func TestEachBadFieldIsRejectedAndValidEventsAreStored(t *testing.T) {
	s := chtest.NewStore(t)
	_, srv := newServer(t, s, ingest.Config{Now: func() time.Time { return fixedNow }})

	long := func(n int) string { return `"` + strings.Repeat("x", n) + `"` }
	cases := []struct {
		name  string
		line  string
		field string
		err   string
	}{
		{"event_id missing", line("", map[string]any{"event_id": nil}), "event_id", "required"},
		{"event_id empty", line("", nil), "event_id", "required"},
		{"event_id too long", line(strings.Repeat("e", 129), nil), "event_id", "129 bytes: at most 128"},
		{"event_id number", line("", map[string]any{"event_id": "5"}), "event_id", "must be a string, got a number"},
		{"time missing", line("t1", map[string]any{"time": nil}), "time", "required"},
		{"time without offset", line("t2", map[string]any{"time": `"2026-01-10T09:30:00"`}), "time", `"2026-01-10T09:30:00" is not RFC 3339 with an offset (2026-01-15T09:30:00Z) or Unix milliseconds`},
		{"time float", line("t3", map[string]any{"time": "1.7e12"}), "time", "1.7e12 is not an integer number of Unix milliseconds"},
		{"time boolean", line("t4", map[string]any{"time": "true"}), "time", "must be an RFC 3339 string or integer Unix milliseconds, got a boolean"},
		{"time before 2015", line("t5", map[string]any{"time": `"2014-12-31T23:59:59Z"`}), "time", "2014-12-31T23:59:59Z is before 2015-01-01"},
		{"time far future", line("t6", map[string]any{"time": `"2026-01-21T00:00:01Z"`}), "time", "2026-01-21T00:00:01Z is more than 24 h in the future"},
		{"assistant unknown", line("a1", map[string]any{"assistant": `"chatgtp"`}), "assistant", `unknown assistant "chatgtp" (known: chatgpt, copilot, meta_ai, perplexity)`},
		{"assistant missing", line("a2", map[string]any{"assistant": nil}), "assistant", "required"},
		{"channel unknown", line("c1", map[string]any{"channel": `"fax"`}), "channel", `unknown channel "fax" (known: android, api, desktop, instagram, ios, messenger, phone, sms, telegram, web, whatsapp)`},
		{"channel missing", line("c2", map[string]any{"channel": nil}), "channel", "required"},
		{"user_id missing", line("u1", map[string]any{"user_id": nil}), "user_id", "required"},
		{"user_id too long", line("u2", map[string]any{"user_id": long(257)}), "user_id", "257 bytes: at most 256"},
		{"user_id number", line("u3", map[string]any{"user_id": "33600000001"}), "user_id", "must be a string, got a number"},
		{"event_type unknown", line("e1", map[string]any{"event_type": `"click"`}), "event_type", `unknown event type "click" (known: account_linked, message, session_start, signup)`},
		{"modality unknown", line("m1", map[string]any{"modality": `"video"`}), "modality", `unknown modality "video" (known: file, image, image_generation, text, voice)`},
		{"country lower case", line("k1", map[string]any{"country": `"fr"`}), "country", `"fr" is not an ISO 3166-1 alpha-2 code in upper case (for example FR)`},
		{"country unassigned", line("k2", map[string]any{"country": `"XX"`}), "country", `"XX" is not an ISO 3166-1 alpha-2 code in upper case (for example FR)`},
		{"count string", line("n1", map[string]any{"count": `"5"`}), "count", "must be an integer 1-1000000, got a string"},
		{"count fraction", line("n2", map[string]any{"count": "1.5"}), "count", "1.5: must be an integer 1-1000000"},
		{"count zero", line("n3", map[string]any{"count": "0"}), "count", "0: must be an integer 1-1000000"},
		{"count too big", line("n4", map[string]any{"count": "1000001"}), "count", "1000001: must be an integer 1-1000000"},
		{"linked string", line("l1", map[string]any{"linked": `"yes"`}), "linked", "must be true or false, got a string"},
		{"source too long", line("s1", map[string]any{"source": long(65)}), "source", "65 bytes: at most 64"},
		{"source with an escape", line("s2", map[string]any{"source": `"sdk\u001b[31m"`}), "source", "contains a control character (U+001B at byte 3): remove it"},
		{"event_id with NUL", line("x\\u0000=1", nil), "event_id", "contains a control character (U+0000 at byte 1): remove it"},
		{"broken JSON", `{"event_id": "b1", "time":`, "", "not valid JSON"},
		{"not an object", `["b2"]`, "", "not a JSON object"},
	}
	// Valid events between the bad ones: ok1 with every optional field, ok2
	// with the defaults and Unix milliseconds.
	ok1 := line("ok1", map[string]any{"event_type": `"signup"`, "modality": `"voice"`, "country": `"FR"`, "count": "3", "linked": "true", "source": `"panel"`, "extra": `{"ignored":[1,2]}`})
	ok2 := line("ok2", map[string]any{"time": "1768469400000", "user_id": `"alice"`, "country": "null"})
	var lines []string
	lines = append(lines, ok1)
	for _, c := range cases {
		lines = append(lines, c.line)
	}
	lines = append(lines, ok2)
	r := post(t, srv.URL, "application/x-ndjson", []byte(strings.Join(lines, "\n")+"\n"), nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d, body %s", r.status, r.raw)
	}
	if r.body.Accepted != 2 || r.body.Rejected != len(cases) || r.body.Duplicates != 0 {
		t.Fatalf("counts %+v, want 2 accepted, %d rejected", r.body, len(cases))
	}
	got := map[int]ingest.FieldError{}
	for _, e := range r.body.Errors {
		got[e.Line] = e
	}
	for i, c := range cases {
		want := ingest.FieldError{Line: i + 2, Field: c.field, Error: c.err}
		if got[i+2] != want {
			t.Errorf("%s: error %+v, want %+v", c.name, got[i+2], want)
		}
	}

	type row struct {
		Time, ReceivedAt                                 time.Time
		Assistant, Channel, EventType, Modality, Country string
		UserKey                                          uint64
		Count                                            uint32
		Linked                                           uint8
		Source                                           string
	}
	read := func(id string) row {
		var v row
		err := s.Conn.QueryRow(t.Context(), "SELECT event_time, received_at, assistant, channel, event_type, modality, country, user_key, count, linked, source FROM events WHERE event_id = ?", id).
			Scan(&v.Time, &v.ReceivedAt, &v.Assistant, &v.Channel, &v.EventType, &v.Modality, &v.Country, &v.UserKey, &v.Count, &v.Linked, &v.Source)
		if err != nil {
			t.Fatalf("read %s: %v", id, err)
		}
		v.Time, v.ReceivedAt = v.Time.UTC(), v.ReceivedAt.UTC()
		return v
	}
	key := func(user string) uint64 {
		m := hmac.New(sha256.New, testSecret)
		m.Write([]byte(user))
		return binary.BigEndian.Uint64(m.Sum(nil))
	}
	received := fixedNow.UTC().Truncate(time.Second) // DateTime: seconds
	want1 := row{time.Date(2026, 1, 10, 8, 30, 0, 0, time.UTC), received, "chatgpt", "whatsapp", "signup", "voice", "FR", key("+33600000001"), 3, 1, "panel"}
	want2 := row{time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC), received, "chatgpt", "whatsapp", "message", "text", "", key("alice"), 1, 0, ""}
	if g := read("ok1"); g != want1 {
		t.Errorf("ok1 stored as %+v, want %+v", g, want1)
	}
	if g := read("ok2"); g != want2 {
		t.Errorf("ok2 stored as %+v, want %+v", g, want2)
	}
	if n := query[uint64](t, s, "SELECT count() FROM events"); n != 2 {
		t.Errorf("events holds %d rows, want 2", n)
	}
}

func TestStatusCodes(t *testing.T) {
	s := chtest.NewStore(t)
	_, srv := newServer(t, s, ingest.Config{MaxBody: 4096, MaxLine: 512})
	valid := line("v1", nil) + "\n"
	big := strings.Repeat(line("x", nil)+"\n", 100) // over 4096 bytes
	cases := []struct {
		name, ct string
		body     []byte
		hdr      map[string]string
		status   int
	}{
		{"no token", "application/x-ndjson", []byte(valid), map[string]string{"Authorization": ""}, 401},
		{"wrong token", "application/x-ndjson", []byte(valid), map[string]string{"Authorization": "Bearer nope"}, 401},
		{"media type", "text/plain", []byte(valid), nil, 415},
		{"encoding", "application/x-ndjson", []byte(valid), map[string]string{"Content-Encoding": "br"}, 415},
		{"body too large", "application/x-ndjson", []byte(big), nil, 413},
		{"gzip expands past limit", "application/x-ndjson", gz([]byte(big)), map[string]string{"Content-Encoding": "gzip"}, 413},
		{"line too long", "application/x-ndjson", []byte(line("long", map[string]any{"source": `"` + strings.Repeat("s", 600) + `"`})), nil, 413},
		{"every event rejected", "application/x-ndjson", []byte(line("", nil)), nil, 400},
		{"malformed JSON array", "application/json", []byte(`[{"event_id":"j1"`), nil, 400},
		{"gzip ok", "application/x-ndjson", gz([]byte(valid)), map[string]string{"Content-Encoding": "gzip"}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := post(t, srv.URL, c.ct, c.body, c.hdr)
			if r.status != c.status {
				t.Errorf("status %d, want %d (body %s)", r.status, c.status, r.raw)
			}
		})
	}
	// Nothing of the over-limit bodies was written: only v1.
	if n := query[uint64](t, s, "SELECT count() FROM events"); n != 1 {
		t.Errorf("events holds %d rows, want 1", n)
	}
}

func TestJSONAndCSVLineNumbers(t *testing.T) {
	s := chtest.NewStore(t)
	_, srv := newServer(t, s, ingest.Config{})
	arr := "[" + line("j1", nil) + ",\n" + line("j2", map[string]any{"assistant": `"x"`}) + ",\n42]"
	r := post(t, srv.URL, "application/json", []byte(arr), nil)
	if r.status != 200 || r.body.Accepted != 1 || r.body.Rejected != 2 || r.body.Errors[0].Line != 2 || r.body.Errors[0].Field != "assistant" || r.body.Errors[1].Line != 3 || r.body.Errors[1].Field != "" {
		t.Errorf("JSON array: %d %s", r.status, r.raw)
	}
	one := post(t, srv.URL, "application/json", []byte(line("j3", nil)), nil)
	if one.status != 200 || one.body.Accepted != 1 {
		t.Errorf("JSON object: %d %s", one.status, one.raw)
	}
	csv := "event_id,time,assistant,channel,user_id,count,linked,country\n" +
		"c1,2026-01-10T09:30:00Z,meta_ai,whatsapp,u1,2,true,BR\n" +
		"c2,1768469400000,copilot,\"web\",\"multi\nline\",,,\n" +
		"c3,2026-01-10T09:30:00Z,copilot,web,u3,1.5,,\n" +
		"c4,2026-01-10T09:30:00Z,copilot,web\n"
	r = post(t, srv.URL, "text/csv", []byte(csv), nil)
	want := []ingest.FieldError{
		{Line: 5, Field: "count", Error: "1.5: must be an integer 1-1000000"},
		{Line: 6, Field: "", Error: "4 fields, the header has 8"},
	}
	if r.status != 200 || r.body.Accepted != 2 || r.body.Rejected != 2 || len(r.body.Errors) != 2 || r.body.Errors[0] != want[0] || r.body.Errors[1] != want[1] {
		t.Errorf("CSV: %d %s, want errors %+v", r.status, r.raw, want)
	}
	if n := query[uint64](t, s, "SELECT sum(count) FROM events WHERE event_id IN ('c1', 'c2')"); n != 3 {
		t.Errorf("CSV counts sum to %d, want 3", n)
	}
}

func TestAtMost100ErrorsListedCountsComplete(t *testing.T) {
	s := chtest.NewStore(t)
	_, srv := newServer(t, s, ingest.Config{})
	var b strings.Builder
	for i := 0; i < 150; i++ {
		b.WriteString(line(fmt.Sprintf("bad-%d", i), map[string]any{"channel": `"fax"`}) + "\n")
	}
	b.WriteString(line("good", nil) + "\n")
	r := post(t, srv.URL, "application/x-ndjson", []byte(b.String()), nil)
	if r.status != http.StatusOK || r.body.Accepted != 1 || r.body.Rejected != 150 || len(r.body.Errors) != 100 ||
		r.body.Errors[0].Line != 1 || r.body.Errors[99].Line != 100 {
		t.Errorf("status %d, accepted %d, rejected %d, %d errors listed (first line %d)", r.status, r.body.Accepted, r.body.Rejected, len(r.body.Errors), r.body.Errors[0].Line)
	}
}
