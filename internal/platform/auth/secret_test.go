package auth

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLoadOrCreateSecretRace starts many goroutines on one path and many
// processes on another: within each, every caller gets the same value and
// exactly one of them created the file.
func TestLoadOrCreateSecretRace(t *testing.T) {
	t.Run("goroutines", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "sub", "secret")
		const n = 32
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			values  [n][]byte
			created [n]bool
			errs    [n]error
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				values[i], created[i], errs[i] = LoadOrCreateSecret(path, HexSecret(32))
			}()
		}
		close(start)
		wg.Wait()
		var lines []string
		for i := range n {
			lines = append(lines, fmt.Sprintf("%s %t %v", values[i], created[i], errs[i]))
		}
		checkOneSecret(t, path, lines)
	})

	t.Run("processes", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "secret")
		at := time.Now().Add(500 * time.Millisecond).UnixNano()
		const n = 8
		cmds := make([]*exec.Cmd, n)
		outs := make([]*bytes.Buffer, n)
		for i := range cmds {
			cmds[i] = exec.Command(os.Args[0], "-test.run=^TestSecretHelperProcess$")
			cmds[i].Env = append(os.Environ(), "AUTH_SECRET_PATH="+path, "AUTH_SECRET_AT="+strconv.FormatInt(at, 10))
			outs[i] = new(bytes.Buffer)
			cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
			if err := cmds[i].Start(); err != nil {
				t.Fatal(err)
			}
		}
		var lines []string
		for i, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Fatalf("helper %d: %v\n%s", i, err, outs[i])
			}
			out := outs[i].String()
			j := strings.Index(out, "secret:")
			if j < 0 {
				t.Fatalf("helper %d printed no secret:\n%s", i, out)
			}
			lines = append(lines, strings.TrimSpace(strings.SplitN(out[j+len("secret:"):], "\n", 2)[0]))
		}
		checkOneSecret(t, path, lines)
	})
}

// checkOneSecret checks lines of "value created error": no error, one
// value (the file's), one creator.
func checkOneSecret(t *testing.T, path string, lines []string) {
	t.Helper()
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(string(file))
	if len(want) != 64 || string(file) != want+"\n" {
		t.Fatalf("file holds %q, want 64 hex digits and a newline", file)
	}
	creators := 0
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 || f[2] != "<nil>" {
			t.Fatalf("caller %d: %q", i, l)
		}
		if f[0] != want {
			t.Errorf("caller %d got %s, the file holds %s", i, f[0], want)
		}
		if f[1] == "true" {
			creators++
		}
	}
	if creators != 1 {
		t.Errorf("%d callers report creating the file, want 1", creators)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
}

// TestSecretHelperProcess is one racing process of
// TestLoadOrCreateSecretRace; it does nothing in a normal run.
func TestSecretHelperProcess(t *testing.T) {
	path := os.Getenv("AUTH_SECRET_PATH")
	if path == "" {
		t.Skip("helper process only")
	}
	at, _ := strconv.ParseInt(os.Getenv("AUTH_SECRET_AT"), 10, 64)
	time.Sleep(time.Until(time.Unix(0, at)))
	v, created, err := LoadOrCreateSecret(path, HexSecret(32))
	fmt.Printf("secret: %s %t %v\n", v, created, err)
}

func TestLoadOrCreateSecretExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte("  kept-value\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v, created, err := LoadOrCreateSecret(path, func() ([]byte, error) { t.Error("gen called for an existing file"); return nil, nil })
	if err != nil || created || string(v) != "kept-value" {
		t.Fatalf("got %q %t %v", v, created, err)
	}
}

// A reader that finds the file created but not yet written waits for the
// writer's value.
func TestLoadOrCreateSecretWaitsForWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = os.WriteFile(path, []byte("written-later\n"), 0o600)
	}()
	v, created, err := LoadOrCreateSecret(path, HexSecret(32))
	if err != nil || created || string(v) != "written-later" {
		t.Fatalf("got %q %t %v", v, created, err)
	}
}

func TestLoadOrCreateSecretEmptyFile(t *testing.T) {
	defer func(d time.Duration) { secretWait = d }(secretWait)
	secretWait = 50 * time.Millisecond
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadOrCreateSecret(path, HexSecret(32))
	if err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("empty file left behind: %v, want an error that says to delete it", err)
	}
}

func TestLoadOrCreateSecretGenError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	boom := errors.New("no entropy")
	if _, _, err := LoadOrCreateSecret(path, func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("err %v, want %v", err, boom)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed generation left a file: %v", err)
	}
}
