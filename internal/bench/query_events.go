package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// The benchmark year: 365 days, ChatGPT and Copilot leave WhatsApp on
// 2026-01-15.
var (
	benchFrom     = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	benchTo       = time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)
	benchShutdown = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
)

var (
	benchAssistants = []string{"chatgpt", "meta_ai", "copilot", "perplexity"}
	benchChannels   = []string{"whatsapp", "ios", "android", "web", "desktop"}
	benchCountries  = []string{"IN", "BR", "EG", "ID", "MX", "NG", "US", "FR", "DE", "PK", "TR", "PH"}
	benchModalities = []string{"text", "text", "text", "voice", "image_in", "image_gen"}
)

// loadBatchRows is the size of the batches the query benchmark inserts.
const loadBatchRows = 100_000

// benchUser is one synthetic person.
type benchUser struct {
	key             uint64
	assistant       int
	channel         int
	country         int
	start, end      int     // active days [start, end)
	pActive         float64 // chance of being active on a day
	meanEvents      float64
	linked          bool
	afterShutdown   [2]int // where a ChatGPT/Copilot WhatsApp user goes; -1: quiet
	secondA, second int
}

// newPanel makes the people of about n events over days days.
func newPanel(r *rand.Rand, n int64, days int) []benchUser {
	// Expected events per person: about 0.62 of the year active, on
	// about 72% of days, 4.5 events a day.
	perUser := float64(days) * 0.62 * 0.72 * 4.5 * 1.2
	users := make([]benchUser, int(float64(n)/perUser)+1)
	for i := range users {
		u := &users[i]
		u.key = r.Uint64()
		u.assistant = pickWeighted(r, []float64{0.5, 0.25, 0.15, 0.10})
		u.channel = pickWeighted(r, []float64{0.35, 0.2, 0.25, 0.15, 0.05})
		u.country = r.IntN(len(benchCountries))
		u.start = int(float64(days) * 0.6 * r.Float64())
		u.end = days
		if r.Float64() < 0.2 { // churns some time later
			u.end = u.start + 30 + r.IntN(days)
		}
		u.pActive = 0.5 + 0.45*r.Float64()
		u.meanEvents = 2 + 5*r.Float64()
		u.linked = u.assistant == 0 && r.Float64() < 0.3
		u.secondA, u.second = r.IntN(len(benchAssistants)), r.IntN(len(benchChannels))
		u.afterShutdown = [2]int{-1, -1}
		if u.channel == 0 && (u.assistant == 0 || u.assistant == 2) {
			switch x := r.Float64(); {
			case x < 0.45:
				u.afterShutdown = [2]int{u.assistant, 1 + r.IntN(4)}
			case x < 0.65:
				u.afterShutdown = [2]int{1, 0} // Meta AI on WhatsApp
			case x < 0.72:
				u.afterShutdown = [2]int{3, 1 + r.IntN(4)}
			}
		}
	}
	return users
}

// on is the assistant and channel u uses on day; ok is false when the
// shutdown left u quiet.
func (u *benchUser) on(day, shutdownDay int) (a, c int, ok bool) {
	if day >= shutdownDay && u.channel == 0 && (u.assistant == 0 || u.assistant == 2) {
		if u.afterShutdown[0] < 0 {
			return 0, 0, false
		}
		return u.afterShutdown[0], u.afterShutdown[1], true
	}
	return u.assistant, u.channel, true
}

func pickWeighted(r *rand.Rand, w []float64) int {
	x := r.Float64()
	for i, p := range w {
		if x < p {
			return i
		}
		x -= p
	}
	return len(w) - 1
}

// loader streams events into events in columnar batches, reporting its
// rate every 10 s.
type loader struct {
	s          *store.Store
	w          io.Writer
	n          int64 // events to load
	cols       benchColumns
	sent       int64
	id         uint64
	start      time.Time
	lastReport time.Time
}

// done reports whether n events are sent or waiting in the batch.
func (l *loader) done() bool { return l.sent+int64(l.cols.len()) >= l.n }

func (l *loader) add(ev benchEvent) {
	l.id++
	ev.id = l.id
	l.cols.add(ev)
}

// flushFull sends the batch once it holds loadBatchRows.
func (l *loader) flushFull(ctx context.Context) error {
	if l.cols.len() < loadBatchRows {
		return nil
	}
	return l.flush(ctx)
}

func (l *loader) flush(ctx context.Context) error {
	if l.cols.len() == 0 {
		return nil
	}
	if err := l.cols.send(ctx, l.s); err != nil {
		return err
	}
	l.sent += int64(l.cols.len())
	l.cols.reset()
	if time.Since(l.lastReport) > 10*time.Second {
		l.lastReport = time.Now()
		rate := float64(l.sent) / time.Since(l.start).Seconds()
		fmt.Fprintf(l.w, "  loaded %d events (%.0f rows/s)\n", l.sent, rate)
	}
	return nil
}

// loadEvents streams n events, day by day, in columnar batches of
// 100,000 rows straight into events (the rollup views fill on insert).
// Activity is realistic for the question: people return on most days and
// send several events a day.
func loadEvents(ctx context.Context, s *store.Store, n int64, seed uint64, w io.Writer) error {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	days := int(benchTo.Sub(benchFrom).Hours()/24) + 1
	users := newPanel(r, n, days)
	l := &loader{s: s, w: w, n: n, start: time.Now()}
	l.lastReport = l.start
	lastDay, err := l.days(ctx, r, users, days)
	if err != nil {
		return err
	}
	if err := l.topUp(ctx, r, users, days); err != nil {
		return err
	}
	if err := l.flush(ctx); err != nil {
		return err
	}
	return l.report(ctx, len(users), lastDay)
}

