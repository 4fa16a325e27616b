package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/ingest"
)

// Source is the source field of every demo event.
const Source = "demo"

// DefaultPeople loads well under a minute through the ingest pipeline on a
// 2-core machine (about 2.3 million events over the default range).
const DefaultPeople = 5000

// Config says what to generate. Zero values take the defaults.
type Config struct {
	Seed   uint64
	People int
	From   time.Time // first day (UTC date), default 2024-06-01
	To     time.Time // last day, inclusive, default today (UTC)
	// PerplexityWhatsAppEnd, when set, ends Perplexity's WhatsApp channel on
	// that day (a what-if): its users move to Perplexity's web and apps or
	// go quiet.
	PerplexityWhatsAppEnd time.Time
}

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.People == 0 {
		c.People = DefaultPeople
	}
	if c.From.IsZero() {
		c.From = DefaultFrom
	}
	if c.To.IsZero() {
		c.To = time.Now().UTC()
	}
	c.From = truncDay(c.From)
	c.To = truncDay(c.To)
	if !c.PerplexityWhatsAppEnd.IsZero() {
		c.PerplexityWhatsAppEnd = truncDay(c.PerplexityWhatsAppEnd)
	}
	return c
}

// Validate names the field to fix.
func (c Config) Validate() error {
	var errs []error
	if c.People < 0 || c.People > 50_000_000 {
		errs = append(errs, fmt.Errorf("people %d: want 1 to 50000000", c.People))
	}
	if !c.From.IsZero() && !c.To.IsZero() && c.To.Before(c.From) {
		errs = append(errs, fmt.Errorf("to %s is before from %s", c.To.Format(catalog.DateLayout), c.From.Format(catalog.DateLayout)))
	}
	if !c.From.IsZero() && c.From.Before(date("2015-01-01")) {
		errs = append(errs, fmt.Errorf("from %s: ingest refuses events before 2015-01-01", c.From.Format(catalog.DateLayout)))
	}
	return errors.Join(errs...)
}

func truncDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

const never = math.MaxInt32

type habit struct {
	assistant, channel uint8
	start, end         int32 // days since the epoch, end exclusive
	weight             float32
}

type person struct {
	userID    string
	country   uint8
	activity  float32 // chance of being active on a weekday
	linkDay   int32   // day of account_linked, or never
	linkSec   int32   // second of that day it happens: linked from then on
	forceDay  int32   // a day of certain activity on forceHabit, or never
	forceHab  int8
	firstDay  int32 // first day after the shutdown with certain activity on the outcome
	outcomeH  int8  // habit index of the outcome, -1 none
	seen      uint16
	habits    []habit
	segment   uint8
	outcomeIx int8
}

const (
	segOther uint8 = iota
	segCohort
	segTrier
)

// Generator produces the data set of one Config.
type Generator struct {
	cfg     Config
	people  []person
	from    int32
	to      int32 // inclusive
	rng     *rand.Rand
	pcg     *rand.PCG
	buf     []ingest.Input
	idBuf   []byte
	cumAsst []float64
	cumCtry []float64
}

// New builds the panel of people (their countries and habits); events come
// from Days or Events.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Generator{cfg: cfg, from: dayOf(cfg.From), to: dayOf(cfg.To)}
	g.pcg = rand.NewPCG(0, 0)
	g.rng = rand.New(g.pcg)
	g.cumAsst = cumulative(assistantWeights)
	cw := make([]float64, len(countryWeights))
	for i, c := range countryWeights {
		cw[i] = c.weight
	}
	g.cumCtry = cumulative(cw)
	g.people = make([]person, cfg.People)
	for i := range g.people {
		g.buildPerson(i)
	}
	return g, nil
}

// Config is the configuration in use, defaults filled.
func (g *Generator) Config() Config { return g.cfg }

func cumulative(w []float64) []float64 {
	out := make([]float64, len(w))
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	acc := 0.0
	for i, x := range w {
		acc += x / sum
		out[i] = acc
	}
	out[len(out)-1] = 1
	return out
}

func pick(cum []float64, u float64) int {
	for i, c := range cum {
		if u < c {
			return i
		}
	}
	return len(cum) - 1
}

// splitmix64 spreads nearby seeds into unrelated PCG states.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (g *Generator) seed(a, b uint64) {
	g.pcg.Seed(splitmix64(g.cfg.Seed^splitmix64(a)), splitmix64(b+0x632be59bd9b4e019))
}

