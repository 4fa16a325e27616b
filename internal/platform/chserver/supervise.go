package chserver

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"
)

// RestartPolicy says how a supervised server (Supervise) is restarted when
// it exits without being asked to.
type RestartPolicy struct {
	// MaxAttempts is how many restarts in a row are tried before giving
	// up (default 5).
	MaxAttempts int
	// Backoff is the wait before the first restart, doubled for each
	// further one up to MaxBackoff (defaults 1 s and 30 s).
	Backoff, MaxBackoff time.Duration
	// StableAfter: a server that stayed up this long has its count of
	// restarts in a row reset (default 1 min).
	StableAfter time.Duration
}

func (p RestartPolicy) withDefaults() RestartPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 5
	}
	if p.Backoff <= 0 {
		p.Backoff = time.Second
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 30 * time.Second
	}
	if p.StableAfter <= 0 {
		p.StableAfter = time.Minute
	}
	return p
}

func (p RestartPolicy) wait(attempt int) time.Duration {
	w := p.Backoff
	for i := 1; i < attempt && w < p.MaxBackoff; i++ {
		w *= 2
	}
	return min(w, p.MaxBackoff)
}

// State is what a health check says about the server.
type State struct {
	Running bool
	// Restarts is how many times the supervisor restarted it.
	Restarts int
	// GaveUp: the supervisor stopped trying (MaxAttempts failed restarts).
	GaveUp bool
	// Reason says why it is not running and what is being done, for the
	// log and /healthz; empty while it runs.
	Reason string
}

type supervisor struct {
	cancel context.CancelFunc
	exited chan struct{}
	state  State
}

// Supervise restarts the server when its process exits without Stop (a
// crash, the OOM killer, a stray kill -9), on the same ports, so that
// clients reconnect to the address they know; after p.MaxAttempts failed
// restarts in a row it gives up and says so in the log and in State. It
// returns at once; Stop ends the supervision first.
func (s *Server) Supervise(p RestartPolicy) {
	p = p.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	w := &supervisor{cancel: cancel, exited: make(chan struct{}), state: State{Running: true}}
	s.mu.Lock()
	if s.watch != nil || s.stopping || s.cmd == nil {
		s.mu.Unlock()
		cancel()
		return
	}
	s.watch = w
	s.mu.Unlock()
	go s.supervise(ctx, w, p)
}

// State reports whether the server runs and, when it does not, why.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watch != nil {
		return s.watch.state
	}
	if s.done == nil {
		return State{Reason: "not started"}
	}
	select {
	case err := <-s.done:
		s.done <- err
		return State{Reason: fmt.Sprintf("managed ClickHouse in %s exited (%s)", s.Dir, exitText(err))}
	default:
		return State{Running: true}
	}
}

func (s *Server) setState(w *supervisor, st State) {
	s.mu.Lock()
	st.Restarts = w.state.Restarts
	w.state = st
	s.mu.Unlock()
}

func (s *Server) supervise(ctx context.Context, w *supervisor, p RestartPolicy) {
	defer close(w.exited)
	launched := time.Now()
	inARow := 0
	for {
		s.mu.Lock()
		cmd, done := s.cmd, s.done
		s.mu.Unlock()
		var exit error
		select {
		case exit = <-done:
			done <- exit
		case <-ctx.Done():
			return
		}
		s.mu.Lock()
		stopping := s.stopping
		s.mu.Unlock()
		if stopping || ctx.Err() != nil {
			return
		}
		down := time.Now()
		if down.Sub(launched) >= p.StableAfter {
			inARow = 0
		}
		how := exitText(exit)
		s.log.Error("managed ClickHouse exited unexpectedly: ingest answers 503 until it is back; restarting it",
			"pid", cmd.Process.Pid, "exit", how, "dir", s.Dir, "log", filepath.Join(s.Dir, "log"))
		var lastErr error
		for {
			if inARow >= p.MaxAttempts {
				reason := fmt.Sprintf("managed ClickHouse in %s exited (%s) and could not be restarted: %d attempts in a row failed, the last with: %v; see %s, fix the cause and restart AdoptScope",
					s.Dir, how, inARow, lastErr, filepath.Join(s.Dir, "log"))
				s.setState(w, State{GaveUp: true, Reason: reason})
				s.log.Error("managed ClickHouse could not be restarted; giving up", "attempts", inARow, "error", lastErr, "dir", s.Dir)
				return
			}
			inARow++
			wait := p.wait(inARow)
			s.setState(w, State{Reason: fmt.Sprintf("managed ClickHouse exited (%s); restart %d of %d in %s", how, inARow, p.MaxAttempts, wait)})
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return
			}
			// A server we did not start may hold the store meanwhile.
			stopOrphan(s.Dir, s.log)
			newCmd, newDone, err := s.launch(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				if errors.Is(err, errPortClash) {
					err = fmt.Errorf("%w: another program took port %d or %d while ClickHouse was down", err, s.tcpPort, s.httpPort)
				}
				lastErr = err
				s.log.Warn("managed ClickHouse restart failed", "attempt", inARow, "of", p.MaxAttempts, "error", err)
				continue
			}
			s.mu.Lock()
			if s.stopping {
				s.mu.Unlock()
				stopProcess(newCmd, newDone, s.Dir, s.log)
				return
			}
			s.cmd, s.done = newCmd, newDone
			w.state = State{Running: true, Restarts: w.state.Restarts + 1}
			s.mu.Unlock()
			launched = time.Now()
			s.log.Warn("managed ClickHouse restarted", "pid", newCmd.Process.Pid, "tcp", s.TCPAddr, "attempt", inARow,
				"down_for", time.Since(down).Round(10*time.Millisecond))
			break
		}
	}
}

func exitText(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &ee):
		return ee.ProcessState.String()
	}
	return err.Error()
}