// days adds the panel's activity day by day until n events; it returns the
// last day it reached.
func (l *loader) days(ctx context.Context, r *rand.Rand, users []benchUser, days int) (time.Time, error) {
	shutdownDay := int(benchShutdown.Sub(benchFrom).Hours() / 24)
	lastDay := benchFrom
	for day := 0; day < days && !l.done(); day++ {
		base := benchFrom.AddDate(0, 0, day)
		lastDay = base
		for i := range users {
			u := &users[i]
			if day < u.start || day >= u.end || r.Float64() > u.pActive {
				continue
			}
			a, c, ok := u.on(day, shutdownDay)
			if !ok {
				continue
			}
			k := min(1+int(r.ExpFloat64()*u.meanEvents), 40)
			for j := 0; j < k; j++ {
				ea, ec := a, c
				if r.Float64() < 0.08 {
					ea, ec = u.secondA, u.second
				}
				l.add(benchEvent{
					t:         base.Add(time.Duration(r.IntN(86400)) * time.Second),
					assistant: benchAssistants[ea], channel: benchChannels[ec],
					modality: benchModalities[r.IntN(len(benchModalities))], user: u.key,
					country: benchCountries[u.country], count: uint32(1 + r.IntN(3)), linked: u.linked,
				})
				if l.done() {
					break
				}
			}
			if err := l.flushFull(ctx); err != nil {
				return lastDay, err
			}
			if l.done() {
				break
			}
		}
	}
	return lastDay, nil
}

// topUp makes up for the activity model being an estimate: it adds events
// of random people on random days of their active span up to exactly n.
func (l *loader) topUp(ctx context.Context, r *rand.Rand, users []benchUser, days int) error {
	shutdownDay := int(benchShutdown.Sub(benchFrom).Hours() / 24)
	for !l.done() {
		u := &users[r.IntN(len(users))]
		end := min(u.end, days)
		if end <= u.start {
			continue
		}
		day := u.start + r.IntN(end-u.start)
		a, c, ok := u.on(day, shutdownDay)
		if !ok {
			continue
		}
		l.add(benchEvent{t: benchFrom.AddDate(0, 0, day).Add(time.Duration(r.IntN(86400)) * time.Second),
			assistant: benchAssistants[a], channel: benchChannels[c], modality: benchModalities[r.IntN(len(benchModalities))],
			user: u.key, country: benchCountries[u.country], count: uint32(1 + r.IntN(3)), linked: u.linked})
		if err := l.flushFull(ctx); err != nil {
			return err
		}
	}
	return nil
}

// report says what was loaded, with the person-days counted by the server
// (the top-up may add some).
func (l *loader) report(ctx context.Context, people int, lastDay time.Time) error {
	var personDays uint64
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	err := l.s.Conn.QueryRow(cctx, "SELECT count() FROM (SELECT DISTINCT user_key, day FROM rollup_person_day)").Scan(&personDays)
	cancel()
	if err != nil {
		return err
	}
	took := time.Since(l.start)
	fmt.Fprintf(l.w, "loaded %d events of %d people, %s..%s, in %s (%.0f rows/s into events and its views, the rollups built beside the load)\n",
		l.sent, people, benchFrom.Format(catalog.DateLayout), lastDay.Format(catalog.DateLayout), took.Round(time.Second), float64(l.sent)/took.Seconds())
	if personDays > 0 {
		fmt.Fprintf(l.w, "events : distinct person-days = %d : %d = %.2f : 1\n", l.sent, personDays, float64(l.sent)/float64(personDays))
	}
	return nil
}

type benchEvent struct {
	id                                    uint64
	t                                     time.Time
	assistant, channel, modality, country string
	user                                  uint64
	count                                 uint32
	linked                                bool
}

// benchColumns holds one batch column by column (the fastest insert path
// of the native protocol).
type benchColumns struct {
	ids                                                     []string
	times                                                   []time.Time
	assistants, channels, types, modalities, countries, src []string
	users                                                   []uint64
	counts                                                  []uint32
	linked                                                  []uint8
}

func (c *benchColumns) len() int { return len(c.ids) }

func (c *benchColumns) add(ev benchEvent) {
	c.ids = append(c.ids, "b"+strconv.FormatUint(ev.id, 36))
	c.times = append(c.times, ev.t)
	c.assistants = append(c.assistants, ev.assistant)
	c.channels = append(c.channels, ev.channel)
	c.types = append(c.types, "message")
	c.modalities = append(c.modalities, ev.modality)
	c.countries = append(c.countries, ev.country)
	c.src = append(c.src, "bench")
	c.users = append(c.users, ev.user)
	c.counts = append(c.counts, ev.count)
	var l uint8
	if ev.linked {
		l = 1
	}
	c.linked = append(c.linked, l)
}

func (c *benchColumns) reset() {
	*c = benchColumns{
		ids: c.ids[:0], times: c.times[:0], assistants: c.assistants[:0], channels: c.channels[:0], types: c.types[:0],
		modalities: c.modalities[:0], countries: c.countries[:0], src: c.src[:0], users: c.users[:0], counts: c.counts[:0], linked: c.linked[:0],
	}
}

func (c *benchColumns) send(ctx context.Context, s *store.Store) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO events (event_id, event_time, received_at, assistant, channel, event_type, modality, user_key, country, count, linked, source)")
	if err != nil {
		return fmt.Errorf("bench insert: %w", err)
	}
	defer b.Close()
	for i, col := range []any{c.ids, c.times, c.times, c.assistants, c.channels, c.types, c.modalities, c.users, c.countries, c.counts, c.linked, c.src} {
		if err := b.Column(i).Append(col); err != nil {
			return fmt.Errorf("bench insert column %d: %w", i, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("bench insert: %w", err)
	}
	return nil
}