// stratified is person i's position in a low-discrepancy sequence: shares
// of people by segment and outcome come out exact, not merely expected.
func (g *Generator) stratified(i int) float64 {
	const phi = 0.6180339887498949
	off := float64(splitmix64(g.cfg.Seed)>>11) / (1 << 53)
	_, f := math.Modf(off + float64(i+1)*phi)
	return f
}

// growthDay draws a start day in [lo, hi): later days more likely when
// shape < 1 (a growing channel).
func (g *Generator) growthDay(lo, hi int32, shape float64) int32 {
	if hi <= lo {
		return lo
	}
	x := math.Pow(g.rng.Float64(), shape)
	return lo + int32(x*float64(hi-lo))
}

func (g *Generator) buildPerson(i int) {
	g.seed(uint64(i), 0xfeed)
	r := g.rng
	p := &g.people[i]
	p.userID = "demo-user-" + strconv.FormatUint(g.cfg.Seed, 10) + "-" + strconv.FormatUint(splitmix64(g.cfg.Seed<<32^uint64(i)), 36)
	p.country = uint8(pick(g.cumCtry, r.Float64()))
	p.activity = float32(0.12 + 0.6*math.Pow(r.Float64(), 1.4))
	p.linkDay, p.forceDay, p.firstDay = never, never, never
	p.outcomeH, p.outcomeIx, p.forceHab = -1, -1, -1

	from, to := g.from, g.to+1
	shutdown := dayOf(Shutdown)
	launch := dayOf(ChatGPTWhatsAppLaunch)

	// Main habit: 35% of people were already users when the range starts,
	// the others arrive along a growth curve.
	a := pick(g.cumAsst, r.Float64())
	start := from
	if r.Float64() > 0.35 {
		start = g.growthDay(from, to, 0.85)
	}
	p.habits = append(p.habits, g.newHabit(a, start, 1.0))
	// A second assistant or channel for some.
	if r.Float64() < 0.4 {
		a2 := pick(g.cumAsst, r.Float64())
		s2 := max(start, g.growthDay(from, to, 0.8))
		p.habits = append(p.habits, g.newHabit(a2, s2, 0.5))
	}

	u := g.stratified(i)
	switch {
	case u < CohortShare && launch < shutdown-7:
		p.segment = segCohort
		v := u / CohortShare
		linked := v < LinkedShare
		var w float64
		var shares func(Outcome) float64
		if linked {
			w = v / LinkedShare
			shares = func(o Outcome) float64 { return o.Linked }
		} else {
			w = (v - LinkedShare) / (1 - LinkedShare)
			shares = func(o Outcome) float64 { return o.Unlinked }
		}
		acc := 0.0
		p.outcomeIx = int8(len(Outcomes) - 1)
		for k, o := range Outcomes {
			acc += shares(o)
			if w < acc {
				p.outcomeIx = int8(k)
				break
			}
		}
		waStart := g.growthDay(launch, shutdown-7, 0.75)
		p.habits = append(p.habits, habit{aChatGPT, cWhatsApp, waStart, shutdown, 2.5})
		p.forceHab = int8(len(p.habits) - 1)
		lo := max(waStart, shutdown-7)
		p.forceDay = lo + int32(r.IntN(int(shutdown-lo)))
		if linked {
			lo := max(waStart, dayOf(LinkingCampaignStart)-21)
			p.linkDay = lo + int32(r.IntN(int(shutdown-lo)))
			p.linkSec = int32(r.IntN(86400))
		}
		// From the shutdown on, only the outcome.
		for k := range p.habits {
			p.habits[k].end = min(p.habits[k].end, shutdown)
		}
		o := Outcomes[p.outcomeIx]
		if o.Assistant != "" {
			h := habit{uint8(slices.Index(assistants, o.Assistant)), uint8(slices.Index(channels, o.Channel)), shutdown, never, 1}
			p.habits = append(p.habits, h)
			p.outcomeH = int8(len(p.habits) - 1)
			p.firstDay = shutdown + int32(r.IntN(7))
		}
	case u >= CohortShare && u < CohortShare+TrierShare:
		p.segment = segTrier
		s := g.growthDay(launch, shutdown-120, 0.9)
		e := min(s+14+int32(r.IntN(90)), shutdown-61)
		if e > s {
			p.habits = append(p.habits, habit{aChatGPT, cWhatsApp, s, e, 1.2})
		}
	default:
		if r.Float64() < MetaAIBumpShare/(1-CohortShare-TrierShare) {
			p.habits = append(p.habits, habit{aMetaAI, cWhatsApp, shutdown + int32(r.IntN(42)), never, 1.3})
		}
	}

	// Channels that close: Copilot's WhatsApp on the shutdown, Perplexity's
	// on the what-if date. Some of their users carry on elsewhere.
	n := len(p.habits)
	for k := 0; k < n; k++ {
		h := &p.habits[k]
		end := int32(never)
		var alt uint8
		switch {
		case h.assistant == aCopilot && h.channel == cWhatsApp:
			end, alt = shutdown, cWeb
		case h.assistant == aPerplexity && h.channel == cWhatsApp && !g.cfg.PerplexityWhatsAppEnd.IsZero():
			end, alt = dayOf(g.cfg.PerplexityWhatsAppEnd), cAndroid
		default:
			continue
		}
		if h.end > end {
			h.end = end
			if h.start < end && r.Float64() < 0.35 {
				p.habits = append(p.habits, habit{h.assistant, alt, end, never, h.weight})
			}
		}
	}
	if len(p.habits) > 16 {
		p.habits = p.habits[:16] // seen is a 16-bit set
	}
}

