package queryapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// The request that once ran for 26 s and took 5 GiB (every dimension, ten
// years by day) is refused with a JSON 422 that names the limit, however
// many arrive at once; the same request within the budget streams.
func TestOversizedSeriesRefused(t *testing.T) {
	h, s := queryServer(t, Deps{})
	const target = "/api/v1/series?metric=events&from=2016-12-10&to=2026-12-05&interval=day&by=assistant,channel,country,modality,event_type"
	// The fixture has 3 x 3 x 2 x 2 x 1 = 36 groups at most over its 80
	// days: a 1,000-row budget is exceeded, a 3,000-row one is not.
	s.Read = store.ReadBudget{MaxRows: 1000}
	var wg sync.WaitGroup
	answers := make([]string, 8)
	codes := make([]int, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := apiGet(h, target, "")
			codes[i], answers[i] = rec.Code, rec.Body.String()
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want JSON", ct)
			}
		}()
	}
	wg.Wait()
	for i := range 8 {
		var body struct{ Error string }
		if err := json.Unmarshal([]byte(answers[i]), &body); err != nil {
			t.Fatalf("answer %d %q: %v", codes[i], answers[i], err)
		}
		if codes[i] != http.StatusUnprocessableEntity || !strings.Contains(body.Error, "limit of 1000 rows") || !strings.Contains(body.Error, "narrow the dates") {
			t.Errorf("answer %d %q: want 422 naming the limit and the fix", codes[i], body.Error)
		}
	}
	s.Read = store.ReadBudget{MaxRows: 3000}
	rec := apiGet(h, target, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("within the budget: %d %s", rec.Code, rec.Body.String())
	}
	var res struct {
		From string
		Rows []struct{ Period string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	// No rows before the fixture's first day (2025-12-01), although the
	// range starts in 2016.
	if res.From != "2016-12-10" || len(res.Rows) == 0 || res.Rows[0].Period != "2025-12-01" {
		t.Errorf("from %s, first row %v: want the range as asked and rows from 2025-12-01", res.From, res.Rows[:min(1, len(res.Rows))])
	}
}
