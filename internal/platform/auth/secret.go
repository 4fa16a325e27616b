package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// secretWait is how long LoadOrCreateSecret waits for another process to
// finish writing a secret file it found empty.
var secretWait = 2 * time.Second

// LoadOrCreateSecret returns the secret held by the file at path, creating
// the file with gen's value when it does not exist: mode 0600, the value on
// one line, synced to disk. White space around the value is ignored when
// reading, so gen must return text (HexSecret does).
//
// Two processes starting at once get the same value: the file is created
// exclusively (O_EXCL), so one of them writes it and the other reads it; a
// reader that finds it still empty (created, not yet written) retries for
// a moment. created reports whether this call wrote the file.
func LoadOrCreateSecret(path string, gen func() ([]byte, error)) (value []byte, created bool, err error) {
	deadline := time.Now().Add(secretWait)
	for {
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			if v := bytes.TrimSpace(b); len(v) > 0 {
				return v, false, nil
			}
			if time.Now().After(deadline) {
				return nil, false, fmt.Errorf("secret file %s is empty (a process stopped while writing it?): delete it to generate a new one", path)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		case !errors.Is(err, fs.ErrNotExist):
			return nil, false, err
		}
		v, err := createSecret(path, gen)
		if errors.Is(err, fs.ErrExist) {
			continue // another process created it first: read its value
		}
		if err != nil {
			return nil, false, fmt.Errorf("create secret file %s: %w", path, err)
		}
		return v, true, nil
	}
}

func createSecret(path string, gen func() ([]byte, error)) ([]byte, error) {
	v, err := gen()
	if err != nil {
		return nil, err
	}
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil, errors.New("the generated secret is empty")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	_, err = f.Write(append(v[:len(v):len(v)], '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// The file is ours (O_EXCL): remove it rather than leave a
		// half-written secret that every later start would refuse.
		os.Remove(path)
		return nil, err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // the new name survives a crash too
		d.Close()
	}
	return v, nil
}

// HexSecret returns a generator of n random bytes written in hex, for
// LoadOrCreateSecret.
func HexSecret(n int) func() ([]byte, error) {
	return func() ([]byte, error) {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		return []byte(hex.EncodeToString(b)), nil
	}
}