// newHabit is assistant a on one of its channels from start. Channels that
// open later start no earlier than their opening.
func (g *Generator) newHabit(a int, start int32, weight float32) habit {
	ws := channelWeights[a]
	u := g.rng.Float64()
	total := 0.0
	for _, w := range ws {
		total += w.weight
	}
	c := ws[len(ws)-1].channel
	acc := 0.0
	for _, w := range ws {
		acc += w.weight / total
		if u < acc {
			c = w.channel
			break
		}
	}
	if a == aPerplexity && c == cWhatsApp {
		start = max(start, dayOf(PerplexityWhatsApp))
	}
	return habit{uint8(a), uint8(c), start, never, weight}
}

// Days yields each day of the range with its events in time order. The
// slice is reused: copy what you keep past the next iteration.
func (g *Generator) Days() iter.Seq2[time.Time, []ingest.Input] {
	return func(yield func(time.Time, []ingest.Input) bool) {
		for i := range g.people {
			g.people[i].seen = 0
		}
		for d := g.from; d <= g.to; d++ {
			if !yield(dayTime(d), g.day(d)) {
				return
			}
		}
	}
}

// Events yields every event in time order.
func (g *Generator) Events() iter.Seq[ingest.Input] {
	return func(yield func(ingest.Input) bool) {
		for _, evs := range g.Days() {
			for _, e := range evs {
				if !yield(e) {
					return
				}
			}
		}
	}
}

// Days in the range.
func (g *Generator) NumDays() int { return int(g.to-g.from) + 1 }

func (g *Generator) day(d int32) []ingest.Input {
	g.buf = g.buf[:0]
	t0 := dayTime(d)
	season := weekdayFactor[t0.Weekday()]
	shutdown := dayOf(Shutdown)
	bump := 1.0
	if d >= shutdown && d < shutdown+60 {
		bump = 1.25 // Meta AI on WhatsApp: attention after the shutdown
	}
	var live [16]int8
	for i := range g.people {
		p := &g.people[i]
		n := 0
		for k := range p.habits {
			h := &p.habits[k]
			if d >= h.start && d < h.end && d >= g.from {
				live[n] = int8(k)
				n++
			}
		}
		if n == 0 {
			continue
		}
		g.seed(uint64(i), uint64(d))
		r := g.rng
		forced := int8(-1)
		switch d {
		case p.forceDay, p.linkDay:
			forced = p.forceHab
		case p.firstDay:
			forced = p.outcomeH
		}
		act := float64(p.activity) * season
		if r.Float64() >= act && forced < 0 {
			continue
		}
		// One habit by weight (the forced one when there is one), and now
		// and then a second one the same day.
		first := forced
		if first < 0 {
			first = g.pickHabit(p, live[:n], bump)
		}
		g.emit(p, i, d, int(first), r)
		if n > 1 && r.Float64() < 0.25 {
			second := g.pickHabit(p, live[:n], bump)
			if second != first {
				g.emit(p, i, d, int(second), r)
			}
		}
	}
	slices.SortFunc(g.buf, func(a, b ingest.Input) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.EventID, b.EventID)
	})
	return g.buf
}

