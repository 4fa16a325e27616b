package chserver

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// orphanGrace is how long a server left over from a crashed run gets to
// stop on SIGTERM before it is killed.
const orphanGrace = 30 * time.Second

// stopOrphan stops every server still running on dir's store, left by a
// process that died without stopping it (the app killed with SIGKILL, a
// lost terminal), and says what it found: two servers on one store would
// corrupt it, and a server still holding the store keeps a new one from
// starting. The caller holds the data folder's lock, so no live instance
// owns such a server.
//
// A server is recognized by its command line, which names dir's config
// file, not by the pid file alone: after a reboot the recorded pid may
// belong to anything else. The pid file is only a hint, and reported.
func stopOrphan(dir string, log *slog.Logger) {
	cfg := filepath.Join(dir, "config.xml")
	recorded := 0
	if b, err := os.ReadFile(filepath.Join(dir, pidFile)); err == nil {
		recorded, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	pids := serversOn(cfg)
	if len(pids) == 0 {
		if recorded > 0 {
			log.Info("the managed ClickHouse of an earlier run had already stopped; starting a new one", "pid", recorded, "dir", dir)
			_ = os.Remove(filepath.Join(dir, pidFile))
		}
		return
	}
	for _, pid := range pids {
		start := time.Now()
		log.Warn("a managed ClickHouse left running by an earlier run of this data folder (crashed or killed) still holds the store: stopping it before starting a new one",
			"pid", pid, "dir", dir)
		how := stopPid(pid)
		log.Warn("stopped the managed ClickHouse of the earlier run", "pid", pid, "how", how, "took", time.Since(start).Round(10*time.Millisecond))
	}
	_ = os.Remove(filepath.Join(dir, pidFile))
}

// stopPid sends SIGTERM, waits up to orphanGrace, then sends SIGKILL; it
// returns which ended the process.
func stopPid(pid int) string {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(orphanGrace)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return "SIGTERM"
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && alive(pid); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Sprintf("SIGKILL (no stop within %s of SIGTERM)", orphanGrace)
}

// alive reports whether pid runs (a zombie, dead but not yet reaped by its
// parent, does not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}

// serversOn lists the running processes whose command line names cfg as
// their config file: the ClickHouse servers of that folder.
func serversOn(cfg string) []int {
	want := []byte("--config-file=" + cfg)
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, arg := range bytes.Split(b, []byte{0}) {
			if bytes.Equal(arg, want) {
				if alive(pid) {
					pids = append(pids, pid)
				}
				break
			}
		}
	}
	sort.Ints(pids)
	return pids
}
