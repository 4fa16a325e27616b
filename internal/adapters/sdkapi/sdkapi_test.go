package sdkapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/adapters/sdkapi"
	"github.com/adoptscope/adoptscope/internal/platform/auth"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
)

func TestMain(m *testing.M) {
	os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll}))
}

const key = "sdk-key-0123456789"

type instance struct {
	p   *ingest.Pipeline
	sdk *ingest.SDK
	srv *httptest.Server
	s   *store.Store
}

func start(t *testing.T, s *store.Store, cfg ingest.Config, sdkCfg ingest.SDKConfig) *instance {
	t.Helper()
	cfg.Secret = []byte("sdk-test-secret-0123456789")
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = 20 * time.Millisecond
	}
	p, err := ingest.NewPipeline(s, cfg, chtest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	sdk, err := ingest.NewSDK(p, sdkCfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := sdkapi.New(sdkapi.Deps{SDK: sdk, Tokens: auth.NewTokens([]string{key}), Log: chtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	h.Register(e)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(p.Metrics().Registry, promhttp.HandlerOpts{})))
	srv := httptest.NewServer(e)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return &instance{p: p, sdk: sdk, srv: srv, s: s}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (in *instance) post(t *testing.T, path string, body []byte, hdr map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, in.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func basic(k string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(k+":"))}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// row is one stored event as the test reads it back.
type row struct {
	ID, Assistant, Channel, EventType, Modality, Country, Source string
	Time                                                         time.Time
	UserKey                                                      uint64
	Count                                                        uint32
	Linked                                                       uint8
}

func rows(t *testing.T, s *store.Store) map[string]row {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs, err := s.Conn.Query(ctx, "SELECT event_id, assistant, channel, event_type, modality, country, source, event_time, user_key, count, linked FROM events")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]row{}
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.ID, &r.Assistant, &r.Channel, &r.EventType, &r.Modality, &r.Country, &r.Source, &r.Time, &r.UserKey, &r.Count, &r.Linked); err != nil {
			t.Fatal(err)
		}
		if _, dup := out[r.ID]; dup {
			t.Errorf("event %s stored twice", r.ID)
		}
		out[r.ID] = r
	}
	return out
}

func metric(t *testing.T, in *instance, name string, labels ...string) string {
	t.Helper()
	resp, err := http.Get(in.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, name+"{") {
			continue
		}
		ok := true
		for _, lb := range labels {
			ok = ok && strings.Contains(l, lb)
		}
		if ok {
			return l[strings.LastIndex(l, " ")+1:]
		}
	}
	return ""
}

