package breaks_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/breaks"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/demo"
	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
)

func TestMain(m *testing.M) {
	os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll}))
}

func day(s string) time.Time {
	t, err := time.Parse(catalog.DateLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestDemoBreaks loads a year of the demo story through ingest and runs
// the detector: the 2026-01-15 drops of ChatGPT and Copilot on WhatsApp
// and the Meta AI on WhatsApp rise are found within one day. Then the
// suggestions' life: a second run adds nothing, a dismissed break does
// not come back, an accepted one is a real annotation.
func TestDemoBreaks(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	p, err := ingest.NewPipeline(s, ingest.Config{Secret: []byte("breaks-test-secret-0123456789")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = p.Close(cctx)
	}()
	cfg := demo.Config{Seed: 1, People: 3000, From: day("2025-04-01"), To: day("2026-03-31")}
	if _, err := demo.Load(ctx, s, p, cfg, demo.LoadOptions{Until: day("2026-04-01")}); err != nil {
		t.Fatal(err)
	}
	chtest.BuildRollups(t, s)
	if _, err := rollup.Finalize(ctx, s, 400); err != nil {
		t.Fatal(err)
	}

	notes := annotation.New(s, catalog.Registry{})
	det := breaks.NewDetector(s, notes, chtest.Logger())
	det.Now = func() time.Time { return time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC) }
	res, err := det.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run: %s", res)
	list, err := notes.Breaks(ctx, annotation.BreakFilter{})
	if err != nil {
		t.Fatal(err)
	}
	shutdown := day("2026-01-15")
	for _, b := range list {
		t.Logf("%s %s..%s %s: %.1f -> %.1f", b.Day, b.RangeStart, b.RangeEnd, b.Assistant+"/"+b.Channel, b.Before, b.After)
	}
	for _, want := range []struct {
		assistant, channel string
		up                 bool
	}{{"chatgpt", "whatsapp", false}, {"copilot", "whatsapp", false}, {"meta_ai", "whatsapp", true}} {
		var hit *annotation.DetectedBreak
		for i, b := range list {
			d := day(b.Day)
			if b.Assistant == want.assistant && b.Channel == want.channel && (b.Change() > 0) == want.up &&
				!d.Before(shutdown.AddDate(0, 0, -1)) && !d.After(shutdown.AddDate(0, 0, 1)) {
				hit = &list[i]
			}
		}
		if hit == nil {
			t.Errorf("%s on %s: no break within a day of 2026-01-15 (up %v)", want.assistant, want.channel, want.up)
			continue
		}
		t.Logf("found: %s (%s..%s) %s", hit.Day, hit.RangeStart, hit.RangeEnd, hit.Title())
		if !want.up && hit.After > 0.5 {
			t.Errorf("%s on %s leaves WhatsApp: level after %v, want 0", want.assistant, want.channel, hit.After)
		}
	}

	// A second run over the same data adds nothing.
	res2, err := det.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res2.New != 0 || res2.Withdrawn != 0 || res2.Found != res.Found {
		t.Fatalf("second run: %s; want nothing new", res2)
	}
	var chatgpt, metaAI annotation.DetectedBreak
	for _, b := range list {
		if b.Assistant == "chatgpt" && b.Channel == "whatsapp" && b.Day == "2026-01-15" {
			chatgpt = b
		}
		if b.Assistant == "meta_ai" && b.Channel == "whatsapp" && b.Change() > 0 && b.Day >= "2026-01-14" && b.Day <= "2026-01-16" {
			metaAI = b
		}
	}
	if chatgpt.ID == "" || metaAI.ID == "" {
		t.Fatal("the breaks to dismiss and accept are missing")
	}
	if _, err := notes.DismissBreak(ctx, metaAI.ID); err != nil {
		t.Fatal(err)
	}
	res3, err := det.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res3.New != 0 || res3.Ignored != 1 {
		t.Errorf("run after a dismissal: %s; want the dismissed break ignored, nothing new", res3)
	}
	after, _ := notes.Breaks(ctx, annotation.BreakFilter{})
	for _, b := range after {
		if b.ID == metaAI.ID {
			t.Errorf("the dismissed break is listed again: %+v", b)
		}
	}
	if _, err := notes.DismissBreak(ctx, metaAI.ID); !errors.As(err, new(*annotation.BreakStateError)) {
		t.Errorf("dismissing twice: %v, want a state error", err)
	}

	a, err := notes.AcceptBreak(ctx, chatgpt.ID, annotation.Annotation{Title: "ChatGPT leaves WhatsApp (detected)"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := notes.Get(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != annotation.KindDetected || got.RealWorld || got.Start != "2026-01-15" || got.Assistant != "chatgpt" || got.Channel != "whatsapp" || got.Title != "ChatGPT leaves WhatsApp (detected)" {
		t.Errorf("accepted annotation %+v", got)
	}
	acc, _ := notes.Breaks(ctx, annotation.BreakFilter{Status: annotation.BreakAccepted})
	if len(acc) != 1 || acc[0].AnnotationID != a.ID {
		t.Errorf("accepted breaks %+v", acc)
	}
	counts, err := notes.BreakCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[annotation.BreakAccepted] != 1 || counts[annotation.BreakDismissed] != 1 || counts[annotation.BreakSuggested] != res.Found-2 {
		t.Errorf("counts %v, found %d", counts, res.Found)
	}
	sugg, err := notes.Suggested(ctx, "2026-01-01", "2026-02-01", "copilot", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(sugg) == 0 || sugg[0].Kind != annotation.KindDetected || sugg[0].RealWorld {
		t.Errorf("suggested annotations for copilot in January: %+v", sugg)
	}
}
