package sdkapi_test

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

const v1Path = "/i/v1/analytics/events"

// v1Headers are the headers posthog-python and posthog-go send.
func v1Headers(requestID string, attempt int, clientTime time.Time) map[string]string {
	return map[string]string{
		"Authorization":             "Bearer " + key,
		"Content-Type":              "application/json",
		"User-Agent":                "posthog-python/7.91.1",
		"PostHog-Sdk-Info":          "posthog-python/7.91.1",
		"PostHog-Attempt":           fmt.Sprint(attempt),
		"PostHog-Request-Id":        requestID,
		"PostHog-Request-Timestamp": clientTime.UTC().Format(time.RFC3339Nano),
	}
}

func v1Body(events ...string) []byte {
	return []byte(fmt.Sprintf(`{"created_at":%q,"batch":[%s]}`, time.Now().UTC().Format(time.RFC3339), strings.Join(events, ",")))
}

// v1Event is one event as the SDKs send it; props is the properties JSON.
func v1Event(uuid, name, user string, ts time.Time, props string) string {
	return fmt.Sprintf(`{"event":%q,"uuid":%q,"distinct_id":%q,"timestamp":%q,"options":{},"properties":%s}`, name, uuid, user, ts.UTC().Format(time.RFC3339Nano), props)
}

// verdicts reads an answer's results map.
func verdicts(t *testing.T, a answer) map[string]map[string]string {
	t.Helper()
	var body struct {
		Results map[string]map[string]string `json:"results"`
	}
	if err := json.Unmarshal([]byte(a.raw), &body); err != nil || body.Results == nil {
		t.Fatalf("%d %q: not a results map: %v", a.status, a.raw, err)
	}
	return body.Results
}

func uuidN(n int) string { return fmt.Sprintf("0190a2b3-c4d5-7e6f-8a9b-%012x", n) }