// TestBothAPIsStoreMappedRows: a PostHog batch and a Segment batch land in
// events with the mapped fields; a second send of the same bodies stores
// nothing; skips and rejections are counted by endpoint and reason.
func TestBothAPIsStoreMappedRows(t *testing.T) {
	s := chtest.NewStore(t)
	in := start(t, s, ingest.Config{}, ingest.SDKConfig{
		Properties: ingest.SDKProperties{Assistant: "ai_product"},
		EventTypes: map[string]string{"Message Sent": "message", "Signed Up": "signup"},
	})
	recv := time.Now().UTC()
	tsA := recv.Add(-time.Hour).Truncate(time.Second)
	posthog := fmt.Sprintf(`{"api_key":%q,"batch":[
	 {"event":"Message Sent","distinct_id":"+33611111111","uuid":"ph-1","timestamp":%q,"properties":{"ai_product":"chatgpt","channel":"whatsapp","modality":"voice","count":2,"$lib":"posthog-node","$geoip_country_code":"FR"}},
	 {"event":"$pageview","distinct_id":"+33611111111","uuid":"ph-2"},
	 {"event":"Message Sent","distinct_id":"+33611111111","uuid":"ph-3","properties":{"channel":"web"}}
	]}`, key, tsA.Format(time.RFC3339Nano))
	a := in.post(t, "/batch/", []byte(posthog), map[string]string{"Content-Type": "application/json"})
	if a.status != 200 || a.body["status"] != float64(1) || a.body["accepted"] != float64(1) || a.body["skipped"] != float64(1) || a.body["rejected"] != float64(1) {
		t.Fatalf("posthog: %d %s", a.status, a.raw)
	}
	segment := fmt.Sprintf(`{"sentAt":%q,"batch":[
	 {"type":"track","event":"Signed Up","userId":"user-7","messageId":"sg-1","timestamp":%q,"properties":{"ai_product":"meta_ai","channel":"ios","linked":true},"context":{"library":{"name":"@segment/analytics-node"},"location":{"country":"BR"}}},
	 {"type":"identify","userId":"user-7","traits":{}},
	 {"type":"track","event":"Signed Up","userId":"user-7","messageId":"sg-2","properties":{"ai_product":"grok","channel":"ios"}}
	]}`, recv.Format(time.RFC3339Nano), tsA.Format(time.RFC3339Nano))
	a = in.post(t, "/v1/batch", []byte(segment), basic(key))
	if a.status != 200 || a.body["success"] != true || a.body["accepted"] != float64(1) || a.body["skipped"] != float64(1) || a.body["rejected"] != float64(1) {
		t.Fatalf("segment: %d %s", a.status, a.raw)
	}
	got := rows(t, s)
	want := map[string]row{
		"ph-1": {ID: "ph-1", Assistant: "chatgpt", Channel: "whatsapp", EventType: "message", Modality: "voice", Country: "FR", Source: "posthog-node", Time: tsA, UserKey: in.p.UserKey("+33611111111"), Count: 2},
		"sg-1": {ID: "sg-1", Assistant: "meta_ai", Channel: "ios", EventType: "signup", Modality: "text", Country: "BR", Source: "@segment/analytics-node", Time: tsA, UserKey: in.p.UserKey("user-7"), Count: 1, Linked: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
	for id, w := range want {
		g := got[id]
		// sentAt is the receive time here, give or take the request's
		// time: the corrected time is within a second of the timestamp.
		if d := g.Time.Sub(w.Time); d < -2*time.Second || d > 2*time.Second {
			t.Errorf("%s: time %s, want %s", id, g.Time, w.Time)
		}
		g.Time = w.Time
		if g != w {
			t.Errorf("%s:\n got %+v\nwant %+v", id, g, w)
		}
	}
	// The SDKs' retry: the same bodies again store nothing.
	a = in.post(t, "/batch", []byte(posthog), nil)
	if a.status != 200 || a.body["duplicates"] != float64(1) || a.body["accepted"] != float64(0) {
		t.Fatalf("posthog again: %d %s", a.status, a.raw)
	}
	a = in.post(t, "/v1/batch", []byte(segment), basic(key))
	if a.status != 200 || a.body["duplicates"] != float64(1) {
		t.Fatalf("segment again: %d %s", a.status, a.raw)
	}
	if n := len(rows(t, s)); n != 2 {
		t.Fatalf("%d rows after the retries, want 2", n)
	}
	for _, c := range []struct{ name, want string }{
		{metric(t, in, "adoptscope_sdk_skipped_total", `endpoint="/batch"`, `reason="page"`), "2"},
		{metric(t, in, "adoptscope_sdk_skipped_total", `endpoint="/v1/batch"`, `reason="identify"`), "2"},
		{metric(t, in, "adoptscope_sdk_rejected_total", `endpoint="/batch"`, `reason="assistant"`), "2"},
		{metric(t, in, "adoptscope_sdk_rejected_total", `endpoint="/v1/batch"`, `reason="assistant"`), "2"},
		{metric(t, in, "adoptscope_sdk_messages_total", `endpoint="/batch"`, `result="accepted"`), "1"},
		{metric(t, in, "adoptscope_sdk_messages_total", `endpoint="/batch"`, `result="duplicate"`), "1"},
		{metric(t, in, "adoptscope_sdk_requests_total", `endpoint="/v1/batch"`, `code="200"`), "2"},
	} {
		if c.name != c.want {
			t.Errorf("metric = %q, want %s", c.name, c.want)
		}
	}
	snap := in.sdk.Snapshot()
	if len(snap) != 2 || snap[0].Endpoint != "/batch" || snap[0].SkippedBy["page"] != 2 || snap[1].RejectedBy["assistant"] != 2 {
		t.Errorf("snapshot %+v", snap)
	}
}

// TestRequestErrorsOnBothAPIs: gzip (by header and by magic bytes), a body
// over the limit (413), a wrong key (401), a body that is not JSON (400),
// on every family; nothing is written from a refused request.
func TestRequestErrorsOnBothAPIs(t *testing.T) {
	s := chtest.NewStore(t)
	in := start(t, s, ingest.Config{MaxBody: 4096, MaxLine: 1024}, ingest.SDKConfig{})
	ev := func(family, id string) string {
		if family == ingest.PostHog {
			return fmt.Sprintf(`{"event":"message","distinct_id":"u","uuid":%q,"properties":{"assistant":"chatgpt","channel":"web"}}`, id)
		}
		return fmt.Sprintf(`{"type":"track","event":"message","userId":"u","messageId":%q,"properties":{"assistant":"chatgpt","channel":"web"}}`, id)
	}
	apis := []struct {
		family, path string
		body         func(events []string, k string) []byte
		auth         func(k string) map[string]string
	}{
		{ingest.PostHog, "/batch/", func(evs []string, k string) []byte {
			return []byte(fmt.Sprintf(`{"api_key":%q,"batch":[%s]}`, k, strings.Join(evs, ",")))
		}, func(string) map[string]string { return map[string]string{} }},
		{ingest.PostHog, "/i/v0/e/", func(evs []string, k string) []byte {
			return []byte(fmt.Sprintf(`{"token":%q,"batch":[%s]}`, k, strings.Join(evs, ",")))
		}, func(string) map[string]string { return map[string]string{} }},
		{ingest.Segment, "/v1/batch", func(evs []string, _ string) []byte {
			return []byte(fmt.Sprintf(`{"batch":[%s]}`, strings.Join(evs, ",")))
		}, basic},
		{ingest.Segment, "/v1/track", func(evs []string, k string) []byte {
			return []byte(strings.Replace(evs[0], "{", fmt.Sprintf(`{"writeKey":%q,`, k), 1))
		}, func(string) map[string]string { return map[string]string{} }},
	}
	stored := 0
	for i, api := range apis {
		t.Run(api.path, func(t *testing.T) {
			hdr := api.auth(key)
			// gzip, said by Content-Encoding
			id := fmt.Sprintf("gz-%d", i)
			h := map[string]string{"Content-Encoding": "gzip"}
			for k, v := range hdr {
				h[k] = v
			}
			if a := in.post(t, api.path, gz(api.body([]string{ev(api.family, id)}, key)), h); a.status != 200 || a.body["accepted"] != float64(1) {
				t.Fatalf("gzip: %d %s", a.status, a.raw)
			}
			// gzip, not said (posthog-js ?compression=gzip-js, or nothing)
			if a := in.post(t, api.path, gz(api.body([]string{ev(api.family, id+"-magic")}, key)), hdr); a.status != 200 || a.body["accepted"] != float64(1) {
				t.Fatalf("gzip by magic bytes: %d %s", a.status, a.raw)
			}
			stored += 2
			// over the size limit, after decompression
			big := strings.Repeat(" ", 5000)
			var evs []string
			for j := 0; j < 40; j++ {
				evs = append(evs, ev(api.family, fmt.Sprintf("big-%d-%d", i, j)))
			}
			body := api.body(evs, key)
			if api.path == "/v1/track" {
				body = append(body, big...)
			}
			if a := in.post(t, api.path, gz(body), h); a.status != 413 || !strings.Contains(a.body["error"].(string), "ADOPTSCOPE_INGEST_MAX_BODY") {
				t.Fatalf("too large: %d %s", a.status, a.raw)
			}
			// a wrong key
			wrong := api.auth("wrong-key-0123456789")
			if a := in.post(t, api.path, api.body([]string{ev(api.family, "wrong")}, "wrong-key-0123456789"), wrong); a.status != 401 || a.body["error"] == nil {
				t.Fatalf("wrong key: %d %s", a.status, a.raw)
			}
			// no key at all
			if a := in.post(t, api.path, []byte(`{"batch":[`+ev(api.family, "nokey")+`]}`), nil); a.status != 401 {
				t.Fatalf("no key: %d %s", a.status, a.raw)
			}
			// not JSON
			if a := in.post(t, api.path, []byte("event=message&user=u"), hdr); a.status != 400 || a.body["error"] == nil {
				t.Fatalf("not JSON: %d %s", a.status, a.raw)
			}
			if a := in.post(t, api.path, []byte(`{"batch":[{"event":`), hdr); a.status != 400 {
				t.Fatalf("cut JSON: %d %s", a.status, a.raw)
			}
		})
	}
	got := rows(t, s)
	if len(got) != stored {
		t.Fatalf("stored %d rows, want %d: %v", len(got), stored, got)
	}
	for id := range got {
		if strings.HasPrefix(id, "big-") || id == "wrong" || id == "nokey" {
			t.Errorf("%s stored from a refused request", id)
		}
	}
}

// TestPostHogJSBodies: what posthog-js sends: a gzip-js body as
// text/plain with the key in each event's properties, and the older
// data=<base64> form.
func TestPostHogJSBodies(t *testing.T) {
	s := chtest.NewStore(t)
	in := start(t, s, ingest.Config{}, ingest.SDKConfig{})
	events := fmt.Sprintf(`[{"event":"message","uuid":"js-1","properties":{"token":%q,"distinct_id":"u1","$lib":"web","assistant":"chatgpt","channel":"web"}}]`, key)
	if a := in.post(t, "/e/?compression=gzip-js&ver=1.200.0", gz([]byte(events)), map[string]string{"Content-Type": "text/plain"}); a.status != 200 {
		t.Fatalf("gzip-js: %d %s", a.status, a.raw)
	}
	form := "data=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(strings.Replace(events, "js-1", "js-2", 1))))
	if a := in.post(t, "/e/", []byte(form), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); a.status != 200 {
		t.Fatalf("form: %d %s", a.status, a.raw)
	}
	req, _ := http.NewRequest(http.MethodOptions, in.srv.URL+"/e/", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	got := rows(t, s)
	if got["js-1"].Source != "web" || got["js-2"].Channel != "web" || len(got) != 2 {
		t.Errorf("stored %v", got)
	}
}

// TestCORSWithoutCredentials: the preflight and the answer of a post
// from another origin let any page send events, never with credentials:
// the key is in the body, so a cookie of this site must never ride along.
func TestCORSWithoutCredentials(t *testing.T) {
	s := chtest.NewStore(t)
	in := start(t, s, ingest.Config{}, ingest.SDKConfig{})
	body := fmt.Sprintf(`{"api_key":%q,"event":"message","distinct_id":"u1","properties":{"assistant":"chatgpt","channel":"web"}}`, key)
	for _, method := range []string{http.MethodOptions, http.MethodPost} {
		req, _ := http.NewRequest(method, in.srv.URL+"/capture/", strings.NewReader(body))
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if v := resp.Header.Get("Access-Control-Allow-Credentials"); v != "" {
			t.Errorf("%s: Access-Control-Allow-Credentials %q, want none", method, v)
		}
		if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "*" {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want *", method, v)
		}
	}
}

// TestUnavailableAnswers503: with ClickHouse gone, both families get 503
// with Retry-After (their SDKs retry on 5xx), and no skip or rejection is
// counted for the refused request (the retry will count it).
func TestUnavailableAnswers503(t *testing.T) {
	s := chtest.NewStore(t)
	in := start(t, s, ingest.Config{WriteTimeout: 2 * time.Second}, ingest.SDKConfig{})
	// Close the pipeline's connection: every insert now fails.
	s.Conn.Close()
	for _, c := range []struct {
		path string
		body string
		hdr  map[string]string
	}{
		{"/batch", fmt.Sprintf(`{"api_key":%q,"batch":[{"event":"message","distinct_id":"u","uuid":"d1","properties":{"assistant":"chatgpt","channel":"web"}},{"event":"$pageview","distinct_id":"u"}]}`, key), nil},
		{"/v1/track", `{"event":"message","userId":"u","messageId":"d2","properties":{"assistant":"chatgpt","channel":"web"}}`, basic(key)},
	} {
		a := in.post(t, c.path, []byte(c.body), c.hdr)
		if a.status != 503 || a.header.Get("Retry-After") == "" || a.body["error"] == nil {
			t.Fatalf("%s: %d %v %s", c.path, a.status, a.header, a.raw)
		}
	}
	if v := metric(t, in, "adoptscope_sdk_skipped_total", `endpoint="/batch"`); v != "" {
		t.Errorf("skip counted for a refused request: %s", v)
	}
	if v := metric(t, in, "adoptscope_sdk_requests_total", `endpoint="/v1/track"`, `code="503"`); v != "1" {
		t.Errorf("503 not counted: %q", v)
	}
}

// TestNewNamesAMissingDependency: the endpoints refuse to start without
// the SDK service or without a token, and say which.
func TestNewNamesAMissingDependency(t *testing.T) {
	in := start(t, chtest.NewStore(t), ingest.Config{}, ingest.SDKConfig{})
	for _, tc := range []struct {
		deps sdkapi.Deps
		want string
	}{
		{sdkapi.Deps{Tokens: auth.NewTokens([]string{key})}, "Deps.SDK"},
		{sdkapi.Deps{SDK: in.sdk}, "Deps.Tokens"},
	} {
		if _, err := sdkapi.New(tc.deps); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New: %v, want an error naming %s", err, tc.want)
		}
	}
}
