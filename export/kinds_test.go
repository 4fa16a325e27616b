package export

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/query"
)

// TestStickinessAndOverlapExports: the power-user curve and the audience
// overlap scheduled as CSV (what their pages' "Schedule this as CSV"
// links create) run over the export's days in its zone and write byte for
// byte the query API's CSV; a query the API refuses is refused when saved.
func TestStickinessAndOverlapExports(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))
	asst := []string{"chatgpt", "meta_ai", "copilot"}
	var evs []testEvent
	for d := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); d.Before(time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 1) {
		for i := 0; i < 8; i++ {
			evs = append(evs, testEvent{t: d.Add(time.Duration(rng.IntN(86400)) * time.Second), assistant: asst[rng.IntN(3)],
				channel: "web", user: uint64(rng.IntN(30) + 1), source: "test"})
		}
	}
	insertEvents(t, s, evs)
	r := &Runner{Store: NewStore(s), Source: QuerySource{S: s}, Root: t.TempDir(), Claimer: ClaimerID(), Log: testLog()}
	for _, c := range []struct {
		e      Export
		header string
	}{
		{Export{Name: "power_users", Kind: "stickiness", Query: "window=7&by=assistant&range=28d&tz=Asia/Kolkata", Schedule: "0 6 * * SUN"},
			"window_start,window_end,assistant,days_active,people,share_pct,tz"},
		{Export{Name: "overlap_monthly", Kind: "overlap", Query: "interval=month&range=28d", Schedule: "0 6 * * SUN"},
			"period,from,to,complete,assistant,users,exclusive,other,both,share_pct,lift"},
	} {
		e := c.e
		if err := e.Normalize(); err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		if err := r.Store.Create(ctx, &e); err != nil {
			t.Fatal(err)
		}
		run, err := r.Run(ctx, e, time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC), 1, "manual")
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		path := filepath.Join(r.Root, e.Name, run.File)
		file, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		from, _ := time.Parse("2006-01-02", run.PeriodFrom)
		to, _ := time.Parse("2006-01-02", run.PeriodTo)
		var api bytes.Buffer
		if err := query.ExportCSV(ctx, s, e.Kind, e.Params(from, to), &api); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(file, api.Bytes()) {
			t.Errorf("%s: file differs from the API's CSV:\nfile %q\napi  %q", e.Name, file, api.String())
		}
		if head, _, _ := strings.Cut(string(file), "\r\n"); head != c.header {
			t.Errorf("%s: header %q", e.Name, head)
		}
		if lines := strings.Count(string(file), "\n"); lines < 7 {
			t.Errorf("%s: only %d lines: %q", e.Name, lines, file)
		}
	}
	for _, bad := range []Export{
		{Name: "x", Kind: "stickiness", Query: "window=14", Schedule: "0 6 * * MON"},
		{Name: "y", Kind: "overlap", Query: "interval=week", Schedule: "0 6 * * MON"},
	} {
		if err := bad.Normalize(); err == nil {
			t.Errorf("%s %s accepted", bad.Kind, bad.Query)
		}
	}
}
