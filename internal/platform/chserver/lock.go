package chserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Lock is an exclusive hold on a data folder.
type Lock struct {
	f *os.File
	// Recovered is the pid of an earlier holder that ended without
	// releasing the lock (killed, crashed): the lock file still named it.
	// Zero when the folder was released cleanly or is new.
	Recovered int
}

// LockDir takes the data folder's lock, so that two app processes never run
// a server each on one store. The kernel releases it when the process dies,
// so a crash never leaves a stale lock behind.
func LockDir(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data folder %s: %w", dir, err)
	}
	path := filepath.Join(dir, "adoptscope.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		holder := strings.TrimSpace(string(b))
		if holder == "" {
			holder = "another process"
		} else {
			holder = "process " + holder
		}
		abs, _ := filepath.Abs(dir)
		return nil, fmt.Errorf("data folder %s is in use by %s (lock %s): stop that instance first, or use another folder with ADOPTSCOPE_DATA_DIR", abs, holder, path)
	}
	l := &Lock{f: f}
	// Unlock empties the file: a pid still in it is a holder that died
	// holding the lock, which the kernel released with its descriptors.
	if b, err := os.ReadFile(path); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 && pid != os.Getpid() {
			l.Recovered = pid
		}
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return l, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}
