package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

// The real PostHog SDKs in their capture v1 mode: posthog-python pinned in
// testdata/sdk-python/requirements.txt (installed into build/sdk-python),
// posthog-go pinned in testdata/sdk-go/go.mod (a module of its own, built
// through the Go module proxy).
const (
	sdkPythonDir = "testdata/sdk-python"
	sdkGoDir     = "testdata/sdk-go"
)

// sdkFail skips, or fails when CI is set: CI must run the SDK tests.
func sdkFail(t *testing.T) func(string, ...any) {
	if os.Getenv("CI") != "" {
		return t.Fatalf
	}
	return t.Skipf
}

// pythonSDK returns the python of a virtual environment holding the
// pinned posthog-python, creating it when it is missing or out of date.
func pythonSDK(t *testing.T) string {
	t.Helper()
	fail := sdkFail(t)
	venv, err := filepath.Abs(filepath.Join("..", "..", "build", "sdk-python"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := os.ReadFile(filepath.Join(sdkPythonDir, "requirements.txt"))
	if err != nil {
		t.Fatal(err)
	}
	python := filepath.Join(venv, "bin", "python")
	stamp := filepath.Join(venv, "requirements.installed")
	if have, err := os.ReadFile(stamp); err == nil && bytes.Equal(have, req) {
		return python
	}
	if _, err := exec.LookPath("python3"); err != nil {
		fail("python3 is not installed (the capture v1 test runs posthog-python): %v", err)
		return ""
	}
	_ = os.RemoveAll(venv)
	if out, err := exec.Command("python3", "-m", "venv", venv).CombinedOutput(); err != nil {
		fail("python3 -m venv %s (Debian: apt-get install python3-venv): %v\n%s", venv, err, out)
		return ""
	}
	cmd := exec.Command(filepath.Join(venv, "bin", "pip"), "install", "--quiet", "--disable-pip-version-check", "-r", filepath.Join(sdkPythonDir, "requirements.txt"))
	if out, err := cmd.CombinedOutput(); err != nil {
		fail("pip install -r %s/requirements.txt: %v\n%s", sdkPythonDir, err, out)
		return ""
	}
	if err := os.WriteFile(stamp, req, 0o644); err != nil {
		t.Fatal(err)
	}
	return python
}

// goSDK builds testdata/sdk-go (posthog-go, pinned) and returns the binary.
func goSDK(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		sdkFail(t)("go is not on PATH (the capture v1 test builds a posthog-go program): %v", err)
		return ""
	}
	bin := filepath.Join(t.TempDir(), "send")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, ".")
	cmd.Dir = sdkGoDir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		sdkFail(t)("go build in %s (posthog-go from the module proxy): %v\n%s", sdkGoDir, err, out)
		return ""
	}
	return bin
}

// v1Post is one request the SDK sent, as the proxy saw it.
type v1Post struct {
	requestID, attempt, encoding, auth string
	answered                           []string // the uuids of the instance's answer, sorted
}

// TestCaptureV1SDKs runs posthog-python (capture_mode="v1", gzip) and
// posthog-go (CaptureModeAnalyticsV1, zstd) against a running instance
// through a proxy. Each SDK sends 30 events of 10 people, then the same 30
// again. The proxy either loses the answer to the first request (503, as
// if cut off after the commit: the SDK resends the whole request) or tells
// 10 of its events to retry (the SDK resends only those); either way the
// resend carries the same PostHog-Request-Id and PostHog-Attempt 2, and in
// the end 30 events of 10 people are stored, each once, mapped as /batch/
// maps them.
func TestCaptureV1SDKs(t *testing.T) {
	for _, c := range []struct {
		sdk, prefix, encoding string
		command               func(t *testing.T) []string
	}{
		{"posthog-python", "py", "gzip", func(t *testing.T) []string {
			return []string{pythonSDK(t), filepath.Join(sdkPythonDir, "send.py")}
		}},
		{"posthog-go", "go", "zstd", func(t *testing.T) []string { return []string{goSDK(t)} }},
	} {
		t.Run(c.sdk, func(t *testing.T) {
			command := c.command(t)
			for _, partial := range []bool{false, true} {
				name := "lost answer"
				if partial {
					name = "partial retry"
				}
				t.Run(name, func(t *testing.T) { runCaptureV1SDK(t, c.sdk, c.prefix, c.encoding, command, partial) })
			}
		})
	}
}