func (g *Generator) pickHabit(p *person, live []int8, bump float64) int8 {
	total := 0.0
	for _, k := range live {
		total += g.habitWeight(&p.habits[k], bump)
	}
	u := g.rng.Float64() * total
	for _, k := range live {
		u -= g.habitWeight(&p.habits[k], bump)
		if u < 0 {
			return k
		}
	}
	return live[len(live)-1]
}

func (g *Generator) habitWeight(h *habit, bump float64) float64 {
	w := float64(h.weight)
	if h.assistant == aMetaAI && h.channel == cWhatsApp {
		w *= bump
	}
	return w
}

func (g *Generator) emit(p *person, i int, d int32, k int, r *rand.Rand) {
	h := &p.habits[k]
	a, c := int(h.assistant), int(h.channel)
	shutdown := dayOf(Shutdown)
	if c == cWhatsApp && (a == aChatGPT || a == aCopilot) && d >= shutdown {
		return // no usage there from the shutdown on, whatever else says
	}
	n := 1 + int(math.Floor(-math.Log(1-r.Float64())*1.6))
	n = min(n, 8)
	mix := mixFor(a, c, d)
	base := dayTime(d)
	for j := 0; j < n; j++ {
		sec := int32(r.IntN(86400))
		linked := a == aChatGPT && (d > p.linkDay || d == p.linkDay && sec > p.linkSec)
		in := ingest.Input{
			Time:      base.Add(time.Duration(sec) * time.Second),
			Assistant: assistants[a],
			Channel:   channels[c],
			UserID:    p.userID,
			EventType: "message",
			Modality:  "text",
			Country:   countryWeights[p.country].code,
			Count:     uint32(1 + r.IntN(4)),
			Linked:    linked,
			Source:    Source,
		}
		switch m := r.Float64(); {
		case m < mix.voice:
			in.Modality = "voice"
		case m < mix.voice+mix.image:
			in.Modality = "image"
		case m < mix.voice+mix.image+mix.imageGen:
			in.Modality = "image_generation"
		}
		if j == 0 && p.seen&(1<<k) == 0 {
			p.seen |= 1 << k
			in.EventType, in.Modality, in.Count = "signup", "text", 1
		} else if j == 0 && c != cWhatsApp && c != cMessenger && c != cInstagram {
			in.EventType, in.Modality, in.Count = "session_start", "text", 1
		}
		in.EventID = g.eventID(i, d, j, k)
		g.buf = append(g.buf, in)
	}
	if d == p.linkDay && k == int(p.forceHab) {
		in := ingest.Input{
			Time:      base.Add(time.Duration(p.linkSec) * time.Second),
			Assistant: assistants[a], Channel: channels[c], UserID: p.userID,
			EventType: "account_linked", Modality: "text", Country: countryWeights[p.country].code,
			Count: 1, Linked: true, Source: Source,
		}
		in.EventID = g.eventID(i, d, 99, k)
		g.buf = append(g.buf, in)
	}
}

// eventID is deterministic, so loading the same data twice stores it once
// (ingest deduplicates by event_id). It never contains the user id.
func (g *Generator) eventID(i int, d int32, j, k int) string {
	b := g.idBuf[:0]
	b = append(b, "demo-"...)
	b = strconv.AppendUint(b, g.cfg.Seed, 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(d), 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(i), 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(k), 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(j), 36)
	g.idBuf = b
	return string(b)
}

// Checksum hashes the generated stream of cfg (every field of every event,
// in order) and counts its events.
func Checksum(cfg Config) (string, int64, error) {
	g, err := New(cfg)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	var n int64
	var line []byte
	for e := range g.Events() {
		line = AppendCanonical(line[:0], e)
		h.Write(line)
		n++
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// AppendCanonical appends one line that states every field of e.
func AppendCanonical(b []byte, e ingest.Input) []byte {
	b = append(b, e.EventID...)
	b = append(b, '|')
	b = strconv.AppendInt(b, e.Time.Unix(), 10)
	for _, s := range []string{e.Assistant, e.Channel, e.UserID, e.EventType, e.Modality, e.Country} {
		b = append(b, '|')
		b = append(b, s...)
	}
	b = append(b, '|')
	b = strconv.AppendUint(b, uint64(e.Count), 10)
	b = append(b, '|')
	b = strconv.AppendBool(b, e.Linked)
	b = append(b, '|')
	b = append(b, e.Source...)
	return append(b, '\n')
}
