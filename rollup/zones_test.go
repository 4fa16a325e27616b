package rollup_test

import (
	"context"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	. "github.com/adoptscope/adoptscope/rollup"
)

// TestZoneAddedLaterIsBackfilledByTheLoop: a zone configured after the
// events were built is backfilled by the background loop although nothing
// is queued (an idle tick does not skip it), and its event sums then match
// the events.
func TestZoneAddedLaterIsBackfilledByTheLoop(t *testing.T) {
	s := chtest.NewStore(t)
	evs := someEvents(400, 3)
	send(t, s, "z", evs)
	chtest.BuildRollups(t, s)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := New(s, Config{Interval: 100 * time.Millisecond, Zones: []string{"Asia/Kathmandu"}}, quiet())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var state string
		if err := s.Conn.QueryRow(ctx, "SELECT argMax(state, updated) FROM rollup_zones WHERE tz = 'Asia/Kathmandu'").Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state == "built" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("zone state %q after 60 s of the loop, want built", state)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	<-done
	var want uint64
	for _, e := range evs {
		want += uint64(e.count)
	}
	var got uint64
	if err := s.Conn.QueryRow(context.Background(), "SELECT sum(events) FROM rollup_zone_events_day WHERE tz = 'Asia/Kathmandu'").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("zone event sum %d, want %d", got, want)
	}
}
