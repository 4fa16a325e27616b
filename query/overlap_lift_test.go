package query_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"testing"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/query"
)

// TestOverlapLift: ten people in March 2026 — four on ChatGPT only, two
// on Copilot only, two on both, two on Meta AI only. ChatGPT has 6,
// Copilot 4, the month 10: the pair's lift is (2/6) / (4/10) = 0.83 (less
// than chance), Meta AI's pairs 0; in JSON and in the CSV's lift column.
func TestOverlapLift(t *testing.T) {
	ctx := context.Background()
	s := chtest.NewStore(t)
	var evs []ev
	add := func(user uint64, as ...string) {
		for _, a := range as {
			evs = append(evs, ev{t: d("2026-03-10").Add(10 * 3600e9), assistant: a, channel: "web", country: "FR", modality: "text", etype: "message", user: user, count: 1})
		}
	}
	for u := uint64(1); u <= 4; u++ {
		add(u, "chatgpt")
	}
	add(5, "copilot")
	add(6, "copilot")
	add(7, "chatgpt", "copilot")
	add(8, "chatgpt", "copilot")
	add(9, "meta_ai")
	add(10, "meta_ai")
	sendEvents(t, s, "lift-", evs)
	chtest.BuildRollups(t, s)
	res, err := query.Overlap(ctx, s, query.OverlapRequest{From: d("2026-03-01"), To: d("2026-03-31"), Now: d("2026-05-01")})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := query.WriteOverlapJSON(&buf, res); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Periods []struct {
			People int
			Pairs  []struct {
				A, B string
				Both int
				Lift *float64
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"chatgpt+copilot": 0.83, "chatgpt+meta_ai": 0, "copilot+meta_ai": 0}
	if len(doc.Periods) != 1 || doc.Periods[0].People != 10 || len(doc.Periods[0].Pairs) != 3 {
		t.Fatalf("answer %s", buf.String())
	}
	for _, p := range doc.Periods[0].Pairs {
		if w := want[p.A+"+"+p.B]; p.Lift == nil || *p.Lift != w {
			t.Errorf("%s+%s: lift %v, want %v", p.A, p.B, p.Lift, w)
		}
	}
	buf.Reset()
	if err := query.WriteOverlapCSV(&buf, res); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if recs[0][len(recs[0])-1] != "lift" {
		t.Fatalf("CSV header %v", recs[0])
	}
	for _, r := range recs[1:] {
		if r[4] == "copilot" && r[7] == "chatgpt" && r[10] != "0.83" {
			t.Errorf("CSV row %v: lift %s, want 0.83", r, r[10])
		}
	}
}
