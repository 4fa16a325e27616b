// Package schematest writes events straight into a test database's events
// table, as ingest's insert does, and builds the rollups the readers use
// (not the daily finals: a test of them runs rollup.Finalize): the one
// fixture of the query, export, rollup and adapter
// tests, which compute their expected answers from the same events.
//
// It sits with the schema it writes (the layer of package schema) and
// imports only the platform: the rollups are built by the builder the test
// binary gave chtest.Main, so that the rollup package's own tests may use
// it too. Only tests import it.
package schematest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// Event is one row of events. An empty ID is the prefix given to Insert
// followed by the event's index; a zero Received is Time; empty text
// columns and a zero Count take the defaults below.
type Event struct {
	ID        string
	Time      time.Time
	Received  time.Time
	Assistant string
	Channel   string // default "web"
	EventType string // default "message"
	Modality  string // default "text"
	Country   string // default "FR"
	Source    string // default "test"
	User      uint64 // the pseudonymous user key
	Count     uint32 // default 1
	Linked    bool
}

// batchRows bounds one insert, as ingest's batches are bounded.
const batchRows = 100_000

// Insert writes evs into s's events table with columnar batches of at
// most 100,000 rows; an event without an ID gets prefix and its index.
// It builds nothing: a test of the rollup builder builds itself.
func Insert(t testing.TB, s *store.Store, prefix string, evs []Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for start := 0; start < len(evs); start += batchRows {
		end := min(start+batchRows, len(evs))
		b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO events (event_id, event_time, received_at, assistant, channel, event_type, modality, user_key, country, count, linked, source)")
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range evs[start:end] {
			if e.ID == "" {
				e.ID = fmt.Sprintf("%s%d", prefix, start+i)
			}
			if e.Received.IsZero() {
				e.Received = e.Time
			}
			var linked uint8
			if e.Linked {
				linked = 1
			}
			if err := b.Append(e.ID, e.Time.UTC(), e.Received.UTC(), e.Assistant, or(e.Channel, "web"), or(e.EventType, "message"),
				or(e.Modality, "text"), e.User, or(e.Country, "FR"), max(e.Count, 1), linked, or(e.Source, "test")); err != nil {
				b.Abort()
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
}

// InsertAndBuild is Insert followed by a build of the rollups of
// everything events holds (chtest.BuildRollups): what a test of a reader
// does before it reads.
func InsertAndBuild(t testing.TB, s *store.Store, prefix string, evs []Event) {
	t.Helper()
	Insert(t, s, prefix, evs)
	chtest.BuildRollups(t, s)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
