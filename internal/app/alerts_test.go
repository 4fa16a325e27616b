package app

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/schema/schematest"
)

// TestAlertsAPI: an admin creates a rule (a reader may not), readers see
// the webhook's host only, a backtest lists the day the fixture's drop
// would have fired and resolved (sending nothing), a test send reaches
// the receiver signed and is in the history, and a delete removes it.
func TestAlertsAPI(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, b)
		mu.Unlock()
	}))
	defer recv.Close()
	a, base := startFullAppWith(t, true, func(c *config.Config) {
		c.ReadTokens = []string{"oas-read-token-0123456789"}
		c.Exports.WebhookAllow = "127.0.0.0/8"
	})
	// ChatGPT on WhatsApp: 20 people a day, 4 on 2026-02-11.
	var evs []schematest.Event
	for d := 0; d < 20; d++ {
		day := time.Date(2026, 2, 1+d, 12, 0, 0, 0, time.UTC)
		n := 20
		if day.Day() == 11 {
			n = 4
		}
		for u := 0; u < n; u++ {
			evs = append(evs, schematest.Event{Time: day, Assistant: "chatgpt", Channel: "whatsapp", User: uint64(u + 1)})
		}
	}
	schematest.InsertAndBuild(t, a.Backend.Store, "al", evs)

	call := func(method, path, token, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	const admin, reader = "oas-admin-token-0123456789", "oas-read-token-0123456789"
	rule := `{"name":"WhatsApp halves","metric":"active_users","interval":"day","assistant":"chatgpt","channel":"whatsapp",
		"condition":"change","direction":"below","value":-50,"destinations":[{"kind":"webhook","url":"` + recv.URL + `/hook?token=abc"}]}`
	if code, b := call("POST", "/api/v1/alerts", reader, rule); code != http.StatusUnauthorized {
		t.Fatalf("create with a read token: %d %s, want 401", code, b)
	}
	if code, b := call("POST", "/api/v1/alerts", admin, `{"name":"x","condition":"change","direction":"down","destinations":[]}`); code != 400 ||
		!strings.Contains(string(b), "direction") || !strings.Contains(string(b), "destinations") {
		t.Fatalf("invalid rule: %d %s, want 400 naming direction and destinations", code, b)
	}
	code, b := call("POST", "/api/v1/alerts", admin, rule)
	var created struct {
		ID           string
		Destinations []struct{ URL, Secret string }
	}
	if err := json.Unmarshal(b, &created); err != nil || code != 201 || created.Destinations[0].Secret == "" {
		t.Fatalf("create: %d %s", code, b)
	}
	if strings.Contains(created.Destinations[0].URL, "abc") {
		t.Errorf("created answer shows the URL's token: %s", created.Destinations[0].URL)
	}
	_, b = call("GET", "/api/v1/alerts", reader, "")
	if strings.Contains(string(b), "/hook") || strings.Contains(string(b), created.Destinations[0].Secret) || !strings.Contains(string(b), "WhatsApp halves") {
		t.Errorf("list for a reader: %s, want the rule with the webhook's host only and no secret", b)
	}
	code, b = call("POST", "/api/v1/alerts/"+created.ID+"/backtest?from=2026-02-05&to=2026-02-19", reader, "")
	var bt struct {
		Periods int
		Events  []struct {
			Day, State       string
			Value, Threshold float64
		}
	}
	if err := json.Unmarshal(b, &bt); err != nil || code != 200 {
		t.Fatalf("backtest: %d %s", code, b)
	}
	// 02-11: 4 against 20 on 02-04 (−80 %); 02-12: 20 against 20.
	if len(bt.Events) != 2 || bt.Events[0].Day != "2026-02-11" || bt.Events[0].State != "firing" || bt.Events[0].Value != 4 || bt.Events[0].Threshold != 20 ||
		bt.Events[1].Day != "2026-02-12" || bt.Events[1].State != "resolved" {
		t.Fatalf("backtest events %+v, want firing on 2026-02-11 (4 against 20) and resolved on 2026-02-12", bt.Events)
	}
	mu.Lock()
	n := len(got)
	mu.Unlock()
	if n != 0 {
		t.Fatalf("a backtest sent %d notifications", n)
	}
	if code, b := call("POST", "/api/v1/alerts/"+created.ID+"/test", admin, ""); code != 200 || !strings.Contains(string(b), `"status":"sent"`) {
		t.Fatalf("test send: %d %s", code, b)
	}
	mu.Lock()
	if len(got) != 1 || !export.VerifySignature(created.Destinations[0].Secret, got[0].Header.Get(export.HeaderTimestamp), got[0].Header.Get(export.HeaderSignature), bodies[0]) ||
		!strings.Contains(string(bodies[0]), `"test":true`) {
		t.Errorf("receiver got %d requests; want one signed test", len(got))
	}
	mu.Unlock()
	code, b = call("GET", "/api/v1/alerts/"+created.ID+"/events", reader, "")
	if code != 200 || !strings.Contains(string(b), `"deliveries":[{"destination":"webhook http://127.0.0.1`) || !strings.Contains(string(b), `"attempts":1`) {
		t.Fatalf("events: %d %s", code, b)
	}
	if code, _ := call("DELETE", "/api/v1/alerts/"+created.ID, admin, ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := call("GET", "/api/v1/alerts/"+created.ID, reader, ""); code != 404 {
		t.Fatalf("get after delete: %d, want 404", code)
	}
}
