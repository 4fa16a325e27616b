//go:build compat

package compat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

var errNoPython = errors.New("ADOPTSCOPE_COMPAT_PYTHON is not set: run make test-compat (it installs chdb-core into build/compat-venv)")

// front is a running chdb_front.py: ClickHouse 26.9 (chDB) behind the HTTP
// interface that clickhouse-go's HTTP transport speaks.
type front struct {
	Addr string // host:port
	Log  string // every statement it ran, one JSON object per line
	cmd  *exec.Cmd
}

// startFront starts the front on a free port with a fresh data folder and
// stops it when the test ends. Without ADOPTSCOPE_COMPAT_PYTHON (the venv's
// python, set by make test-compat) the test is skipped, or fails under CI.
func startFront(t *testing.T) *front {
	t.Helper()
	py := os.Getenv("ADOPTSCOPE_COMPAT_PYTHON")
	if py == "" {
		chtest.SkipOrFail(t, "chDB", errNoPython, errNoPython)
	}
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a port taken between the probe and the bind
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		log := os.Getenv("ADOPTSCOPE_COMPAT_LOG") // keep the statements there
		if log == "" {
			log = filepath.Join(dir, "statements.jsonl")
		}
		f := &front{Addr: "127.0.0.1:" + strconv.Itoa(port), Log: log}
		var out bytes.Buffer
		f.cmd = exec.Command(py, "chdb_front.py", "--path", filepath.Join(dir, fmt.Sprintf("chdb%d", attempt)),
			"--port", strconv.Itoa(port), "--log", f.Log, "--parallel-views")
		f.cmd.Stdout, f.cmd.Stderr = &out, &out
		if err := f.cmd.Start(); err != nil {
			t.Fatalf("start %s chdb_front.py: %v", py, err)
		}
		exited := make(chan struct{})
		go func() { f.cmd.Wait(); close(exited) }()
		if lastErr = waitPing(f.Addr, exited, 60*time.Second); lastErr == nil {
			t.Cleanup(func() {
				f.cmd.Process.Signal(os.Interrupt)
				select {
				case <-exited:
				case <-time.After(10 * time.Second):
					f.cmd.Process.Kill()
					<-exited
				}
			})
			return f
		}
		f.cmd.Process.Kill()
		<-exited
		lastErr = fmt.Errorf("%w; output: %s", lastErr, out.String())
	}
	t.Fatalf("chdb_front.py did not start: %v", lastErr)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitPing(addr string, exited <-chan struct{}, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("chdb_front.py exited")
		default:
		}
		if resp, err := http.Get("http://" + addr + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no answer on %s within %s", addr, d)
}

// Stats are the front's counters.
type Stats struct {
	Statements int `json:"statements"`
	Failed     int `json:"failed"`
}

func (f *front) stats(t *testing.T) Stats {
	t.Helper()
	resp, err := http.Get("http://" + f.Addr + "/front/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s Stats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// open opens the product's store on the front over clickhouse-go's HTTP
// transport, in database db (created by Open, as on any server).
func (f *front) open(t *testing.T, db string, mod func(*store.Config)) *store.Store {
	t.Helper()
	cfg := store.Config{Addr: f.Addr, Database: db, User: "default", Protocol: store.ProtocolHTTP, DialTimeout: 10 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, cfg, chtest.Logger())
	if err != nil {
		t.Fatalf("open the store over HTTP on the chDB front: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
