package chserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Server is a running ClickHouse child process.
type Server struct {
	Dir      string
	TCPAddr  string // host:port of the native protocol
	HTTPAddr string // host:port of the HTTP interface
	cmd      *exec.Cmd
	done     chan error
	log      *slog.Logger
}

// Options configure Start.
type Options struct {
	// Dir holds the generated config and the data; it survives restarts.
	Dir string
	// StartTimeout bounds the wait for the first answer.
	StartTimeout time.Duration
	Logger       *slog.Logger

	// TCPPort and HTTPPort, when both set, are used as given, without the
	// retry on a clash: the nodes of a cluster must know each other's ports
	// before any of them starts. Zero: free ports are picked.
	TCPPort, HTTPPort int
	// ExtraConfig is XML added to the generated config's root element as is
	// (a cluster node's zookeeper, remote_servers, macros, ...). Empty for a
	// single server.
	ExtraConfig string
	// ExtraProfiles is XML added inside users.xml's <profiles>.
	ExtraProfiles string
	// DefaultSettings is XML added to the default settings profile (it may
	// set load_balancing, random otherwise).
	DefaultSettings string
}

const pidFile = "clickhouse.pid"

// Start launches a server in opts.Dir on free loopback ports and returns
// once it answers. The caller must hold the data folder's lock (see Lock):
// a server left over from a crashed run is stopped first, because two
// servers on one store would corrupt it.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 60 * time.Second
	}
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create ClickHouse folder: %w", err)
	}
	stopOrphan(dir, opts.Logger)

	if opts.TCPPort != 0 && opts.HTTPPort != 0 {
		return startOnce(ctx, bin, dir, opts.TCPPort, opts.HTTPPort, opts)
	}
	var lastErr error
	// ClickHouse cannot bind port 0, so ports are picked here and may be
	// taken by someone else before the server binds them: retry on a clash.
	for attempt := 0; attempt < 5; attempt++ {
		ports, err := FreePorts(2)
		if err != nil {
			return nil, err
		}
		tcpPort, httpPort := ports[0], ports[1]
		s, err := startOnce(ctx, bin, dir, tcpPort, httpPort, opts)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errPortClash) {
			break
		}
	}
	return nil, lastErr
}

var errPortClash = errors.New("port already in use")

func startOnce(ctx context.Context, bin Binary, dir string, tcpPort, httpPort int, opts Options) (*Server, error) {
	cfgPath, err := writeConfig(dir, tcpPort, httpPort, opts.ExtraConfig, opts.ExtraProfiles, opts.DefaultSettings)
	if err != nil {
		return nil, fmt.Errorf("write ClickHouse config: %w", err)
	}
	args := append(append([]string{}, bin.Args...), "--config-file="+cfgPath)
	cmd := exec.Command(bin.Path, args...)
	cmd.Dir = dir
	stderr, err := os.OpenFile(filepath.Join(dir, "log", "stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, err
	}
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	// Own process group: Ctrl-C in the terminal reaches only the app, which
	// flushes what it accepted before it stops the server itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		stderr.Close()
		return nil, fmt.Errorf("start %s: %w", bin.Path, err)
	}
	_ = os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(cmd.Process.Pid)), 0o640)
	s := &Server{
		Dir:      dir,
		TCPAddr:  fmt.Sprintf("127.0.0.1:%d", tcpPort),
		HTTPAddr: fmt.Sprintf("127.0.0.1:%d", httpPort),
		cmd:      cmd,
		done:     make(chan error, 1),
		log:      opts.Logger,
	}
	go func() { s.done <- cmd.Wait(); stderr.Close() }()

	deadline := time.Now().Add(opts.StartTimeout)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case err := <-s.done:
			s.done <- err
			_ = os.Remove(filepath.Join(dir, pidFile))
			tail := logTail(dir)
			if strings.Contains(tail, "Address already in use") {
				return nil, errPortClash
			}
			return nil, fmt.Errorf("ClickHouse server exited during start (%v); last log lines:\n%s", err, tail)
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if resp, err := client.Get("http://" + s.HTTPAddr + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				opts.Logger.Info("managed ClickHouse started", "dir", dir, "tcp", s.TCPAddr, "pid", cmd.Process.Pid)
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("ClickHouse server in %s did not answer within %s; see %s", dir, opts.StartTimeout, filepath.Join(dir, "log"))
		}
	}
}

// Stop ends the server: SIGTERM, a grace period, then SIGKILL.
func (s *Server) Stop() error {
	if s == nil || s.cmd == nil {
		return nil
	}
	defer os.Remove(filepath.Join(s.Dir, pidFile))
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		return nil
	case <-time.After(30 * time.Second):
	}
	s.log.Warn("ClickHouse did not stop within 30s; killing it", "pid", s.cmd.Process.Pid)
	_ = s.cmd.Process.Kill()
	err := <-s.done
	s.done <- err
	return nil
}

// Kill ends the server at once, as a crash would. Tests use it.
func (s *Server) Kill() {
	_ = s.cmd.Process.Kill()
	err := <-s.done
	s.done <- err
}

// stopOrphan stops a server left running by a process that died without
// stopping it.
func stopOrphan(dir string, log *slog.Logger) {
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || !strings.HasPrefix(strings.TrimSpace(string(comm)), "clickhouse") {
		return
	}
	log.Warn("stopping a ClickHouse server left over from an earlier run", "pid", pid)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 300; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// FreePorts returns n distinct loopback ports that were free a moment ago.
// Someone else may take one before it is bound: callers retry on a clash.
func FreePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func logTail(dir string) string {
	var out []string
	for _, f := range []string{"log/stderr.log", "log/clickhouse-server.err.log"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 10 {
			lines = lines[len(lines)-10:]
		}
		out = append(out, lines...)
	}
	return strings.Join(out, "\n")
}
