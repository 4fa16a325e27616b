package chserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Server is a running ClickHouse child process.
type Server struct {
	Dir      string
	TCPAddr  string // host:port of the native protocol
	HTTPAddr string // host:port of the HTTP interface; empty when it is off
	// Password is the default user's ("": none).
	Password string
	log      *slog.Logger

	// What a restart needs (Supervise): the same binary, options and
	// ports, so that clients reconnect to the address they know.
	bin               Binary
	opts              Options
	tcpPort, httpPort int

	mu   sync.Mutex
	cmd  *exec.Cmd  // the current process; replaced by a restart
	done chan error // its exit, received and put back by each reader
	// stopping is set by Stop: an exit is then no crash to recover from.
	stopping bool
	// watch is the supervisor's state (Supervise); nil when none runs.
	watch *supervisor
}

// Options configure Start.
type Options struct {
	// Dir holds the generated config and the data; it survives restarts.
	Dir string
	// StartTimeout bounds the wait for the first answer.
	StartTimeout time.Duration
	Logger       *slog.Logger

	// TCPPort and HTTPPort, when set, are used as given; when every port
	// served is given, without the retry on a clash: the nodes of a cluster
	// must know each other's ports before any of them starts. Zero: free
	// ports are picked.
	TCPPort, HTTPPort int
	// HTTP serves the HTTP interface too (always when HTTPPort is set).
	// Off by default: a URL on it runs SQL (?query=), so anything on the
	// machine that can be made to send a request (a webhook, a browser)
	// could reach the data; the product needs only the native port.
	HTTP bool
	// Password protects the default user ("": none, for throwaway test
	// servers). Both ports listen on loopback only either way.
	Password string
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

	withHTTP := opts.HTTP || opts.HTTPPort != 0
	if opts.TCPPort != 0 && (opts.HTTPPort != 0 || !withHTTP) {
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
		tcpPort, httpPort := ports[0], 0
		if opts.TCPPort != 0 {
			tcpPort = opts.TCPPort
		}
		if withHTTP {
			httpPort = ports[1]
			if opts.HTTPPort != 0 {
				httpPort = opts.HTTPPort
			}
		}
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
	s := &Server{
		Dir:      dir,
		TCPAddr:  fmt.Sprintf("127.0.0.1:%d", tcpPort),
		Password: opts.Password,
		log:      opts.Logger,
		bin:      bin, opts: opts, tcpPort: tcpPort, httpPort: httpPort,
	}
	if httpPort != 0 {
		s.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", httpPort)
	}
	cmd, done, err := s.launch(ctx)
	if err != nil {
		return nil, err
	}
	s.cmd, s.done = cmd, done
	opts.Logger.Info("managed ClickHouse started", "dir", dir, "tcp", s.TCPAddr, "pid", cmd.Process.Pid)
	return s, nil
}

// launch starts one server process on s's folder and ports and waits until
// it answers; on failure nothing is left running.
func (s *Server) launch(ctx context.Context) (*exec.Cmd, chan error, error) {
	bin, dir, tcpPort, httpPort, opts := s.bin, s.Dir, s.tcpPort, s.httpPort, s.opts
	cfgPath, err := writeConfig(dir, tcpPort, httpPort, opts.Password, opts.ExtraConfig, opts.ExtraProfiles, opts.DefaultSettings)
	if err != nil {
		return nil, nil, fmt.Errorf("write ClickHouse config: %w", err)
	}
	args := append(append([]string{}, bin.Args...), "--config-file="+cfgPath)
	cmd := exec.Command(bin.Path, args...)
	cmd.Dir = dir
	stderr, err := os.OpenFile(filepath.Join(dir, "log", "stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, nil, err
	}
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	// Own process group: Ctrl-C in the terminal reaches only the app, which
	// flushes what it accepted before it stops the server itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		stderr.Close()
		return nil, nil, fmt.Errorf("start %s: %w", bin.Path, err)
	}
	_ = os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(cmd.Process.Pid)), 0o640)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); stderr.Close() }()

	deadline := time.Now().Add(opts.StartTimeout)
	for {
		select {
		case err := <-done:
			done <- err
			_ = os.Remove(filepath.Join(dir, pidFile))
			tail := logTail(dir)
			if strings.Contains(tail, "Address already in use") {
				return nil, nil, errPortClash
			}
			return nil, nil, fmt.Errorf("ClickHouse server exited during start (%v); last log lines:\n%s", err, tail)
		case <-ctx.Done():
			stopProcess(cmd, done, dir, opts.Logger)
			return nil, nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if s.answers(ctx) {
			return cmd, done, nil
		}
		if time.Now().After(deadline) {
			stopProcess(cmd, done, dir, opts.Logger)
			return nil, nil, fmt.Errorf("ClickHouse server in %s did not answer within %s; see %s", dir, opts.StartTimeout, filepath.Join(dir, "log"))
		}
	}
}

// answers reports whether the server answers a ping on its native port
// with its password (the HTTP interface may be off).
func (s *Server) answers(ctx context.Context) bool {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:    clickhouse.Native,
		Addr:        []string{s.TCPAddr},
		Auth:        clickhouse.Auth{Username: "default", Password: s.Password},
		DialTimeout: time.Second,
	})
	if err != nil {
		return false
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return conn.Ping(ctx) == nil
}

// ClientCommand is the clickhouse-client command line that opens a shell
// on the server, the password read from passwordFile.
func (s *Server) ClientCommand(passwordFile string) string {
	_, port, _ := net.SplitHostPort(s.TCPAddr)
	if s.Password == "" {
		return "clickhouse-client --port " + port
	}
	return fmt.Sprintf("clickhouse-client --port %s --password \"$(cat %s)\"", port, passwordFile)
}

// Stop ends the server: SIGTERM, a grace period, then SIGKILL. A
// supervisor (Supervise) stops first, so that the exit is not taken for a
// crash.
func (s *Server) Stop() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	s.stopping = true
	w := s.watch
	s.mu.Unlock()
	if w != nil {
		w.cancel()
	}
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd != nil {
		stopProcess(cmd, done, s.Dir, s.log)
	}
	if w != nil {
		<-w.exited
	}
	return nil
}

// stopProcess ends one server process: SIGTERM, a grace period, then
// SIGKILL.
func stopProcess(cmd *exec.Cmd, done chan error, dir string, log *slog.Logger) {
	defer os.Remove(filepath.Join(dir, pidFile))
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		done <- err
		return
	case <-time.After(30 * time.Second):
	}
	log.Warn("ClickHouse did not stop within 30s; killing it", "pid", cmd.Process.Pid)
	_ = cmd.Process.Kill()
	err := <-done
	done <- err
}

// Kill ends the server at once, as a crash would. Tests use it.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	_ = cmd.Process.Kill()
	err := <-done
	done <- err
}

// Pid is the current server process's id.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
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