// TestCaptureV1VerdictsAndMapping: one body with an event of each kind is
// answered per uuid in PostHog's shape — ok for the stored events, warning
// for one that is not a usage event, drop with PostHog's tag (or the
// field at fault) for invalid ones — and the stored rows carry the /batch/
// mapping (property names, event names), the library of PostHog-Sdk-Info
// and the time corrected by PostHog-Request-Timestamp. The same request
// again (a lost answer, PostHog-Attempt 2) gets the same verdicts and
// stores nothing; a later attempt with fewer events neither.
func TestCaptureV1VerdictsAndMapping(t *testing.T) {
	s := chtest.NewStore(t)
	in := start(t, s, ingest.Config{}, ingest.SDKConfig{
		Properties: ingest.SDKProperties{Assistant: "ai_product"},
		EventTypes: map[string]string{"Message Sent": "message"},
	})
	recv := time.Now().UTC()
	skew := 10 * time.Minute // the sender's clock is 10 minutes ahead
	clientNow := recv.Add(skew)
	at := recv.Add(-time.Hour).Truncate(time.Second) // the true event time (stored to the second)
	usage := `{"ai_product":"chatgpt","channel":"whatsapp","modality":"voice","count":2,"$geoip_country_code":"FR"}`
	upper := strings.ToUpper(uuidN(1))
	events := []string{
		v1Event(upper, "Message Sent", "+33611111111", at.Add(skew), usage),
		v1Event(uuidN(2), "$pageview", "+33611111111", at.Add(skew), `{"$current_url":"https://example.com/"}`),
		v1Event(uuidN(3), "Message Sent", "+33611111111", at.Add(skew), `{"channel":"web"}`),
		v1Event(uuidN(4), "message", "+33611111111", at.Add(skew), `{"ai_product":"chatgtp","channel":"web"}`),
		fmt.Sprintf(`{"event":"message","uuid":%q,"timestamp":%q,"properties":{}}`, uuidN(5), at.Format(time.RFC3339)),
		v1Event(uuidN(6), "message", "u6", at, `{"ai_product":"chatgpt","channel":"web"}`),
		v1Event(uuidN(7), "message", "u7", at.Add(skew), `["not","an","object"]`),
		fmt.Sprintf(`{"uuid":%q,"distinct_id":"u8","timestamp":%q,"properties":{}}`, uuidN(8), at.Format(time.RFC3339)),
		fmt.Sprintf(`{"event":"message","uuid":%q,"distinct_id":"u9","timestamp":%q,"options":{"disable_skew_correction":true},"properties":{"ai_product":"copilot","channel":"ios"}}`, uuidN(9), at.Format(time.RFC3339Nano)),
		fmt.Sprintf(`{"event":"message","uuid":%q,"distinct_id":"u10","timestamp":%q,"options":{"disable_skew_correction":"maybe"},"properties":{}}`, uuidN(10), at.Format(time.RFC3339Nano)),
		fmt.Sprintf(`{"event":%q,"uuid":%q,"distinct_id":"u11","timestamp":%q}`, strings.Repeat("e", 201), uuidN(11), at.Format(time.RFC3339)),
		fmt.Sprintf(`{"event":"message","uuid":%q,"distinct_id":%q,"timestamp":%q}`, uuidN(12), strings.Repeat("u", 201), at.Format(time.RFC3339)),
		fmt.Sprintf(`{"event":"message","uuid":%q,"distinct_id":"u13","timestamp":1767225600000}`, uuidN(13)),
	}
	body := v1Body(events...)
	const reqID = "5b0f4a57-8f0b-4c5e-9f1d-2f4a6b8c0d1e"
	a := in.post(t, v1Path, body, v1Headers(reqID, 1, clientNow))
	if a.status != 200 || a.header.Get("Content-Type") != "application/json" || a.header.Get("Retry-After") != "" {
		t.Fatalf("%d %v %s", a.status, a.header, a.raw)
	}
	want := map[string]map[string]string{
		uuidN(1):  {"result": "ok"},
		uuidN(2):  {"result": "warning", "details": "page"},
		uuidN(3):  {"result": "drop", "details": `invalid_assistant: required: set the event property "ai_product" (its name is ADOPTSCOPE_SDK_PROPERTY_ASSISTANT)`},
		uuidN(4):  {"result": "drop", "details": `invalid_assistant: unknown assistant "chatgtp" (known: chatgpt, copilot, meta_ai, perplexity)`},
		uuidN(5):  {"result": "drop", "details": "missing_distinct_id"},
		uuidN(6):  {"result": "ok"},
		uuidN(7):  {"result": "drop", "details": "malformed_event_properties"},
		uuidN(8):  {"result": "drop", "details": "missing_event_name"},
		uuidN(9):  {"result": "ok"},
		uuidN(10): {"result": "drop", "details": "invalid_options"},
		uuidN(11): {"result": "drop", "details": "event_name_too_long"},
		uuidN(12): {"result": "drop", "details": "distinct_id_too_large"},
		uuidN(13): {"result": "drop", "details": "invalid_event_timestamp"},
	}
	check := func(a answer) {
		t.Helper()
		got := verdicts(t, a)
		if len(got) != len(want) {
			t.Errorf("%d verdicts, want %d: %s", len(got), len(want), a.raw)
		}
		for id, w := range want {
			if g := got[id]; len(g) != len(w) || g["result"] != w["result"] || g["details"] != w["details"] {
				t.Errorf("%s: got %v, want %v", id, g, w)
			}
		}
		// In body order, as PostHog answers.
		if i1, i13 := strings.Index(a.raw, uuidN(1)), strings.Index(a.raw, uuidN(13)); i1 < 0 || i13 < i1 {
			t.Errorf("verdicts not in body order: %s", a.raw)
		}
	}
	check(a)
	got := rows(t, s)
	wantRows := map[string]row{
		uuidN(1): {ID: uuidN(1), Assistant: "chatgpt", Channel: "whatsapp", EventType: "message", Modality: "voice", Country: "FR", Source: "posthog-python", Time: at, UserKey: in.p.UserKey("+33611111111"), Count: 2},
		// Sent 10 minutes ahead but without skew correction: taken as written.
		uuidN(6): {ID: uuidN(6), Assistant: "chatgpt", Channel: "web", EventType: "message", Modality: "text", Source: "posthog-python", Time: at.Add(-skew), UserKey: in.p.UserKey("u6"), Count: 1},
		uuidN(9): {ID: uuidN(9), Assistant: "copilot", Channel: "ios", EventType: "message", Modality: "text", Source: "posthog-python", Time: at, UserKey: in.p.UserKey("u9"), Count: 1},
	}
	if len(got) != len(wantRows) {
		t.Fatalf("stored %v, want %v", got, wantRows)
	}
	for id, w := range wantRows {
		g := got[id]
		// Skew correction uses the receive time, a few ms after recv.
		if d := g.Time.Sub(w.Time); d < -2*time.Second || d > 2*time.Second {
			t.Errorf("%s: time %s, want %s", id, g.Time, w.Time)
		}
		g.Time = w.Time
		if g != w {
			t.Errorf("%s:\n got %+v\nwant %+v", id, g, w)
		}
	}
	if g := got[uuidN(9)].Time; !g.Equal(at) {
		t.Errorf("disable_skew_correction: time %s, want %s exactly", g, at)
	}

	// The answer was lost: the SDK sends the same request again.
	a = in.post(t, v1Path, body, v1Headers(reqID, 2, clientNow.Add(2*time.Second)))
	if a.status != 200 {
		t.Fatalf("attempt 2: %d %s", a.status, a.raw)
	}
	check(a)
	// A later attempt carries only the events still pending.
	a = in.post(t, v1Path, v1Body(events[0], events[5]), v1Headers(reqID, 3, clientNow.Add(4*time.Second)))
	if g := verdicts(t, a); a.status != 200 || len(g) != 2 || g[uuidN(1)]["result"] != "ok" || g[uuidN(6)]["result"] != "ok" {
		t.Fatalf("attempt 3: %d %s", a.status, a.raw)
	}
	if n := len(rows(t, s)); n != 3 {
		t.Fatalf("%d rows after the resends, want 3", n)
	}
	for _, c := range []struct{ got, want string }{
		{metric(t, in, "adoptscope_sdk_messages_total", `endpoint="/i/v1/analytics/events"`, `result="accepted"`), "3"},
		{metric(t, in, "adoptscope_sdk_messages_total", `endpoint="/i/v1/analytics/events"`, `result="duplicate"`), "5"},
		{metric(t, in, "adoptscope_sdk_skipped_total", `endpoint="/i/v1/analytics/events"`, `reason="page"`), "2"},
		{metric(t, in, "adoptscope_sdk_rejected_total", `endpoint="/i/v1/analytics/events"`, `reason="assistant"`), "4"},
		{metric(t, in, "adoptscope_sdk_rejected_total", `endpoint="/i/v1/analytics/events"`, `reason="user_id"`), "4"},
		{metric(t, in, "adoptscope_sdk_requests_total", `endpoint="/i/v1/analytics/events"`, `code="200"`), "3"},
	} {
		if c.got != c.want {
			t.Errorf("metric = %q, want %s", c.got, c.want)
		}
	}
}

