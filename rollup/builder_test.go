package rollup_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	. "github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
	"github.com/adoptscope/adoptscope/schema/schematest"
)

func TestMain(m *testing.M) {
	os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: BuildAll}))
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// event is one row of events as the test writes it.
type event struct {
	day       time.Time
	assistant string
	user      uint64
	count     uint32
}

// send writes evs to events in one insert (the shared fixture), ids
// prefixed so that every call writes new events; it builds nothing.
func send(t *testing.T, s *store.Store, prefix string, evs []event) {
	t.Helper()
	rows := make([]schematest.Event, len(evs))
	for i, e := range evs {
		rows[i] = schematest.Event{Time: e.day, Assistant: e.assistant, Channel: "web", User: e.user, Count: e.count}
	}
	schematest.Insert(t, s, prefix+"-", rows)
}

// someEvents are n events over 10 days, 3 assistants and 50 people.
func someEvents(n, seed int) []event {
	as := []string{"chatgpt", "copilot", "meta_ai"}
	out := make([]event, n)
	for i := range out {
		k := i*7 + seed
		out[i] = event{
			day:       time.Date(2026, 1, 10+k%10, k%24, 0, 0, 0, time.UTC),
			assistant: as[k%3], user: uint64(k % 50), count: uint32(1 + k%4),
		}
	}
	return out
}

// want is what the rollups must say about evs, computed here in Go.
type want struct {
	events      uint64
	personDays  int
	firstSeen   int
	dailyUsers  map[string]uint64 // day|assistant → distinct people
	versionDays map[string]uint64 // day → events
}

func expect(evs []event) want {
	w := want{dailyUsers: map[string]uint64{}, versionDays: map[string]uint64{}}
	pd := map[string]bool{}
	fs := map[string]bool{}
	for _, e := range evs {
		w.events += uint64(e.count)
		d := e.day.Format(time.DateOnly)
		k := fmt.Sprintf("%s|%s|%d", d, e.assistant, e.user)
		if !pd[k] {
			pd[k] = true
			w.dailyUsers[d+"|"+e.assistant]++
		}
		fs[fmt.Sprintf("%s|%d", e.assistant, e.user)] = true
		w.versionDays[d] += uint64(e.count)
	}
	w.personDays, w.firstSeen = len(pd), len(fs)
	return w
}

