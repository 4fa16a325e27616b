package httpserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// serve runs s on a loopback port until the test ends and returns its
// address.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.Serve(ctx, "127.0.0.1:0", time.Second, func(a net.Addr) { addrc <- a.String() })
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case a := <-addrc:
		return a
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	return ""
}

func TestHostAllowed(t *testing.T) {
	f := func(host string, patterns []string, want bool) {
		t.Helper()
		if got := HostAllowed(host, patterns); got != want {
			t.Errorf("HostAllowed(%q, %q) = %v, want %v", host, patterns, got, want)
		}
	}
	// IP literals (a rebinding page cannot send them), localhost.
	f("127.0.0.1:8080", nil, true)
	f("10.1.2.3", nil, true)
	f("[::1]:8080", nil, true)
	f("[fe80::1%25eth0]:8080", nil, true)
	f("localhost:8080", nil, true)
	f("LOCALHOST.", nil, true)
	f("app.localhost:8080", nil, true)
	f("", nil, true)
	// Names: refused unless listed.
	f("evil.example:8080", nil, false)
	f("localhost.evil.example", nil, false)
	f("127.0.0.1.nip.io", nil, false)
	f("dash.example.com:443", []string{"dash.example.com"}, true)
	f("DASH.example.com.", []string{"dash.example.com"}, true)
	f("other.example.com", []string{"dash.example.com"}, false)
	f("a.example.com", []string{"*.example.com"}, true)
	f("a.b.example.com:8080", []string{"*.example.com"}, true)
	f("example.com", []string{"*.example.com"}, false)
	f("badexample.com", []string{"*.example.com"}, false)
	f("anything.example", []string{"*"}, true)
}

func TestHostGuardAnswers421NamingTheVariable(t *testing.T) {
	s := New(quietLog())
	s.Echo.GET("/api/v1/x", func(c echo.Context) error { return c.String(200, "ok") })
	addr := serve(t, s)
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/x", nil)
	req.Host = "evil.example:8080"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Error string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(body.Error, "ADOPTSCOPE_ALLOWED_HOSTS=evil.example") {
		t.Fatalf("foreign host: %d %q, want 421 naming ADOPTSCOPE_ALLOWED_HOSTS", resp.StatusCode, body.Error)
	}
	s.opts.AllowedHosts = []string{"evil.example"}
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 200 {
		t.Fatalf("listed host: %d, want 200", resp2.StatusCode)
	}
}

// trickle sends a request whose body of size bytes arrives one byte per
// every, and returns the status line and when it came (zero status: the
// connection was closed without an answer).
func trickle(t *testing.T, addr, path string, size int, every time.Duration) (status string, after time.Duration, sent int) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, size)
	var mu sync.Mutex
	stop := make(chan struct{})
	go func() {
		for i := 0; i < size; i++ {
			select {
			case <-stop:
				return
			case <-time.After(every):
			}
			if _, err := conn.Write([]byte("x")); err != nil {
				return
			}
			mu.Lock()
			sent++
			mu.Unlock()
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	after = time.Since(start)
	close(stop)
	mu.Lock()
	defer mu.Unlock()
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("reading the answer: %v", err)
	}
	return strings.TrimSpace(line), after, sent
}

