package ingestapi_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chserver"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/schema"
)

// proxy forwards a fixed local port to the current ClickHouse address, so
// the pipeline's connection pool keeps its address while the server behind
// it is stopped and started again (ClickHouse cannot be told to reuse the
// same ports: the managed server picks free ones on every start).
type proxy struct {
	ln     net.Listener
	target atomic.Value // string
	mu     sync.Mutex
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	p.target.Store(target)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *proxy) serve(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target.Load().(string), time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

// cut closes every open connection (the server went away).
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestClickHouseStoppedWhileClientsSend(t *testing.T) {
	chtest.Server(t) // skips (or fails in CI) without ClickHouse
	dir := t.TempDir()
	ctx := context.Background()
	startCH := func() *chserver.Server {
		sctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		srv, err := chserver.Start(sctx, chserver.Options{Dir: dir, Logger: quiet()})
		if err != nil {
			t.Fatalf("start ClickHouse: %v", err)
		}
		return srv
	}
	srv := startCH()
	defer func() { srv.Stop() }()
	px := newProxy(t, srv.TCPAddr)
	s, err := store.Open(ctx, store.Config{Addr: px.ln.Addr().String(), Database: "outage", User: "default", DialTimeout: 2 * time.Second}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := schema.Migrate(ctx, s, quiet()); err != nil {
		t.Fatal(err)
	}
	_, web := newServer(t, s, ingest.Config{FlushInterval: 20 * time.Millisecond, WriteTimeout: 5 * time.Second})

	var (
		mu       sync.Mutex
		acked    []string
		statuses = map[int]int{}
		seq      atomic.Int64
		stop     atomic.Bool
	)
	client := &http.Client{Timeout: 30 * time.Second}
	send := func() {
		var b strings.Builder
		ids := make([]string, 50)
		for i := range ids {
			ids[i] = fmt.Sprintf("o-%d", seq.Add(1))
			fmt.Fprintf(&b, `{"event_id":%q,"time":"2026-01-14T10:00:00Z","assistant":"chatgpt","channel":"whatsapp","user_id":"u%d"}`+"\n", ids[i], i)
		}
		req, _ := http.NewRequest(http.MethodPost, web.URL+"/v1/events", strings.NewReader(b.String()))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("send: %v", err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		mu.Lock()
		defer mu.Unlock()
		statuses[resp.StatusCode]++
		switch resp.StatusCode {
		case http.StatusOK:
			acked = append(acked, ids...)
		case http.StatusServiceUnavailable:
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
		default:
			t.Errorf("unexpected status %d", resp.StatusCode)
		}
	}
	count := func(code int) int { mu.Lock(); defer mu.Unlock(); return statuses[code] }
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(2 * time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: statuses %v", what, statuses)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				send()
			}
		}()
	}

	waitFor("first commits", func() bool { return count(200) >= 20 })
	srv.Stop() // SIGTERM while clients send
	px.cut()
	ok := count(200)
	waitFor("503 answers", func() bool { return count(503) >= 20 })
	srv = startCH()
	px.target.Store(srv.TCPAddr)
	waitFor("commits after restart", func() bool { return count(200) >= ok+20 })
	stop.Store(true)
	wg.Wait()

	// Every acknowledged event is stored, once.
	ids := map[string]int{}
	qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rows, err := s.Conn.Query(qctx, "SELECT event_id, count() FROM events GROUP BY event_id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var n uint64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		ids[id] = int(n)
	}
	rows.Close()
	missing := 0
	for _, id := range acked {
		if ids[id] != 1 {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged events are not stored exactly once", missing, len(acked))
	}
	t.Logf("statuses %v; %d acknowledged events, %d stored", statuses, len(acked), len(ids))
}
