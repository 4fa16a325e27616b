package app

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/adoptscope/adoptscope/internal/config"
)

func TestIngestSecretAndTokenAreGeneratedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Config{DataDir: dir}
	cfg.Ingest.BatchRows = 1000
	c1, err := IngestConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "user-key-secret"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("user-key-secret mode %v, want 0600", st.Mode().Perm())
	}
	c2, err := IngestConfig(cfg)
	if err != nil || string(c2.Secret) != string(c1.Secret) || len(c1.Secret) < 32 {
		t.Errorf("second start: secret %q, first %q (%v)", c2.Secret, c1.Secret, err)
	}

	toks, shown, err := IngestTokens(cfg)
	if err != nil || len(toks) != 1 || shown != toks[0] {
		t.Fatalf("generated token: %v %q %v", toks, shown, err)
	}
	again, shown2, _ := IngestTokens(cfg)
	if again[0] != toks[0] || shown2 != toks[0] {
		t.Errorf("token changed between starts: %q then %q", toks[0], again[0])
	}

	// Configured tokens (list and file) replace the generated one.
	file := filepath.Join(dir, "tokens")
	os.WriteFile(file, []byte("# feeds\nfile-token-1\n\nfile-token-2\n"), 0o600)
	cfg.IngestTokens = []string{"env-token"}
	cfg.Ingest.TokensFile = file
	got, shown, err := IngestTokens(cfg)
	if err != nil || shown != "" || len(got) != 3 || got[0] != "env-token" || got[1] != "file-token-1" || got[2] != "file-token-2" {
		t.Errorf("configured tokens: %v %q %v", got, shown, err)
	}

	// A configured secret wins over the file.
	cfg.Ingest.UserKeySecret = "configured-secret-0123456789"
	c3, err := IngestConfig(cfg)
	if err != nil || string(c3.Secret) != "configured-secret-0123456789" {
		t.Errorf("configured secret: %q %v", c3.Secret, err)
	}
}
