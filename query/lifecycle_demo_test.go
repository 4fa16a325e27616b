package query_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/demo"
	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/query"
)

// TestLifecycleDemoStory: on the demo data (its default 5,000 people,
// from 2025-10-01), the lifecycle by assistant on WhatsApp shows the
// story of 2026-01-15 (a Thursday): ChatGPT's WhatsApp people go dormant
// in the weeks of 2026-01-12 and 2026-01-19, several times the weeks
// before, and Meta AI gains new people there at the same time.
func TestLifecycleDemoStory(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the demo data")
	}
	ctx := context.Background()
	s := chtest.NewStore(t)
	p, err := ingest.NewPipeline(s, ingest.Config{Secret: []byte("lifecycle-test-secret-0123456789")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = p.Close(cctx)
	}()
	if _, err := demo.Load(ctx, s, p, demo.Config{From: d("2025-10-01"), To: d("2026-03-31")}, demo.LoadOptions{Until: d("2026-04-01")}); err != nil {
		t.Fatal(err)
	}
	chtest.BuildRollups(t, s)
	req, err := query.ParseLifecycle(url.Values{"interval": {"week"}, "from": {"2025-11-17"}, "to": {"2026-02-15"}, "by": {"assistant"}, "channel": {"whatsapp"}})
	if err != nil {
		t.Fatal(err)
	}
	req.Now = d("2026-04-01")
	res, err := query.Lifecycle(ctx, s, req)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]query.LifecycleRow{}
	for _, r := range res.Rows {
		rows[r.Dims[0]+" "+r.Period.Format("2006-01-02")] = r
		if r.Dims[0] == "chatgpt" || r.Dims[0] == "meta_ai" {
			t.Logf("%-8s %s new %4d returning %4d resurrecting %4d dormant %4d", r.Dims[0], r.Period.Format("2006-01-02"), r.New, r.Returning, r.Resurrecting, r.Dormant)
		}
	}
	// The eight weeks before, 2025-11-17 .. 2026-01-05, as the baseline.
	base := func(a string, v func(query.LifecycleRow) uint64) float64 {
		var sum uint64
		for w := d("2025-11-17"); w.Before(d("2026-01-12")); w = w.AddDate(0, 0, 7) {
			sum += v(rows[a+" "+w.Format("2006-01-02")])
		}
		return float64(sum) / 8
	}
	dormant := func(r query.LifecycleRow) uint64 { return r.Dormant }
	newPeople := func(r query.LifecycleRow) uint64 { return r.New }
	bd, bn := base("chatgpt", dormant), base("meta_ai", newPeople)
	d12, d19 := rows["chatgpt 2026-01-12"].Dormant, rows["chatgpt 2026-01-19"].Dormant
	n12, n19 := rows["meta_ai 2026-01-12"].New, rows["meta_ai 2026-01-19"].New
	t.Logf("ChatGPT/WhatsApp dormant: %.1f a week before, %d in the week of 2026-01-12, %d in that of 2026-01-19", bd, d12, d19)
	t.Logf("Meta AI/WhatsApp new: %.1f a week before, %d in the week of 2026-01-12, %d in that of 2026-01-19", bn, n12, n19)
	if float64(d12) < 2*bd || float64(d19) < 3*bd {
		t.Errorf("ChatGPT/WhatsApp dormant %d, %d: want a jump over the %.1f a week before", d12, d19, bd)
	}
	if float64(n12+n19) < 4*bn || n12+n19 < 10 {
		t.Errorf("Meta AI/WhatsApp new %d, %d: want a jump over the %.1f a week before", n12, n19, bn)
	}
}
