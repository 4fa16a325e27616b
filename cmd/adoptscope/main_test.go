package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/adoptscope/adoptscope/internal/platform/chserver"
)

// These tests run the real binary as a user would.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "adoptscope-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "adoptscope")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func requireClickHouse(t *testing.T) {
	t.Helper()
	if _, err := chserver.Find(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs a ClickHouse server binary: %v", err)
		}
		t.Skip(err)
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// instance is a running `adoptscope up`.
type instance struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs strings.Builder
	done chan error
}

func (in *instance) output() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.logs.String()
}

func start(t *testing.T, env []string, args ...string) *instance {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	in := &instance{cmd: cmd, done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			in.mu.Lock()
			in.logs.WriteString(sc.Text() + "\n")
			in.mu.Unlock()
		}
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { in.done <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	return in
}

func waitHealthy(t *testing.T, in *instance, addr string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-in.done:
			t.Fatalf("adoptscope exited early (%v):\n%s", err, in.output())
		default:
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return body
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no healthy answer from %s:\n%s", addr, in.output())
	return nil
}

var tcpRe = regexp.MustCompile(`managed ClickHouse started.*tcp=(127\.0\.0\.1:\d+) pid=(\d+)`)

func managedServer(t *testing.T, in *instance) (addr string, pid int) {
	t.Helper()
	m := tcpRe.FindStringSubmatch(in.output())
	if m == nil {
		t.Fatalf("no managed ClickHouse in the log:\n%s", in.output())
	}
	fmt.Sscan(m[2], &pid)
	for _, kv := range in.cmd.Env {
		if data, ok := strings.CutPrefix(kv, "ADOPTSCOPE_DATA_DIR="); ok {
			if b, err := os.ReadFile(filepath.Join(data, "clickhouse-password")); err == nil {
				managedPasswords.Store(m[1], strings.TrimSpace(string(b)))
			}
		}
	}
	return m[1], pid
}

// managedPasswords holds the default user's password of each managed
// server the tests found, by address (read from its data folder).
var managedPasswords sync.Map

func chPassword(addr string) string {
	pw, _ := managedPasswords.Load(addr)
	s, _ := pw.(string)
	return s
}

// chOptions connects to a managed server found by managedServer.
func chOptions(addr string) *clickhouse.Options {
	return &clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Username: "default", Password: chPassword(addr)}}
}

var clientLine = regexp.MustCompile(`Managed ClickHouse \(loopback only\): clickhouse-client --port (\d+) --password "\$\(cat (\S+)\)"`)

// checkClientLine runs the clickhouse-client line up prints: with the
// password from the file it names, the managed server answers; without
// it, it refuses.
func checkClientLine(t *testing.T, in *instance, data, chAddr string) {
	t.Helper()
	m := clientLine.FindStringSubmatch(in.output())
	if m == nil {
		t.Fatalf("up printed no clickhouse-client line:\n%s", in.output())
	}
	if _, port, _ := net.SplitHostPort(chAddr); port != m[1] || m[2] != filepath.Join(data, "clickhouse-password") {
		t.Fatalf("clickhouse-client line names port %s and %s; the server is on %s, its password in %s", m[1], m[2], chAddr, filepath.Join(data, "clickhouse-password"))
	}
	if _, err := os.Stat("/usr/bin/clickhouse-client"); err != nil {
		return
	}
	pw, err := os.ReadFile(m[2])
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/usr/bin/clickhouse-client", "--port", m[1], "--password", strings.TrimSpace(string(pw)), "--query", "SELECT 'answered'").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "answered" {
		t.Errorf("clickhouse-client with the password: %v %s", err, out)
	}
	out, err = exec.Command("/usr/bin/clickhouse-client", "--port", m[1], "--query", "SELECT 'answered'").CombinedOutput()
	if err == nil || strings.Contains(string(out), "answered") {
		t.Errorf("clickhouse-client without the password answered: %s", out)
	}
}

func interrupt(t *testing.T, in *instance) {
	t.Helper()
	_ = in.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-in.done:
		if err != nil {
			t.Fatalf("adoptscope exited with %v after Ctrl-C:\n%s", err, in.output())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("adoptscope did not stop after Ctrl-C:\n%s", in.output())
	}
}

