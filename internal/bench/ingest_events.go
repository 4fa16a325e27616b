package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/app"
)

// benchEvents generates realistic events: a panel of people using a few
// assistants over the last days (a month by default), mostly text
// messages, several events per person per day; and the same events as NDJSON request bodies.
func benchEvents(n, perReq, days int, seed uint64) ([]ingest.Input, [][]byte) {
	r := rand.New(rand.NewPCG(seed, 2))
	// Ids are new on every run (a rerun against the same instance must not
	// turn into a duplicates benchmark); the rest follows the seed.
	run := rand.Uint32()
	assistants := []string{"chatgpt", "chatgpt", "chatgpt", "meta_ai", "meta_ai", "copilot", "perplexity"}
	channels := []string{"whatsapp", "whatsapp", "ios", "android", "android", "web", "desktop", "messenger", "instagram"}
	types := []string{"message", "message", "message", "message", "message", "message", "session_start", "session_start", "signup", "account_linked"}
	mods := []string{"text", "text", "text", "text", "voice", "image", "image_generation"}
	countries := []string{"US", "BR", "IN", "FR", "DE", "MX", "ID", "NG", "GB", "ES"}
	people := max(n/40, 1)
	end := time.Now().UTC().Truncate(time.Second)
	start := end.Add(-time.Duration(days) * 24 * time.Hour)
	span := int64(end.Sub(start) / time.Second)
	inputs := make([]ingest.Input, n)
	for i := range inputs {
		p := r.IntN(people)
		inputs[i] = ingest.Input{
			EventID:   fmt.Sprintf("%08x-%016x-%08x", run, r.Uint64(), i),
			Time:      start.Add(time.Duration(r.Int64N(span)) * time.Second),
			Assistant: assistants[p%len(assistants)],
			Channel:   channels[(p/7+r.IntN(2))%len(channels)],
			UserID:    "+1555" + strconv.Itoa(1000000+p),
			EventType: types[r.IntN(len(types))],
			Modality:  mods[r.IntN(len(mods))],
			Country:   countries[p%len(countries)],
			Count:     uint32(1 + r.IntN(3)),
			Linked:    p%3 == 0,
			Source:    "bench",
		}
	}
	return inputs, ndjsonBodies(inputs, perReq)
}

// ndjsonBodies cuts the events into request bodies of perReq events each.
func ndjsonBodies(inputs []ingest.Input, perReq int) [][]byte {
	n := len(inputs)
	var bodies [][]byte
	for i := 0; i < n; i += perReq {
		var b bytes.Buffer
		for _, in := range inputs[i:min(i+perReq, n)] {
			b.WriteString(`{"event_id":"`)
			b.WriteString(in.EventID)
			b.WriteString(`","time":"`)
			b.WriteString(in.Time.Format(time.RFC3339))
			fmt.Fprintf(&b, `","assistant":%q,"channel":%q,"user_id":%q,"event_type":%q,"modality":%q,"country":%q,"count":%d,"linked":%t,"source":%q}`+"\n",
				in.Assistant, in.Channel, in.UserID, in.EventType, in.Modality, in.Country, in.Count, in.Linked, in.Source)
		}
		bodies = append(bodies, b.Bytes())
	}
	return bodies
}

type rawRates struct{ row, col, bare float64 }

// rawBatchRows is the batch size of the raw baseline.
const rawBatchRows = 100_000

// benchRaw inserts the events with plain clickhouse-go batches into scratch
// databases of srv, migrated like the product's: with row appends, with
// columnar appends, and columnar into a bare copy of events.
func benchRaw(ctx context.Context, srv *app.Server, inputs []ingest.Input) (rawRates, error) {
	var rates rawRates
	conv := newRawRows()
	suffix := strconv.FormatInt(time.Now().Unix(), 10)
	var err error
	if rates.row, err = rawInsert(ctx, srv, "bench_raw_row_"+suffix, "events", false, inputs, conv); err != nil {
		return rates, fmt.Errorf("raw row insert: %w", err)
	}
	if rates.col, err = rawInsert(ctx, srv, "bench_raw_col_"+suffix, "events", true, inputs, conv); err != nil {
		return rates, fmt.Errorf("raw columnar insert: %w", err)
	}
	if rates.bare, err = rawInsert(ctx, srv, "bench_raw_bare_"+suffix, "events_bare", true, inputs, conv); err != nil {
		return rates, fmt.Errorf("raw bare insert: %w", err)
	}
	return rates, nil
}

// rawRows converts events to the rows ingest would write (user key: any
// 64-bit hash will do for the baseline), a batch at a time, reusing one
// slice.
type rawRows struct {
	now  time.Time
	rows []ingest.Event
}

func newRawRows() *rawRows {
	return &rawRows{now: time.Now().UTC(), rows: make([]ingest.Event, 0, rawBatchRows)}
}

func (c *rawRows) convert(part []ingest.Input) []ingest.Event {
	c.rows = c.rows[:0]
	for _, in := range part {
		h := uint64(14695981039346656037)
		for j := 0; j < len(in.UserID); j++ {
			h = (h ^ uint64(in.UserID[j])) * 1099511628211
		}
		c.rows = append(c.rows, ingest.Event{EventID: in.EventID, Time: in.Time.UTC(), ReceivedAt: c.now, Assistant: in.Assistant, Channel: in.Channel,
			EventType: in.EventType, Modality: in.Modality, UserKey: h, Country: in.Country, Count: in.Count, Linked: in.Linked, Source: in.Source})
	}
	return c.rows
}

// rawInsert times the inserts of the events into table of a fresh database
// db (converted outside the clock), and drops the database.
func rawInsert(ctx context.Context, srv *app.Server, db, table string, columnar bool, inputs []ingest.Input, conv *rawRows) (float64, error) {
	b, err := srv.OpenDatabase(ctx, db, quiet)
	if err != nil {
		return 0, err
	}
	s := b.Store
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_ = s.Conn.Exec(dctx, "DROP DATABASE IF EXISTS "+db)
		b.Close()
	}()
	if table != "events" {
		// 18.16 creates LowCardinality columns only with this setting;
		// newer servers refuse it as unknown.
		cctx := ctx
		if !s.Features().LowCardinalityGA {
			cctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"allow_experimental_low_cardinality_type": 1}))
		}
		if err := s.Conn.Exec(cctx, "CREATE TABLE "+table+" AS events"); err != nil {
			return 0, err
		}
	}
	settle()
	var took time.Duration
	for i := 0; i < len(inputs); i += rawBatchRows {
		batch := conv.convert(inputs[i:min(i+rawBatchRows, len(inputs))])
		start := time.Now()
		if err := ingest.InsertBatch(ctx, s, table, batch, columnar); err != nil {
			return 0, err
		}
		took += time.Since(start)
	}
	return float64(len(inputs)) / took.Seconds(), nil
}