func one[T any](t *testing.T, s *store.Store, q string) T {
	t.Helper()
	var v T
	if err := s.Conn.QueryRow(context.Background(), q).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// check compares every rollup with w.
func check(t *testing.T, s *store.Store, w want) {
	t.Helper()
	if got := one[uint64](t, s, "SELECT sum(events) FROM rollup_events_day"); got != w.events {
		t.Errorf("rollup_events_day: %d events, want %d", got, w.events)
	}
	if got := one[uint64](t, s, "SELECT sum(events) FROM rollup_person_day"); got != w.events {
		t.Errorf("rollup_person_day: %d events, want %d", got, w.events)
	}
	if got := one[uint64](t, s, "SELECT count() FROM (SELECT day, assistant, user_key FROM rollup_person_day GROUP BY day, assistant, user_key)"); got != uint64(w.personDays) {
		t.Errorf("rollup_person_day: %d person-days, want %d", got, w.personDays)
	}
	if got := one[uint64](t, s, "SELECT count() FROM (SELECT assistant, user_key FROM rollup_first_seen GROUP BY assistant, user_key)"); got != uint64(w.firstSeen) {
		t.Errorf("rollup_first_seen: %d people per assistant, want %d", got, w.firstSeen)
	}
	rows, err := s.Conn.Query(context.Background(), "SELECT toString(day), assistant, uniqMerge(users) FROM rollup_users_day GROUP BY day, assistant")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for rows.Next() {
		var d, a string
		var n uint64
		if err := rows.Scan(&d, &a, &n); err != nil {
			t.Fatal(err)
		}
		got[d+"|"+a] = n
	}
	rows.Close()
	if fmt.Sprint(got) != fmt.Sprint(w.dailyUsers) {
		t.Errorf("rollup_users_day: %v, want %v", got, w.dailyUsers)
	}
	rows, err = s.Conn.Query(context.Background(), "SELECT toString(day), sum(events) FROM rollup_version_day GROUP BY day")
	if err != nil {
		t.Fatal(err)
	}
	gotV := map[string]uint64{}
	for rows.Next() {
		var d string
		var n uint64
		if err := rows.Scan(&d, &n); err != nil {
			t.Fatal(err)
		}
		gotV[d] = n
	}
	rows.Close()
	if fmt.Sprint(gotV) != fmt.Sprint(w.versionDays) {
		t.Errorf("rollup_version_day: %v, want %v", gotV, w.versionDays)
	}
}

func catchUp(t *testing.T, b *Builder) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := b.CatchUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEventsReachTheRollupsOnlyWhenBuilt(t *testing.T) {
	s := chtest.NewStore(t)
	evs := someEvents(5000, 0)
	send(t, s, "a", evs)
	if n := one[uint64](t, s, "SELECT count() FROM rollup_person_day"); n != 0 {
		t.Fatalf("rollup_person_day holds %d rows before any build; the views should run behind ingest", n)
	}
	if n := one[uint64](t, s, "SELECT count() FROM rollup_queue"); n != 5000 {
		t.Fatalf("rollup_queue holds %d rows, want 5000", n)
	}
	b := New(s, Config{}, quiet())
	r := catchUp(t, b)
	if r.Rows != 5000 || r.Windows != 1 {
		t.Errorf("built %d rows in %d windows, want 5000 in 1", r.Rows, r.Windows)
	}
	check(t, s, expect(evs))

	// Built again: nothing more.
	if r := catchUp(t, b); r.Rows != 0 {
		t.Errorf("second build built %d rows, want 0", r.Rows)
	}
	more := someEvents(3000, 1)
	send(t, s, "b", more)
	if r := catchUp(t, New(s, Config{}, quiet())); r.Rows != 3000 {
		t.Errorf("third build (a new builder) built %d rows, want 3000", r.Rows)
	}
	check(t, s, expect(append(evs, more...)))
	if n := one[uint64](t, s, "SELECT sum(rows) FROM rollup_windows"); n != 8000 {
		t.Errorf("rollup_windows records %d rows, want 8000", n)
	}
	// The lease is given back after every build.
	if n := one[uint64](t, s, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'rollup_lease'"); n != 1 {
		t.Errorf("rollup_lease missing after the builds")
	}
}

// Windows hold whole seconds of the queue, up to WindowRows each, and each
// is recorded by the last view as one block of exactly its rows.
func TestWindowsSplitByRowsAndRecordedWhole(t *testing.T) {
	s := chtest.NewStore(t)
	var all []event
	for i := range 4 {
		evs := someEvents(700, i)
		send(t, s, fmt.Sprint("s", i), evs)
		all = append(all, evs...)
		time.Sleep(1100 * time.Millisecond) // the next insert in another second
	}
	seconds := one[uint64](t, s, "SELECT uniqExact(ingested_at) FROM rollup_queue")
	if seconds < 4 {
		t.Fatalf("the 4 inserts were stamped with %d distinct seconds; want 4", seconds)
	}
	r := catchUp(t, New(s, Config{WindowRows: 1500}, quiet()))
	// 700 + 700 fit in 1500, a third 700 does not: two windows of 1400.
	if r.Rows != 2800 || r.Windows != 2 {
		t.Errorf("built %d rows in %d windows, want 2800 in 2", r.Rows, r.Windows)
	}
	if got := one[string](t, s, "SELECT arrayStringConcat(groupArray(toString(rows)), ',') FROM (SELECT rows FROM rollup_windows ORDER BY window_end)"); got != "1400,1400" {
		t.Errorf("rollup_windows rows per block: %s, want 1400,1400 (one block per window)", got)
	}
	check(t, s, expect(all))
}

// Builders of several processes, and inserts still running while they
// build: every row is built once.
func TestConcurrentBuildersBuildEachRowOnce(t *testing.T) {
	s := chtest.NewStore(t)
	var all []event
	var mu sync.Mutex
	stop := make(chan struct{})
	var writers sync.WaitGroup
	writers.Add(1)
	go func() {
		defer writers.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			evs := someEvents(500, i)
			send(t, s, fmt.Sprint("w", i), evs)
			mu.Lock()
			all = append(all, evs...)
			mu.Unlock()
			time.Sleep(150 * time.Millisecond)
		}
	}()
	var builders sync.WaitGroup
	var built [3]uint64
	for k := range 3 {
		builders.Add(1)
		go func() {
			defer builders.Done()
			b := New(s, Config{WindowRows: 2000}, quiet())
			for range 6 {
				r, err := b.CatchUp(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				built[k] += r.Rows
			}
		}()
	}
	builders.Wait()
	close(stop)
	writers.Wait()
	final := catchUp(t, New(s, Config{}, quiet()))
	mu.Lock()
	defer mu.Unlock()
	total := built[0] + built[1] + built[2] + final.Rows
	if total != uint64(len(all)) {
		t.Errorf("built %d rows in all (%v + %d), %d were written", total, built, final.Rows, len(all))
	}
	check(t, s, expect(all))
	if n := one[uint64](t, s, "SELECT count() FROM rollup_windows WHERE rows = 0"); n != 0 {
		t.Errorf("%d empty windows recorded", n)
	}
}

// A window never passes an insert that is still running: its rows are
// stamped when they arrive, after the build would have moved on.
func TestRunningInsertHoldsTheHorizon(t *testing.T) {
	s := chtest.NewStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	slow, err := s.Conn.PrepareBatch(ctx, "INSERT INTO events (event_id, event_time, received_at, assistant, channel, event_type, modality, user_key, country, count, linked, source)")
	if err != nil {
		t.Fatal(err)
	}
	early := someEvents(100, 0)
	late := someEvents(100, 1)
	for i, e := range late {
		if err := slow.Append(fmt.Sprint("late-", i), e.day, e.day, e.assistant, "web", "message", "text", e.user, "FR", e.count, uint8(0), "test"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1100 * time.Millisecond)
	send(t, s, "early", early)

	b := New(s, Config{}, quiet())
	h, err := b.Horizon(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now, err := b.ServerNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The slow insert started more than a second ago.
	if !h.Before(now.Add(-1 * time.Second)) {
		t.Errorf("horizon %s with an insert open since over a second; server time %s", h, now)
	}
	// The early rows are stamped after the horizon: a build leaves them.
	r, err := b.BuildOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rows != 0 {
		t.Errorf("built %d rows while an older insert was open, want 0", r.Rows)
	}
	if err := slow.Send(); err != nil {
		t.Fatal(err)
	}
	if r := catchUp(t, b); r.Rows != 200 {
		t.Errorf("built %d rows after the insert ended, want 200", r.Rows)
	}
	check(t, s, expect(append(early, late...)))
}

// A builder that stopped holding the lease (crashed) loses it after the
// TTL; until then others wait for it.
func TestStaleLeaseIsTakenOver(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	dead := New(s, Config{LeaseTTL: 2 * time.Second}, quiet())
	if err := dead.TakeLease(ctx); err != nil {
		t.Fatal(err)
	}
	evs := someEvents(300, 0)
	send(t, s, "x", evs)

	other := New(s, Config{LeaseTTL: 2 * time.Second}, quiet())
	if _, err := other.BuildOnce(ctx); err != ErrLeaseHeld {
		t.Fatalf("build beside a fresh lease: %v, want errLeaseHeld", err)
	}
	time.Sleep(2500 * time.Millisecond)
	r := catchUp(t, other)
	if r.Rows != 300 {
		t.Errorf("built %d rows after taking over, want 300", r.Rows)
	}
	check(t, s, expect(evs))
	// The old holder finds out before it builds anything.
	if err := dead.Heartbeat(ctx); err == nil {
		t.Error("the builder whose lease was taken over was not told")
	}
}

// A builder that has just renamed the lease to its own name has not
// written its first heartbeat yet: the empty table looks stale, and must
// not be taken over for that (under load, builders took the lease from
// each other that way and failed on a lease table that no longer existed).
func TestFreshLeaseNotTakenOverBeforeItsFirstHeartbeat(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	send(t, s, "x", someEvents(100, 0))
	// The first step of taking the lease, as another builder does it.
	const mine = "rollup_lease_0123456789ab"
	if err := s.Conn.Exec(ctx, "RENAME TABLE rollup_lease TO "+mine); err != nil {
		t.Fatal(err)
	}
	// Its heartbeat arrives a second later.
	beat := make(chan error, 1)
	go func() {
		time.Sleep(time.Second)
		beat <- s.Conn.Exec(ctx, "INSERT INTO "+mine+" (holder, at) SELECT '0123456789ab', now()")
	}()
	other := New(s, Config{LeaseTTL: time.Minute}, quiet())
	if _, err := other.BuildOnce(ctx); err != ErrLeaseHeld {
		t.Errorf("build beside a lease taken a moment ago: %v, want ErrLeaseHeld", err)
	}
	if err := <-beat; err != nil {
		t.Fatalf("the holder's heartbeat: %v (its lease was taken over)", err)
	}
	if n := one[uint64](t, s, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = '"+mine+"'"); n != 1 {
		t.Error("the lease was taken from its holder")
	}
}

// Rows built are dropped from the queue an hour at a time.
func TestBuiltHoursLeaveTheQueue(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	// Rows stamped two hours ago, as if queued then.
	if err := s.Conn.Exec(ctx, "INSERT INTO rollup_queue SELECT now() - 7200, toDateTime('2026-01-10 00:00:00', 'UTC'), 'chatgpt', 'web', 'FR', 'text', 'message', number, 1, 0 FROM system.numbers LIMIT 40"); err != nil {
		t.Fatal(err)
	}
	send(t, s, "now", someEvents(10, 0))
	r := catchUp(t, New(s, Config{}, quiet()))
	if r.Rows != 50 {
		t.Fatalf("built %d rows, want 50", r.Rows)
	}
	if n := one[uint64](t, s, "SELECT count() FROM rollup_queue"); n != 10 {
		t.Errorf("queue holds %d rows after the build, want 10 (the hour two hours ago dropped, the current one kept)", n)
	}
	if n := one[uint64](t, s, "SELECT sum(events) FROM rollup_person_day"); n != 40+expect(someEvents(10, 0)).events {
		t.Errorf("person-day events %d", n)
	}
}

// While inserts into events run, the loop defers building until the
// oldest queued row is MaxLag old; CatchUp never defers.
func TestLoopDefersWhileInsertsRun(t *testing.T) {
	s := chtest.NewStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	evs := someEvents(200, 0)
	send(t, s, "first", evs)
	// The horizon is in whole seconds and errs early by up to one more:
	// open the running insert well after the first rows' second.
	time.Sleep(2100 * time.Millisecond)
	open, err := s.Conn.PrepareBatch(ctx, "INSERT INTO events (event_id, event_time, received_at, assistant, channel, event_type, modality, user_key, country, count, linked, source)")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Abort()
	time.Sleep(1100 * time.Millisecond)

	patient := New(s, Config{Interval: 100 * time.Millisecond, MaxLag: time.Hour}, quiet())
	if r, err := patient.Tick(ctx); err != nil || r.Rows != 0 {
		t.Errorf("loop build under load, max lag 1h: %d rows, %v; want 0 (deferred)", r.Rows, err)
	}
	// The first rows are 3 s old by now: past a max lag of 1 s.
	urgent := New(s, Config{Interval: 100 * time.Millisecond, MaxLag: time.Second}, quiet())
	if r, err := urgent.Tick(ctx); err != nil || r.Rows != 200 {
		t.Errorf("loop build under load, max lag 1s: %d rows, %v; want 200", r.Rows, err)
	}
	check(t, s, expect(evs))
}
