package app

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

const refusalToken = "refusal-ingest-token-0123456789"

// refusalIntakes is one process running ingest and the dashboard, with
// small limits, and a client for each way events come in.
type refusalIntakes struct {
	a      *App
	base   string
	client *http.Client // with a cookie jar, for the upload form
	csrf   string
}

// answer is what a refused request got: status and Retry-After.
type answer struct {
	status     int
	retryAfter string
}

func (a answer) String() string { return fmt.Sprintf("%d Retry-After=%q", a.status, a.retryAfter) }

const (
	refusalMaxBody = 64 << 10
	refusalMaxLine = 1 << 10
)

func startRefusalIntakes(t *testing.T) *refusalIntakes {
	t.Helper()
	s := chtest.NewStore(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), ShutdownTimeout: 5 * time.Second,
		IngestTokens: []string{refusalToken}}
	cfg.Ingest.BatchRows = 1000
	cfg.Ingest.FlushInterval = 10 * time.Millisecond
	cfg.Ingest.MaxBody = refusalMaxBody
	cfg.Ingest.MaxLine = refusalMaxLine
	cfg.Ingest.DedupWindow = time.Hour
	a, err := New(context.Background(), cfg, Mode{Name: "up", Ingest: true, Web: true}, &Backend{Store: s}, log, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.stop)
	srv := httptest.NewServer(a.Server.Handler())
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	in := &refusalIntakes{a: a, base: srv.URL, client: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
	resp, err := in.client.Get(in.base + "/ingest")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	in.csrf = doc.Find(`form[data-testid=upload-form] input[name=_csrf]`).AttrOr("value", "")
	if in.csrf == "" {
		t.Fatal("no upload form with a CSRF token on the Ingest page")
	}
	return in
}

func (in *refusalIntakes) do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := in.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return answer{resp.StatusCode, resp.Header.Get("Retry-After")}
}

// events posts body to POST /v1/events.
func (in *refusalIntakes) events(t *testing.T, contentType string, body []byte) answer {
	req, _ := http.NewRequest(http.MethodPost, in.base+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+refusalToken)
	req.Header.Set("Content-Type", contentType)
	return in.do(t, req)
}

// eventsGzip posts an NDJSON body sent with Content-Encoding: gzip.
func (in *refusalIntakes) eventsGzip(t *testing.T, body []byte) answer {
	req, _ := http.NewRequest(http.MethodPost, in.base+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+refusalToken)
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Content-Encoding", "gzip")
	return in.do(t, req)
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// posthog posts body to PostHog's /batch, the key in the header.
func (in *refusalIntakes) posthog(t *testing.T, body []byte) answer {
	req, _ := http.NewRequest(http.MethodPost, in.base+"/batch", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+refusalToken)
	req.Header.Set("Content-Type", "application/json")
	return in.do(t, req)
}

// segment posts body to Segment's /v1/batch, the write key as the user.
func (in *refusalIntakes) segment(t *testing.T, body []byte) answer {
	req, _ := http.NewRequest(http.MethodPost, in.base+"/v1/batch", bytes.NewReader(body))
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(refusalToken+":")))
	req.Header.Set("Content-Type", "application/json")
	return in.do(t, req)
}

// upload sends a file through the dashboard's Ingest page form.
func (in *refusalIntakes) upload(t *testing.T, name string, content []byte) answer {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.WriteField("_csrf", in.csrf)
	fw, _ := w.CreateFormFile("file", name)
	fw.Write(content)
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, in.base+"/ingest/upload", &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return in.do(t, req)
}