func chExec(t *testing.T, addr, q string) {
	t.Helper()
	conn, err := clickhouse.Open(chOptions(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.Exec(ctx, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestUpHealthStopRestartAndLock(t *testing.T) {
	requireClickHouse(t)
	data := t.TempDir()
	addr := freeAddr(t)
	env := []string{"ADOPTSCOPE_DATA_DIR=" + data, "ADOPTSCOPE_ADDR=" + addr, "ADOPTSCOPE_DEMO=off",
		"ADOPTSCOPE_CLICKHOUSE_ADDR="}

	in := start(t, env, "up")
	health := waitHealthy(t, in, addr)
	if health["status"] != "ok" || !strings.HasPrefix(fmt.Sprint(health["clickhouse"]), "1") && !strings.HasPrefix(fmt.Sprint(health["clickhouse"]), "2") {
		t.Fatalf("health = %v", health)
	}
	if v, ok := health["schema"].(float64); !ok || v < 1 {
		t.Fatalf("health schema = %v", health["schema"])
	}
	if !strings.Contains(in.output(), "http://"+addr) {
		t.Fatalf("URL not printed:\n%s", in.output())
	}
	chAddr, chPid := managedServer(t, in)
	checkClientLine(t, in, data, chAddr)
	chExec(t, chAddr, "CREATE TABLE IF NOT EXISTS default.kept (x UInt8) ENGINE = MergeTree() ORDER BY x")
	chExec(t, chAddr, "INSERT INTO default.kept SELECT 42")

	// A second instance on the same data folder is refused, clearly.
	second := exec.Command(binary, "up")
	second.Env = append(os.Environ(), "ADOPTSCOPE_DATA_DIR="+data, "ADOPTSCOPE_ADDR="+freeAddr(t), "ADOPTSCOPE_DEMO=off")
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by process") {
		t.Fatalf("second up: err=%v output:\n%s", err, out)
	}

	interrupt(t, in)
	if syscall.Kill(chPid, 0) == nil {
		t.Fatalf("managed ClickHouse (pid %d) still running after Ctrl-C", chPid)
	}

	in2 := start(t, env, "up")
	waitHealthy(t, in2, addr)
	chAddr2, _ := managedServer(t, in2)
	conn, err := clickhouse.Open(chOptions(chAddr2))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var x uint8
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.QueryRow(ctx, "SELECT x FROM default.kept").Scan(&x); err != nil || x != 42 {
		t.Fatalf("data after restart: x=%d err=%v", x, err)
	}
	interrupt(t, in2)
}

func TestUnreachableClickHouseFailsClearly(t *testing.T) {
	dead := freeAddr(t) // nothing listens there any more
	cmd := exec.Command(binary, "up")
	cmd.Env = append(os.Environ(), "ADOPTSCOPE_DATA_DIR="+t.TempDir(), "ADOPTSCOPE_ADDR="+freeAddr(t),
		"ADOPTSCOPE_CLICKHOUSE_ADDR="+dead, "ADOPTSCOPE_CLICKHOUSE_DIAL_TIMEOUT=2s", "ADOPTSCOPE_DEMO=off")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("up succeeded against %s:\n%s", dead, out)
	}
	if !strings.Contains(string(out), dead) {
		t.Fatalf("error does not name %s:\n%s", dead, out)
	}
}

func TestHelpListsCommands(t *testing.T) {
	out, err := exec.Command(binary, "help").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"up", "ingest", "web", "migrate", "version"} {
		if !regexp.MustCompile(`(?m)^  ` + c + ` `).Match(out) {
			t.Errorf("help lacks %s:\n%s", c, out)
		}
	}
	out, err = exec.Command(binary, "up", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ADOPTSCOPE_CLICKHOUSE_ADDR") {
		t.Fatalf("up --help: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "nosuch").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `unknown command "nosuch"`) {
		t.Fatalf("unknown command: %v\n%s", err, out)
	}
}

// The CLI's --api mode talks to a running instance, whose data folder lock
// keeps the CLI from opening the store itself.
func TestCommandsAgainstRunningInstance(t *testing.T) {
	requireClickHouse(t)
	data := t.TempDir()
	addr := freeAddr(t)
	in := start(t, []string{"ADOPTSCOPE_DATA_DIR=" + data, "ADOPTSCOPE_ADDR=" + addr, "ADOPTSCOPE_DEMO=off",
		"ADOPTSCOPE_CLICKHOUSE_ADDR=", "ADOPTSCOPE_ADMIN_TOKENS=adm-secret"}, "up")
	waitHealthy(t, in, addr)
	base := "http://" + addr
	run := func(args ...string) (string, error) {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "ADOPTSCOPE_DATA_DIR="+data, "ADOPTSCOPE_API_URL=", "ADOPTSCOPE_TOKEN=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	title := `Launch <b>"quoted"</b>`
	if out, err := run("annotate", "add", "--api", base, "--token", "adm-secret", "--start", "2026-01-15",
		"--title", title, "--kind", "launch"); err != nil {
		t.Fatalf("annotate add: %v\n%s", err, out)
	}
	out, err := run("annotate", "list", "--api", base, "--token", "adm-secret", "--format", "json")
	if err != nil {
		t.Fatalf("annotate list: %v\n%s", err, out)
	}
	var answer struct {
		Annotations []struct{ Title, Start string }
	}
	if err := json.Unmarshal([]byte(out), &answer); err != nil {
		t.Fatalf("annotate list output is not JSON: %v\n%s", err, out)
	}
	listed := answer.Annotations
	if len(listed) != 1 || listed[0].Title != title || listed[0].Start != "2026-01-15" {
		t.Fatalf("listed %+v, want the one annotation added", listed)
	}

	// A wrong token: the API's own message reaches the user, and the
	// command fails.
	out, err = run("annotate", "add", "--api", base, "--token", "wrong", "--start", "2026-01-15", "--title", "x")
	if err == nil || !strings.Contains(out, "401") {
		t.Fatalf("annotate add with a wrong token: err=%v\n%s", err, out)
	}
	out, err = run("export", "list", "--api", base, "--token", "adm-secret")
	if err != nil {
		t.Fatalf("export list: %v\n%s", err, out)
	}
	interrupt(t, in)
}