// TestTrickledBodyCutOffAtItsDeadline: a client that sends its body a byte
// at a time is answered 408 at the body deadline and its connection
// closed; ingest's longer deadline lets the same body through; a handler
// that runs past the deadline after reading its body is not cut.
func TestTrickledBodyCutOffAtItsDeadline(t *testing.T) {
	s := New(quietLog())
	s.SetOptions(Options{BodyTimeout: 400 * time.Millisecond, IngestBodyTimeout: 5 * time.Second})
	read := func(c echo.Context) error {
		b, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err // the *BodyTimeoutError: 408
		}
		if c.QueryParam("work") != "" {
			time.Sleep(700 * time.Millisecond) // past the body deadline
		}
		return c.String(200, fmt.Sprint(len(b)))
	}
	s.Echo.POST("/api/v1/upload", read)
	s.Echo.POST("/v1/events", read)
	addr := serve(t, s)

	status, after, sent := trickle(t, addr, "/api/v1/upload", 100, 50*time.Millisecond)
	if !strings.Contains(status, " 408 ") {
		t.Fatalf("trickled body: answer %q after %s (%d bytes sent), want 408", status, after, sent)
	}
	if after < 400*time.Millisecond || after > 2*time.Second {
		t.Errorf("trickled body cut off after %s, want at its 400ms deadline", after)
	}
	if sent >= 100 {
		t.Errorf("all %d bytes were sent before the cut", sent)
	}

	// The same pace fits ingest's longer deadline.
	status, after, _ = trickle(t, addr, "/v1/events", 20, 50*time.Millisecond)
	if !strings.Contains(status, " 200 ") {
		t.Fatalf("ingest body within its deadline: %q after %s, want 200", status, after)
	}

	// A quick body and a slow handler: the deadline ends with the body.
	resp, err := http.Post("http://"+addr+"/api/v1/upload?work=1", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("slow handler after a quick body: %d, want 200", resp.StatusCode)
	}
}

func TestHeaderSizeLimit(t *testing.T) {
	s := New(quietLog())
	s.SetOptions(Options{MaxHeaderBytes: 8 << 10})
	s.Echo.GET("/healthz", func(c echo.Context) error { return c.String(200, "ok") })
	addr := serve(t, s)
	req, _ := http.NewRequest("GET", "http://"+addr+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("64 KiB header: %d, want 431", resp.StatusCode)
	}
	// net/http answers it before any handler, in text/plain; the server
	// answers it in the APIs' JSON shape, with the setting to change.
	var b struct{ Error string }
	if err := json.Unmarshal(body, &b); err != nil || !strings.Contains(b.Error, "ADOPTSCOPE_MAX_HEADER_BYTES") || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("64 KiB header: %s %q, want a JSON error naming ADOPTSCOPE_MAX_HEADER_BYTES", resp.Header.Get("Content-Type"), body)
	}
}

// TestConcurrencyCap: beyond MaxConcurrent dashboard/API requests, one more
// waits QueueTimeout and gets 503 with Retry-After and advice; health
// checks and ingest are not counted.
func TestConcurrencyCap(t *testing.T) {
	s := New(quietLog())
	s.SetOptions(Options{MaxConcurrent: 2, QueueTimeout: 100 * time.Millisecond})
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	slow := func(c echo.Context) error {
		entered <- struct{}{}
		<-release
		return c.String(200, "ok")
	}
	s.Echo.GET("/api/v1/slow", slow)
	s.Echo.GET("/healthz", func(c echo.Context) error { return c.String(200, "ok") })
	s.Echo.POST("/v1/events", func(c echo.Context) error { return c.String(200, "ok") })
	addr := serve(t, s)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := http.Get("http://" + addr + "/api/v1/slow"); err == nil {
				resp.Body.Close()
			}
		}()
	}
	<-entered
	<-entered
	start := time.Now()
	resp, err := http.Get("http://" + addr + "/api/v1/slow")
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Error string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body.Error, "ADOPTSCOPE_MAX_CONCURRENT_REQUESTS") {
		t.Fatalf("third request: %d Retry-After=%q %q, want 503 with advice", resp.StatusCode, resp.Header.Get("Retry-After"), body.Error)
	}
	if w := time.Since(start); w < 100*time.Millisecond {
		t.Errorf("refused after %s, want after the 100ms queue timeout", w)
	}
	for _, p := range []string{"/healthz"} {
		r, err := http.Get("http://" + addr + p)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 {
			t.Errorf("%s while the cap is full: %d, want 200", p, r.StatusCode)
		}
	}
	r, err := http.Post("http://"+addr+"/v1/events", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Errorf("ingest while the cap is full: %d, want 200", r.StatusCode)
	}
	if s.Rejected() != 1 {
		t.Errorf("Rejected() = %d, want 1", s.Rejected())
	}
	close(release)
	wg.Wait()
}
