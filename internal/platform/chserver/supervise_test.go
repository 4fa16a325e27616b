package chserver

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// logBuffer is a slog destination a test can read while the server writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func bufferedLog() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, nil)), lb
}

func waitState(t *testing.T, s *Server, what string, ok func(State) bool) State {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		if st := s.State(); ok(st) {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server never %s; state %+v", what, s.State())
	return State{}
}

// TestSupervisedServerRestartsAfterKill: a managed server killed with
// SIGKILL is restarted on its ports, with its data, and the log says so;
// while it is down State says why.
func TestSupervisedServerRestartsAfterKill(t *testing.T) {
	requireBinary(t)
	log, lb := bufferedLog()
	s, err := Start(context.Background(), Options{Dir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	s.Supervise(RestartPolicy{Backoff: 200 * time.Millisecond})
	query(t, s.TCPAddr, "CREATE TABLE default.kept (x UInt32) ENGINE = MergeTree() ORDER BY x")
	query(t, s.TCPAddr, "INSERT INTO default.kept SELECT number FROM system.numbers LIMIT 5")
	first := s.Pid()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	down := waitState(t, s, "reported down", func(st State) bool { return !st.Running })
	if !strings.Contains(down.Reason, "exited") || !strings.Contains(down.Reason, "restart 1 of 5") {
		t.Errorf("reason while down: %q", down.Reason)
	}
	up := waitState(t, s, "restarted", func(st State) bool { return st.Running && st.Restarts == 1 })
	if s.Pid() == first || up.Reason != "" {
		t.Fatalf("after restart: pid %d (was %d), state %+v", s.Pid(), first, up)
	}
	if n := count(t, s.TCPAddr, "SELECT count() FROM default.kept"); n != 5 {
		t.Fatalf("rows after restart on the same address = %d, want 5", n)
	}
	for _, want := range []string{"managed ClickHouse exited unexpectedly", "signal: killed", "managed ClickHouse restarted"} {
		if !strings.Contains(lb.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, lb.String())
		}
	}
	// Stop is no crash: nothing restarts it.
	pid := s.Pid()
	s.Stop()
	time.Sleep(500 * time.Millisecond)
	if alive(pid) || len(serversOn(filepath.Join(s.Dir, "config.xml"))) != 0 {
		t.Fatal("a server runs after Stop")
	}
	if strings.Count(lb.String(), "managed ClickHouse restarted") != 1 {
		t.Fatalf("restarted after Stop:\n%s", lb.String())
	}
}

// TestSupervisorGivesUpClearly: when the server cannot come back (here:
// another program took its port), the supervisor tries a bounded number of
// times, then says why and what to do.
func TestSupervisorGivesUpClearly(t *testing.T) {
	requireBinary(t)
	log, lb := bufferedLog()
	s, err := Start(context.Background(), Options{Dir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	s.Supervise(RestartPolicy{MaxAttempts: 2, Backoff: 100 * time.Millisecond})
	s.Kill()
	l, err := net.Listen("tcp", s.TCPAddr)
	if err != nil {
		t.Skipf("could not take the port back for the test: %v", err)
	}
	defer l.Close()
	st := waitState(t, s, "gave up", func(st State) bool { return st.GaveUp })
	if st.Running || !strings.Contains(st.Reason, "could not be restarted") || !strings.Contains(st.Reason, "2 attempts") ||
		!strings.Contains(st.Reason, strconv.Itoa(s.tcpPort)) || !strings.Contains(st.Reason, "restart AdoptScope") {
		t.Fatalf("state after giving up: %+v", st)
	}
	if !strings.Contains(lb.String(), "giving up") {
		t.Fatalf("log does not say it gave up:\n%s", lb.String())
	}
}

// TestOrphanFoundWithoutPidFile: a server left running on the folder is
// found by its command line even when the pid file is gone, and stopped
// before the new one starts; a pid file naming some other program leaves
// that program alone.
func TestOrphanFoundWithoutPidFile(t *testing.T) {
	requireBinary(t)
	dir := t.TempDir()
	log, lb := bufferedLog()
	orphan, err := Start(context.Background(), Options{Dir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, pidFile)); err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), Options{Dir: dir, Logger: log})
	if err != nil {
		t.Fatalf("start over an orphan: %v\n%s", err, lb.String())
	}
	select {
	case <-orphan.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("orphan %d still running", orphan.Pid())
	}
	if !strings.Contains(lb.String(), "stopped the managed ClickHouse of the earlier run") {
		t.Errorf("log does not say the orphan was stopped:\n%s", lb.String())
	}
	s.Stop()

	other := exec.Command("sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer other.Process.Kill()
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(other.Process.Pid)), 0o640); err != nil {
		t.Fatal(err)
	}
	s2, err := Start(context.Background(), Options{Dir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Stop()
	if !alive(other.Process.Pid) {
		t.Fatal("a program whose pid was in the pid file was stopped")
	}
	if !strings.Contains(lb.String(), "had already stopped") {
		t.Errorf("log does not say the earlier server was gone:\n%s", lb.String())
	}
}

func TestLockRecoveredAfterCrash(t *testing.T) {
	dir := t.TempDir()
	// A holder that died: its pid is still in the file, the kernel
	// released its flock.
	if err := os.WriteFile(filepath.Join(dir, "adoptscope.lock"), []byte("999999\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	l, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l.Recovered != 999999 {
		t.Fatalf("Recovered = %d, want 999999", l.Recovered)
	}
	l.Unlock()
	l2, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Unlock()
	if l2.Recovered != 0 {
		t.Fatalf("after a clean unlock Recovered = %d, want 0", l2.Recovered)
	}
}
