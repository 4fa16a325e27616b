package cli

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

// TestRejectsFileHoldsNoRawUserID: every rejected line of an NDJSON and a
// CSV file shows the keyed hash of its user id (computed here with the
// secret given to load), never the id.
func TestRejectsFileHoldsNoRawUserID(t *testing.T) {
	s := chtest.NewStore(t)
	srv := chtest.Server(t)
	dir := t.TempDir()
	const secret = "rejects-test-secret-0123456789"
	const phone, other = "+33612345678", "+201001234567"
	key := func(id string) uint64 {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(id))
		return binary.BigEndian.Uint64(m.Sum(nil))
	}
	nd := filepath.Join(dir, "bad.ndjson")
	os.WriteFile(nd, []byte(`{"event_id":"x1","time":"2026-01-10T09:30:00Z","assistant":"bard","channel":"whatsapp","user_id":"`+phone+`","country":"fr"}
{"event_id":"x2","time":"2026-01-10T09:30:00Z","assistant":"chatgpt","channel":"`+other+`","user_id":"`+other+`"}
{"event_id":"x3","time":"2026-01-10T09:30:00Z","assistant":"chatgpt","user_id":"`+phone+`","channel":
`), 0o644)
	csvPath := filepath.Join(dir, "bad.csv")
	os.WriteFile(csvPath, []byte("event_id,time,assistant,channel,user_id\nc1,2026-01-11T00:00:00Z,bard,web,"+phone+"\n"), 0o644)
	var out, errOut bytes.Buffer
	args := []string{"load", "--data-dir", filepath.Join(dir, "data"), "--clickhouse-addr", srv.TCPAddr, "--clickhouse-database", s.Database,
		"--user-key-secret", secret, "--progress", "off", "--log-level", "warn", nd, csvPath}
	if err := Run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("load: %v\n%s", err, errOut.String())
	}
	type rejectLine struct {
		Line    int
		Errors  []struct{ Field, Error string }
		Raw     map[string]any
		Text    string
		UserKey *uint64 `json:"user_key"`
		Omitted string
	}
	read := func(path string) []rejectLine {
		b, err := os.ReadFile(path + ".rejects.ndjson")
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{phone, other, strings.TrimPrefix(phone, "+")} {
			if strings.Contains(string(b), id) {
				t.Errorf("%s holds the raw user id %s:\n%s", path, id, b)
			}
		}
		var out []rejectLine
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var r rejectLine
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatalf("rejects line %q: %v", l, err)
			}
			out = append(out, r)
		}
		return out
	}
	got := read(nd)
	if len(got) != 3 {
		t.Fatalf("%d reject lines, want 3: %+v", len(got), got)
	}
	// Line 1: two errors, user_id replaced by user_key.
	r := got[0]
	if len(r.Errors) != 2 || r.Errors[0].Field != "assistant" || r.Errors[1].Field != "country" {
		t.Errorf("line 1 errors %+v, want assistant and country", r.Errors)
	}
	if _, ok := r.Raw["user_id"]; ok || r.Raw["event_id"] != "x1" || r.UserKey == nil || *r.UserKey != key(phone) ||
		strconv.FormatFloat(r.Raw["user_key"].(float64), 'f', -1, 64) == "" {
		t.Errorf("line 1 %+v, want user_key %d instead of user_id", r, key(phone))
	}
	// Line 2: the id put into the channel shows as <user_id>.
	if got[1].Raw["channel"] != "<user_id>" || got[1].UserKey == nil || *got[1].UserKey != key(other) {
		t.Errorf("line 2 %+v", got[1])
	}
	// Line 3: broken JSON: its text is left out, the hash is there.
	if got[2].Text != "" || got[2].Omitted == "" {
		t.Errorf("line 3 %+v: want the text left out", got[2])
	}
	c := read(csvPath)
	if len(c) != 1 || c[0].UserKey == nil || *c[0].UserKey != key(phone) || !strings.HasSuffix(c[0].Text, ","+strconv.FormatUint(key(phone), 10)) {
		t.Errorf("CSV rejects %+v, want the hash %d in the user_id cell", c, key(phone))
	}
}
