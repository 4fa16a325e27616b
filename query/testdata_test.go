package query_test

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
	"github.com/adoptscope/adoptscope/schema/schematest"
)

func TestMain(m *testing.M) {
	os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll}))
}

// ev is one hand-built event; tests insert it straight into events and
// compute the expected answers from the same slice in plain loops.
type ev struct {
	t                                            time.Time
	assistant, channel, country, modality, etype string
	user                                         uint64
	count                                        uint32
	linked                                       bool
}

func (e ev) day() time.Time {
	return time.Date(e.t.Year(), e.t.Month(), e.t.Day(), 0, 0, 0, 0, time.UTC)
}

func d(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

// insert writes evs into events (the shared fixture, ids e0, e1, …) and
// builds the rollups.
func insert(t testing.TB, s *store.Store, evs []ev) {
	t.Helper()
	rows := make([]schematest.Event, len(evs))
	for i, e := range evs {
		rows[i] = schematest.Event{Time: e.t, Assistant: e.assistant, Channel: e.channel, EventType: e.etype, Modality: e.modality,
			Country: e.country, User: e.user, Count: e.count, Linked: e.linked}
	}
	schematest.InsertAndBuild(t, s, "e", rows)
}

var (
	assistants = []string{"chatgpt", "copilot", "meta_ai"}
	channels   = []string{"android", "web", "whatsapp"}
	countries  = []string{"EG", "FR"}
	modalities = []string{"image_in", "text", "voice"}
	etypes     = []string{"message", "session_start"}
)

// goldenEvents: 80 people over 2025-12-01..2026-02-28, each with a home
// assistant, channel and country and some activity elsewhere; no events at
// all on 2026-01-20..22 (a gap that must come back as zeros); times spread
// over the whole day so that a time zone moves events across days.
func goldenEvents() []ev {
	r := rand.New(rand.NewPCG(1, 2))
	var out []ev
	for u := uint64(1); u <= 80; u++ {
		homeA, homeC, homeK := assistants[r.IntN(3)], channels[r.IntN(3)], countries[r.IntN(2)]
		start := d("2025-12-01").AddDate(0, 0, r.IntN(70))
		for day := start; !day.After(d("2026-02-28")); day = day.AddDate(0, 0, 1) {
			if !day.Before(d("2026-01-20")) && !day.After(d("2026-01-22")) {
				continue
			}
			if r.Float64() > 0.35 {
				continue
			}
			for n := 1 + r.IntN(4); n > 0; n-- {
				e := ev{t: day.Add(time.Duration(r.IntN(86400)) * time.Second), assistant: homeA, channel: homeC, country: homeK,
					modality: modalities[r.IntN(3)], etype: etypes[r.IntN(4)%2*r.IntN(2)], user: u * 7919, count: uint32(1 + r.IntN(3))}
				if r.Float64() < 0.2 {
					e.assistant, e.channel = assistants[r.IntN(3)], channels[r.IntN(3)]
				}
				if r.Float64() < 0.05 {
					e.country = countries[r.IntN(2)]
				}
				if r.Float64() < 0.03 {
					e.etype = "account_linked"
				}
				e.linked = u%4 == 0 && r.Float64() < 0.5
				out = append(out, e)
			}
		}
	}
	return out
}

func chtestStore(t testing.TB) *store.Store { return chtest.NewStore(t) }