// runCaptureV1SDK runs one SDK through one proxy behaviour (see
// TestCaptureV1SDKs).
func runCaptureV1SDK(t *testing.T, sdk, prefix, encoding string, command []string, partial bool) {
	const key = "sdk-v1-key-0123456789"
	s := chtest.NewStore(t)
	d, srv := sdkInstance(t, s, key)

	var mu sync.Mutex
	var posts []v1Post
	var retried []string // the uuids the proxy told to retry
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/i/v1/analytics/events" {
			http.Error(w, "test: only capture v1 is expected", http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, srv.URL+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		var res struct {
			Results map[string]map[string]string `json:"results"`
		}
		_ = json.Unmarshal(answer, &res)
		ids := make([]string, 0, len(res.Results))
		for id := range res.Results {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		mu.Lock()
		posts = append(posts, v1Post{r.Header.Get("PostHog-Request-Id"), r.Header.Get("PostHog-Attempt"), r.Header.Get("Content-Encoding"), r.Header.Get("Authorization"), ids})
		first := len(posts) == 1
		mu.Unlock()
		switch {
		case first && !partial:
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"test: the answer was lost"}` + "\n"))
			return
		case first:
			// Stored, but 10 of them told to retry.
			mu.Lock()
			retried = ids[:min(10, len(ids))]
			mu.Unlock()
			for _, id := range ids[:min(10, len(ids))] {
				res.Results[id] = map[string]string{"result": "retry", "details": "not_persisted"}
			}
			answer, _ = json.Marshal(res)
			w.Header().Set("Retry-After", "1")
		}
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
	}))
	defer proxy.Close()

	const run = "r1"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Env = append(os.Environ(), "ADOPTSCOPE_URL="+proxy.URL, "ADOPTSCOPE_KEY="+key, "ADOPTSCOPE_RUN="+run)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s\n%s", sdk, err, out, stderr.String())
	}
	var res struct {
		Errors    []string `json:"errors"`
		Delivered *int     `json:"delivered"`
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("%s: %q: %v", sdk, out, err)
	}
	if len(res.Errors) != 0 {
		t.Errorf("the SDK reported errors: %v", res.Errors)
	}
	if res.Delivered != nil && *res.Delivered != 60 {
		t.Errorf("the SDK took %d events as delivered, want 60", *res.Delivered)
	}

	mu.Lock()
	seen := append([]v1Post(nil), posts...)
	told := retried
	mu.Unlock()
	if len(seen) < 3 {
		t.Fatalf("the SDK sent %d requests: want the first, its resend and the second send: %+v", len(seen), seen)
	}
	if seen[1].requestID != seen[0].requestID || seen[0].requestID == "" || seen[0].attempt != "1" || seen[1].attempt != "2" {
		t.Errorf("the resend is not the same request's attempt 2: %+v", seen[:2])
	}
	resent := seen[0].answered // the whole request
	if partial {
		resent = told // only the events told to retry
	}
	if !slices.Equal(seen[1].answered, resent) {
		t.Errorf("the resend carried %v, want %v", seen[1].answered, resent)
	}
	for _, p := range seen {
		if p.encoding != encoding || p.auth != "Bearer "+key {
			t.Errorf("request %+v: want Content-Encoding %s and the key as a bearer token", p, encoding)
		}
	}

	// 30 events of 10 people, each once, mapped as /batch/ maps them.
	assistants := []string{"chatgpt", "copilot", "meta_ai", "perplexity"}
	channels := []string{"web", "ios", "whatsapp"}
	want := map[sdkRow]int{}
	people := map[uint64]bool{}
	for i := 0; i < 30; i++ {
		uk := d.Ingest.UserKey(fmt.Sprintf("%s-person-%d-%s", prefix, i%10, run))
		people[uk] = true
		want[sdkRow{assistant: assistants[i%4], channel: channels[i%3], eventType: "message", modality: "text", source: sdk, userKey: uk, count: uint32(i%5 + 1)}]++
	}
	got := sdkRows(t, s)
	if len(got) != 30 || len(people) != 10 {
		t.Fatalf("stored %d rows (want 30) of %d people (want 10): %+v", len(got), len(people), got)
	}
	gotPeople := map[uint64]bool{}
	for _, r := range got {
		gotPeople[r.userKey] = true
		want[r]--
	}
	for r, n := range want {
		if n != 0 {
			t.Errorf("row %+v: %d more stored than sent", r, -n)
		}
	}
	if len(gotPeople) != 10 {
		t.Errorf("%d people stored, want 10", len(gotPeople))
	}
	// The resend and the second send are duplicates.
	m := metricsText(t, srv.URL)
	for _, line := range []string{
		`adoptscope_sdk_messages_total{endpoint="/i/v1/analytics/events",result="accepted"} 30`,
		fmt.Sprintf(`adoptscope_sdk_messages_total{endpoint="/i/v1/analytics/events",result="duplicate"} %d`, 30+len(resent)),
	} {
		if !strings.Contains(m, line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}

}