// TestCaptureV1Encodings: gzip, deflate (zlib, as the SDKs send it, and
// raw), zstd and br bodies are read; each has its limit after
// decompression (413), a damaged one is a JSON 400, an unknown encoding a
// JSON 415.
func TestCaptureV1Encodings(t *testing.T) {
	s := chtest.NewStore(t)
	in := start(t, s, ingest.Config{MaxBody: 64 << 10}, ingest.SDKConfig{})
	compress := map[string]func([]byte) []byte{
		"":     func(b []byte) []byte { return b },
		"gzip": gz,
		"deflate": func(b []byte) []byte {
			var buf bytes.Buffer
			w := zlib.NewWriter(&buf)
			w.Write(b)
			w.Close()
			return buf.Bytes()
		},
		"zstd": func(b []byte) []byte {
			enc, _ := zstd.NewWriter(nil)
			defer enc.Close()
			return enc.EncodeAll(b, nil)
		},
		"br": func(b []byte) []byte {
			var buf bytes.Buffer
			w := brotli.NewWriter(&buf)
			w.Write(b)
			w.Close()
			return buf.Bytes()
		},
	}
	rawDeflate := func(b []byte) []byte {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	at := time.Now().UTC().Add(-time.Minute)
	n := 0
	send := func(enc string, body []byte) answer {
		h := v1Headers(uuidN(1000+n), 1, time.Now())
		if enc != "" {
			h["Content-Encoding"] = enc
		}
		n++
		return in.post(t, v1Path, body, h)
	}
	stored := 0
	for _, enc := range []string{"", "gzip", "deflate", "raw deflate", "zstd", "br"} {
		t.Run(enc, func(t *testing.T) {
			c, header := compress[enc], enc
			if enc == "raw deflate" {
				c, header = rawDeflate, "deflate"
			}
			id := uuidN(100 + stored)
			a := send(header, c(v1Body(v1Event(id, "message", "u-"+enc, at, `{"assistant":"chatgpt","channel":"web"}`))))
			if g := verdicts(t, a); a.status != 200 || g[id]["result"] != "ok" {
				t.Fatalf("%d %s", a.status, a.raw)
			}
			stored++
			// 100 KiB of events: over the 64 KiB limit once decompressed.
			var evs []string
			for j := 0; j < 500; j++ {
				evs = append(evs, v1Event(uuidN(10000+j), "message", "big", at, `{"assistant":"chatgpt","channel":"web"}`))
			}
			big := v1Body(evs...)
			a = send(header, c(big))
			if a.status != 413 || a.header.Get("Content-Type") != "application/json" || !strings.Contains(fmt.Sprint(a.body["error"]), "ADOPTSCOPE_INGEST_MAX_BODY") {
				t.Fatalf("%d bytes (%d sent): %d %s", len(big), len(c(big)), a.status, a.raw)
			}
			if header != "" {
				a = send(header, []byte("this is not compressed data at all"))
				if a.status != 400 || a.body["error"] == nil {
					t.Fatalf("damaged: %d %s", a.status, a.raw)
				}
			}
		})
	}
	if a := send("lz4", v1Body()); a.status != 415 || a.body["error"] == nil {
		t.Fatalf("lz4: %d %s", a.status, a.raw)
	}
	if got := rows(t, s); len(got) != stored {
		t.Fatalf("stored %d rows, want %d: %v", len(got), stored, got)
	}
}

// TestCaptureV1RequestErrors: faults of the request are JSON errors with
// the status PostHog gives them (401 for the key, 400 for a bad header or
// body, 415 for a content type), and nothing of such a request is stored.
func TestCaptureV1RequestErrors(t *testing.T) {
	s := chtest.NewStore(t)
	in := start(t, s, ingest.Config{}, ingest.SDKConfig{})
	at := time.Now().UTC().Add(-time.Minute)
	good := v1Event(uuidN(1), "message", "u1", at, `{"assistant":"chatgpt","channel":"web"}`)
	with := func(k, v string) map[string]string {
		h := v1Headers(uuidN(500), 1, time.Now())
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	for _, c := range []struct {
		name   string
		hdr    map[string]string
		body   []byte
		status int
		says   string
	}{
		{"no key", with("Authorization", ""), v1Body(good), 401, "no key"},
		{"basic", with("Authorization", basic(key)["Authorization"]), v1Body(good), 401, "not a bearer token"},
		{"wrong key", with("Authorization", "Bearer phc_wrong"), v1Body(good), 401, "not an ingest token"},
		{"request id", with("PostHog-Request-Id", "not-a-uuid"), v1Body(good), 400, "PostHog-Request-Id"},
		{"attempt", with("PostHog-Attempt", "0"), v1Body(good), 400, "PostHog-Attempt"},
		{"timestamp", with("PostHog-Request-Timestamp", "yesterday"), v1Body(good), 400, "PostHog-Request-Timestamp"},
		{"content type", with("Content-Type", "text/plain"), v1Body(good), 415, "application/json"},
		{"empty body", with("", ""), nil, 400, "empty body"},
		{"not JSON", with("", ""), []byte("event=message"), 400, "not valid JSON"},
		{"not an object", with("", ""), []byte(`[` + good + `]`), 400, `"batch"`},
		{"empty batch", with("", ""), v1Body(), 400, "empty"},
		{"no uuid", with("", ""), v1Body(`{"event":"message","distinct_id":"u","timestamp":"2026-01-01T00:00:00Z"}`), 400, "uuid"},
		{"bad uuid", with("", ""), v1Body(strings.Replace(good, uuidN(1), "ph-1", 1)), 400, "uuid"},
		{"same uuid twice", with("", ""), v1Body(good, good), 400, "same uuid"},
		{"bad created_at", with("", ""), []byte(`{"created_at":"soon","batch":[` + good + `]}`), 400, "created_at"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := in.post(t, v1Path, c.body, c.hdr)
			msg, _ := a.body["error"].(string)
			if a.status != c.status || a.header.Get("Content-Type") != "application/json" || !strings.Contains(msg, c.says) {
				t.Fatalf("%d %v %s", a.status, a.header, a.raw)
			}
			if c.status == 401 && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
			}
		})
	}
	resp, err := in.srv.Client().Get(in.srv.URL + v1Path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if got := rows(t, s); len(got) != 0 {
		t.Fatalf("stored %v", got)
	}
	// Headers are optional (curl), the key is not.
	a := in.post(t, v1Path, v1Body(good), map[string]string{"Authorization": "Bearer " + key})
	if g := verdicts(t, a); a.status != 200 || g[uuidN(1)]["result"] != "ok" {
		t.Fatalf("bare request: %d %s", a.status, a.raw)
	}
}

// TestCaptureV1RetryWhenUnavailable: with ClickHouse gone the answer is
// still 200: every event to be stored is told to retry (Retry-After), and
// the drops and warnings stand (the SDK does not send them again, so they
// are counted now).
func TestCaptureV1RetryWhenUnavailable(t *testing.T) {
	s := chtest.NewStore(t)
	in := start(t, s, ingest.Config{WriteTimeout: 2 * time.Second}, ingest.SDKConfig{})
	s.Conn.Close()
	at := time.Now().UTC().Add(-time.Minute)
	a := in.post(t, v1Path, v1Body(
		v1Event(uuidN(1), "message", "u1", at, `{"assistant":"chatgpt","channel":"web"}`),
		v1Event(uuidN(2), "$pageview", "u1", at, `{}`),
		v1Event(uuidN(3), "message", "u1", at, `{"channel":"web"}`),
		v1Event(uuidN(4), "message", "u2", at, `{"assistant":"copilot","channel":"ios"}`),
	), v1Headers(uuidN(99), 1, time.Now()))
	g := verdicts(t, a)
	if a.status != 200 || a.header.Get("Retry-After") != "5" {
		t.Fatalf("%d %v %s", a.status, a.header, a.raw)
	}
	for id, w := range map[string]string{uuidN(1): "retry", uuidN(2): "warning", uuidN(3): "drop", uuidN(4): "retry"} {
		if g[id]["result"] != w {
			t.Errorf("%s: %v, want %s", id, g[id], w)
		}
	}
	if g[uuidN(1)]["details"] != "not_persisted" {
		t.Errorf("retry details %q", g[uuidN(1)]["details"])
	}
	if v := metric(t, in, "adoptscope_sdk_rejected_total", `endpoint="/i/v1/analytics/events"`, `reason="assistant"`); v != "1" {
		t.Errorf("drop not counted: %q", v)
	}
	if v := metric(t, in, "adoptscope_sdk_skipped_total", `endpoint="/i/v1/analytics/events"`, `reason="page"`); v != "1" {
		t.Errorf("warning not counted: %q", v)
	}
}

// TestCaptureV1WaitsForADecodingSlot: with every decoding slot held the
// request is refused whole, 503 with Retry-After and a JSON body.
func TestCaptureV1WaitsForADecodingSlot(t *testing.T) {
	s := chtest.NewStore(t)
	in := start(t, s, ingest.Config{DecodeWait: 100 * time.Millisecond}, ingest.SDKConfig{})
	n := in.p.DecodeSlots()
	held, release := make(chan struct{}, n), make(chan struct{})
	for range n {
		go in.p.WithDecodeSlot(context.Background(), func() error {
			held <- struct{}{}
			<-release
			return nil
		})
	}
	for range n {
		<-held
	}
	defer close(release)
	a := in.post(t, v1Path, v1Body(v1Event(uuidN(1), "message", "u1", time.Now(), `{"assistant":"chatgpt","channel":"web"}`)), v1Headers(uuidN(2), 1, time.Now()))
	if a.status != 503 || a.header.Get("Retry-After") == "" || a.body["error"] == nil {
		t.Fatalf("%d %v %s", a.status, a.header, a.raw)
	}
}

// TestCaptureV1RetryWhenIngestIsFull: while the buffer holds events not
// yet committed, a request that would overfill it is answered 200 with
// every event told to retry (Retry-After 1); once the buffer has drained
// the same request is stored.
func TestCaptureV1RetryWhenIngestIsFull(t *testing.T) {
	s := chtest.NewStore(t)
	// 9 events wait the whole flush interval (under a tenth of BatchRows);
	// 92 more would pass BufferRows.
	in := start(t, s, ingest.Config{BatchRows: 100, BufferRows: 100, FlushInterval: 3 * time.Second}, ingest.SDKConfig{})
	at := time.Now().UTC().Add(-time.Minute)
	batch := func(from, n int) []byte {
		var evs []string
		for i := from; i < from+n; i++ {
			evs = append(evs, v1Event(uuidN(i), "message", fmt.Sprint("u", i%10), at, `{"assistant":"chatgpt","channel":"web"}`))
		}
		return v1Body(evs...)
	}
	first := make(chan answer, 1)
	go func() { first <- in.post(t, v1Path, batch(0, 9), v1Headers(uuidN(900), 1, time.Now())) }()
	for deadline := time.Now().Add(10 * time.Second); in.p.Snapshot().BufferRows < 9; {
		if time.Now().After(deadline) {
			t.Fatal("the first request never reached the buffer")
		}
		time.Sleep(10 * time.Millisecond)
	}
	a := in.post(t, v1Path, batch(100, 92), v1Headers(uuidN(901), 1, time.Now()))
	g := verdicts(t, a)
	if a.status != 200 || a.header.Get("Retry-After") != "1" || len(g) != 92 {
		t.Fatalf("%d %v %d verdicts", a.status, a.header, len(g))
	}
	for id, v := range g {
		if v["result"] != "retry" || v["details"] != "not_persisted" {
			t.Fatalf("%s: %v, want retry", id, v)
		}
	}
	if a := <-first; a.status != 200 || len(verdicts(t, a)) != 9 {
		t.Fatalf("first: %d %s", a.status, a.raw)
	}
	a = in.post(t, v1Path, batch(100, 92), v1Headers(uuidN(901), 2, time.Now()))
	for id, v := range verdicts(t, a) {
		if v["result"] != "ok" {
			t.Fatalf("resent: %s: %v", id, v)
		}
	}
	if n := len(rows(t, s)); n != 101 {
		t.Fatalf("%d rows, want 101", n)
	}
}