// ndjson is n valid events, ids prefix-0…, one a line.
func ndjson(prefix string, n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"event_id":"%s-%d","time":"2026-01-15T09:30:00Z","assistant":"chatgpt","channel":"ios","user_id":"u-%d"}`+"\n", prefix, i, i)
	}
	return b.Bytes()
}

// posthogBatch and segmentBatch are n valid messages of each family,
// padded by pad bytes of a property.
func posthogBatch(prefix string, n, pad int) []byte {
	var b strings.Builder
	b.WriteString(`{"batch":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"uuid":"%s-%d","event":"message","distinct_id":"u-%d","timestamp":"2026-01-15T09:30:00Z","properties":{"assistant":"chatgpt","channel":"ios","pad":%q}}`,
			prefix, i, i, strings.Repeat("x", pad))
	}
	b.WriteString("]}")
	return []byte(b.String())
}

func segmentBatch(prefix string, n, pad int) []byte {
	var b strings.Builder
	b.WriteString(`{"batch":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"type":"track","messageId":"%s-%d","event":"message","userId":"u-%d","timestamp":"2026-01-15T09:30:00Z","properties":{"assistant":"chatgpt","channel":"ios","pad":%q}}`,
			prefix, i, i, strings.Repeat("x", pad))
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// TestSameRefusalSameAnswerOnEveryIntake: a body refused as a whole, for
// the same cause, gets the same status and the same Retry-After from POST
// /v1/events, the PostHog and Segment endpoints and the dashboard's
// upload. The wanted answers are written out here, one per cause, not
// read from the code.
func TestSameRefusalSameAnswerOnEveryIntake(t *testing.T) {
	in := startRefusalIntakes(t)
	check := func(cause string, want answer, got map[string]answer) {
		t.Helper()
		for intake, a := range got {
			if a != want {
				t.Errorf("%s, %s: %v, want %v", cause, intake, a, want)
			}
		}
	}

	notJSON := []byte(`{"batch": [ not json`)
	check("not JSON", answer{400, ""}, map[string]answer{
		"/v1/events": in.events(t, "application/json", notJSON),
		"/batch":     in.posthog(t, notJSON),
		"/v1/batch":  in.segment(t, notJSON),
		"upload":     in.upload(t, "events.json", notJSON),
	})

	// gzip data cut short: the header reads, the stream ends early.
	cut := gzipped(ndjson("cut", 50))
	cut = cut[:len(cut)-12]
	check("gzip cut short", answer{400, ""}, map[string]answer{
		"/v1/events": in.eventsGzip(t, cut),
		"/batch":     in.posthog(t, cut),
		"/v1/batch":  in.segment(t, cut),
		"upload":     in.upload(t, "events.ndjson.gz", cut),
	})

	// Over MaxBody, every line within MaxLine: under the upload form's
	// own bound (MaxBody plus the form's framing), so the pipeline says.
	big := ndjson("big", refusalMaxBody/100)
	if len(big) <= refusalMaxBody {
		t.Fatalf("the big body is %d bytes, not over %d", len(big), refusalMaxBody)
	}
	check("body over the limit", answer{413, ""}, map[string]answer{
		"/v1/events": in.events(t, "application/x-ndjson", big),
		"/batch":     in.posthog(t, posthogBatch("big", refusalMaxBody/500+1, 500)),
		"/v1/batch":  in.segment(t, segmentBatch("big", refusalMaxBody/500+1, 500)),
		"upload":     in.upload(t, "events.ndjson", big),
	})

	// A line over MaxLine: only the line-oriented intakes have lines.
	long := append(ndjson("long", 1), []byte(`{"event_id":"long-x","pad":"`+strings.Repeat("x", refusalMaxLine)+`"}`+"\n")...)
	check("line over the limit", answer{413, ""}, map[string]answer{
		"/v1/events": in.events(t, "application/x-ndjson", long),
		"upload":     in.upload(t, "events.ndjson", long),
	})

	// Every decoding slot held: each intake waits the decode wait (10 s)
	// and is told to come back in a second. The four wait together.
	release := make(chan struct{})
	var held sync.WaitGroup
	for range in.a.Ingest.DecodeSlots() {
		held.Add(1)
		go func() {
			_ = in.a.Ingest.WithDecodeSlot(context.Background(), func() error {
				held.Done()
				<-release
				return nil
			})
		}()
	}
	held.Wait()
	busy := map[string]answer{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, send := range map[string]func() answer{
		"/v1/events": func() answer { return in.events(t, "application/x-ndjson", ndjson("busy", 1)) },
		"/batch":     func() answer { return in.posthog(t, posthogBatch("busy", 1, 0)) },
		"/v1/batch":  func() answer { return in.segment(t, segmentBatch("busy", 1, 0)) },
		"upload":     func() answer { return in.upload(t, "events.ndjson", ndjson("busy-up", 1)) },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := send()
			mu.Lock()
			busy[name] = a
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(release)
	check("decoding slots busy", answer{503, "1"}, busy)

	// ClickHouse refuses the batch: the events table is gone.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := in.a.Backend.Store.Conn.Exec(ctx, "RENAME TABLE events TO events_away"); err != nil {
		t.Fatal(err)
	}
	check("ClickHouse unavailable", answer{503, "5"}, map[string]answer{
		"/v1/events": in.events(t, "application/x-ndjson", ndjson("down", 1)),
		"/batch":     in.posthog(t, posthogBatch("down", 1, 0)),
		"/v1/batch":  in.segment(t, segmentBatch("down", 1, 0)),
		"upload":     in.upload(t, "events.ndjson", ndjson("down-up", 1)),
	})

	// The pipeline shuts down; the process still answers.
	if err := in.a.Ingest.Close(ctx); err != nil {
		t.Fatal(err)
	}
	check("shutting down", answer{503, "5"}, map[string]answer{
		"/v1/events": in.events(t, "application/x-ndjson", ndjson("closed", 1)),
		"/batch":     in.posthog(t, posthogBatch("closed", 1, 0)),
		"/v1/batch":  in.segment(t, segmentBatch("closed", 1, 0)),
		"upload":     in.upload(t, "events.ndjson", ndjson("closed-up", 1)),
	})
}
