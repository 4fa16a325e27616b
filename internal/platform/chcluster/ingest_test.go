//go:build cluster

package chcluster_test

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chcluster"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

var testSecret = []byte("cluster-test-secret-0123456789")

// otherInstanceNode is where a second instance connects: the first replica
// of the last shard (the first instance uses node 0, the first replica of
// the first shard), as the README recommends.
func otherInstanceNode(c *chcluster.Cluster) int {
	fr := c.FirstReplicas()
	return fr[len(fr)-1]
}

// syntheticInputs makes n valid events with distinct ids over the last
// days, from users people.
func syntheticInputs(seed int64, n, people, days int, now time.Time) []ingest.Input {
	r := rand.New(rand.NewSource(seed))
	as := catalog.DefaultAssistants
	cs := []string{"whatsapp", "ios", "android", "web", "messenger"}
	mods := catalog.Modalities
	countries := []string{"EG", "BR", "IN", "US", ""}
	out := make([]ingest.Input, n)
	for i := range out {
		out[i] = ingest.Input{
			EventID:   fmt.Sprintf("ev-%d-%07d", seed, i),
			Time:      now.Add(-time.Duration(r.Int63n(int64(days) * int64(24*time.Hour)))).Truncate(time.Second),
			Assistant: as[r.Intn(len(as))],
			Channel:   cs[r.Intn(len(cs))],
			UserID:    fmt.Sprintf("user-%d", r.Intn(people)),
			Modality:  mods[r.Intn(len(mods))],
			Country:   countries[r.Intn(len(countries))],
			Count:     uint32(1 + r.Intn(3)),
			Linked:    r.Intn(10) == 0,
		}
	}
	return out
}

func newPipeline(t *testing.T, s *store.Store) *ingest.Pipeline {
	t.Helper()
	p, err := ingest.NewPipeline(s, ingest.Config{Secret: testSecret, BatchRows: 2000, FlushInterval: 50 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p.Close(ctx)
	})
	return p
}

func submitAll(t *testing.T, p *ingest.Pipeline, in []ingest.Input, chunk int) ingest.Result {
	t.Helper()
	var total ingest.Result
	for i := 0; i < len(in); i += chunk {
		j := min(i+chunk, len(in))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res, err := p.Submit(ctx, in[i:j])
		cancel()
		if err != nil {
			t.Fatalf("submit events %d..%d: %v", i, j, err)
		}
		total.Accepted += res.Accepted
		total.Duplicates += res.Duplicates
		total.Rejected += res.Rejected
	}
	return total
}

func queryUint(t *testing.T, s *store.Store, q string, args ...any) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var v uint64
	if err := s.Conn.QueryRow(ctx, q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// syncReplicas waits until every node has fetched every part its shard's
// other replicas have, for table (a _local table).
func syncReplicas(t *testing.T, db, table string) {
	t.Helper()
	c := chcluster.Shared(t)
	for i := range c.Nodes {
		ns := chcluster.OpenStore(t, i, db)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		err := ns.Conn.Exec(ctx, "SYSTEM SYNC REPLICA "+db+"."+table)
		cancel()
		if err != nil {
			t.Fatalf("SYSTEM SYNC REPLICA %s on %s: %v", table, c.Nodes[i].Name(), err)
		}
	}
}

// idsOn returns the event_ids stored in events_local on node i.
func idsOn(t *testing.T, i int, db string) map[string]int {
	t.Helper()
	ns := chcluster.OpenStore(t, i, db)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := ns.Conn.Query(ctx, "SELECT event_id, count() FROM events_local GROUP BY event_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n uint64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		out[id] = int(n)
	}
	return out
}

// checkReplicasAgree checks that both replicas of each shard hold the same
// events, each once, that shards are disjoint, and returns all ids.
func checkReplicasAgree(t *testing.T, db string) map[string]int {
	t.Helper()
	c := chcluster.Shared(t)
	all := map[string]int{}
	byShard := map[int]map[string]int{}
	for i, nd := range c.Nodes {
		got := idsOn(t, i, db)
		for id, n := range got {
			if n != 1 {
				t.Errorf("node %s stores event %s %d times", nd.Name(), id, n)
			}
		}
		if first, ok := byShard[nd.Shard]; ok {
			if len(first) != len(got) {
				t.Errorf("node %s has %d events, its shard's first replica %d", nd.Name(), len(got), len(first))
			}
			for id := range first {
				if _, ok := got[id]; !ok {
					t.Errorf("node %s lacks event %s that its shard's other replica has", nd.Name(), id)
					break
				}
			}
			continue
		}
		byShard[nd.Shard] = got
		for id := range got {
			all[id]++
		}
	}
	for id, n := range all {
		if n != 1 {
			t.Errorf("event %s stored on %d shards", id, n)
		}
	}
	return all
}

// TestTwoIngestInstancesStoreEachEventOnce: two stateless ingest instances
// connected through different nodes get half the events each, then each
// gets the other half again, then both get everything at once. Every event
// is stored once, on one shard (both replicas), and the rollups count it
// once.
func TestTwoIngestInstancesStoreEachEventOnce(t *testing.T) {
	t.Parallel() // the tests that kill nodes run first, alone
	s := chcluster.NewStore(t)
	c := chcluster.Shared(t)
	a := newPipeline(t, s)
	b := newPipeline(t, chcluster.OpenStore(t, otherInstanceNode(c), s.Database))

	const n = 6000
	in := syntheticInputs(1, n, 800, 40, time.Now().UTC())
	var wantCount uint64
	for _, e := range in {
		wantCount += uint64(max(e.Count, 1))
	}
	half := n / 2

	var ra, rb ingest.Result
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); ra = submitAll(t, a, in[:half], 500) }()
	go func() { defer wg.Done(); rb = submitAll(t, b, in[half:], 500) }()
	wg.Wait()
	if ra.Accepted+rb.Accepted != n {
		t.Fatalf("first delivery accepted %d + %d, want %d", ra.Accepted, rb.Accepted, n)
	}
	// Resend each half to the other instance.
	wg.Add(2)
	go func() { defer wg.Done(); ra = submitAll(t, a, in[half:], 700) }()
	go func() { defer wg.Done(); rb = submitAll(t, b, in[:half], 700) }()
	wg.Wait()
	if ra.Accepted != 0 || rb.Accepted != 0 || ra.Duplicates+rb.Duplicates != n {
		t.Errorf("resend to the other instance: accepted %d + %d, duplicates %d + %d; want 0 accepted, %d duplicates", ra.Accepted, rb.Accepted, ra.Duplicates, rb.Duplicates, n)
	}
	// And everything to both.
	wg.Add(2)
	go func() { defer wg.Done(); ra = submitAll(t, a, in, 1000) }()
	go func() { defer wg.Done(); rb = submitAll(t, b, in, 1000) }()
	wg.Wait()
	if ra.Accepted != 0 || rb.Accepted != 0 {
		t.Errorf("everything resent to both: accepted %d + %d, want 0", ra.Accepted, rb.Accepted)
	}

	if got := queryUint(t, s, "SELECT count() FROM events"); got != n {
		t.Errorf("events through the Distributed table: %d rows, want %d", got, n)
	}
	if got := queryUint(t, s, "SELECT uniqExact(event_id) FROM events"); got != n {
		t.Errorf("distinct event_ids: %d, want %d", got, n)
	}
	if got := queryUint(t, s, "SELECT sum(events) FROM rollup_events_day"); got != wantCount {
		t.Errorf("rollup_events_day total %d, want %d (sum of count of the %d events)", got, wantCount, n)
	}
	syncReplicas(t, s.Database, "events_local")
	all := checkReplicasAgree(t, s.Database)
	if len(all) != n {
		t.Errorf("shards hold %d distinct events together, want %d", len(all), n)
	}
	for _, e := range in {
		if _, ok := all[e.EventID]; !ok {
			t.Errorf("event %s missing", e.EventID)
			break
		}
	}
}

// TestReplicaKilledMidIngest kills the replica of shard 2 that writes go to
// first while an instance ingests, restarts it later, and checks that every
// acknowledged event is on both replicas of its shard.
func TestReplicaKilledMidIngest(t *testing.T) {
	s := chcluster.NewStore(t)
	c := chcluster.Shared(t)
	victim := -1
	for i, nd := range c.Nodes {
		if nd.Shard == 2 && nd.Replica == 1 {
			victim = i
		}
	}
	p := newPipeline(t, s) // through node 0, shard 1
	in := syntheticInputs(2, 20000, 2000, 40, time.Now().UTC())
	const chunk = 500
	acked := map[string]bool{}
	failed := 0
	for k := 0; k*chunk < len(in); k++ {
		if k == 8 {
			c.Kill(victim)
			t.Logf("killed %s after %d submissions", c.Nodes[victim].Name(), k)
		}
		if k == 28 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			if err := c.Restart(ctx, victim); err != nil {
				cancel()
				t.Fatal(err)
			}
			cancel()
			t.Logf("restarted %s after %d submissions", c.Nodes[victim].Name(), k)
		}
		part := in[k*chunk : min((k+1)*chunk, len(in))]
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res, err := p.Submit(ctx, part)
		cancel()
		if err != nil {
			failed++
			continue // not acknowledged: a client would retry
		}
		if res.Accepted+res.Duplicates != len(part) {
			t.Fatalf("submission %d: %+v", k, res)
		}
		for _, e := range part {
			acked[e.EventID] = true
		}
	}
	t.Logf("%d events acknowledged, %d submissions refused", len(acked), failed)
	if len(acked) < len(in)/2 {
		t.Errorf("only %d of %d events acknowledged: ingest stopped while a replica of each shard was up", len(acked), len(in))
	}
	syncReplicas(t, s.Database, "events_local")
	all := checkReplicasAgree(t, s.Database)
	var missing []string
	for id := range acked {
		if _, ok := all[id]; !ok {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d acknowledged events missing, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
}

// TestDedupJanitorOnCluster: the ingest janitor drops dedup partitions that
// fell out of the window on every node of every shard.
func TestDedupJanitorOnCluster(t *testing.T) {
	t.Parallel() // the tests that kill nodes run first, alone
	s := chcluster.NewStore(t)
	c := chcluster.Shared(t)
	past := time.Now().UTC().Add(-30 * 24 * time.Hour)
	old, err := ingest.NewPipeline(s, ingest.Config{Secret: testSecret, FlushInterval: 50 * time.Millisecond, Now: func() time.Time { return past }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Only people of shard 1 (Distributed sends user_key % 2 == 0 to the
	// first shard): the janitor runs through a node of shard 2 and must
	// still find these partitions.
	var in []ingest.Input
	for _, e := range syntheticInputs(3, 4000, 500, 3, past) {
		if old.UserKey(e.UserID)%2 == 0 {
			in = append(in, e)
		}
	}
	submitAll(t, old, in, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	old.Close(ctx)
	cancel()
	if got := queryUint(t, s, "SELECT count() FROM ingest_event_ids"); got != uint64(len(in)) {
		t.Fatalf("ingest_event_ids holds %d ids before the janitor, want %d", got, len(in))
	}
	syncReplicas(t, s.Database, "ingest_event_ids_local")

	// A pipeline on today's clock starts its janitor at once.
	newPipeline(t, chcluster.OpenStore(t, len(c.Nodes)-1, s.Database))
	deadline := time.Now().Add(time.Minute)
	for {
		left := 0
		for i := range c.Nodes {
			ns := chcluster.OpenStore(t, i, s.Database)
			left += int(queryUint(t, ns, "SELECT count() FROM system.parts WHERE database = ? AND table = 'ingest_event_ids_local' AND active", s.Database))
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d active parts of ingest_event_ids_local remain on the cluster a minute after the janitor started; want 0 (all older than the window)", left)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestIngestSurvivesItsNodeDying: an instance configured with two nodes
// (ADOPTSCOPE_CLICKHOUSE_ADDR=a,b) keeps ingesting when the node it talks
// to dies; submissions in flight at that moment may be refused (503, not
// acknowledged), and every acknowledged event is stored on both replicas.
func TestIngestSurvivesItsNodeDying(t *testing.T) {
	s := chcluster.NewStore(t)
	c := chcluster.Shared(t)
	var first, second int = -1, -1
	for i, nd := range c.Nodes {
		if nd.Shard == 1 && nd.Replica == 1 {
			first = i
		}
		if nd.Shard == 1 && nd.Replica == 2 {
			second = i
		}
	}
	cfg := c.Config(first, s.Database)
	cfg.Addr = c.Nodes[first].Addr() + "," + c.Nodes[second].Addr()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	both, err := store.Open(ctx, cfg, nil)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer both.Close()
	p := newPipeline(t, both)
	in := syntheticInputs(5, 12000, 1000, 20, time.Now().UTC())
	const chunk = 500
	acked := map[string]bool{}
	refused, ackedAfterKill := 0, 0
	for k := 0; k*chunk < len(in); k++ {
		if k == 6 {
			c.Kill(first)
		}
		part := in[k*chunk : min((k+1)*chunk, len(in))]
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := p.Submit(ctx, part)
		cancel()
		if err != nil {
			refused++
			continue
		}
		if k >= 6 {
			ackedAfterKill++
		}
		for _, e := range part {
			acked[e.EventID] = true
		}
	}
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Minute)
	err = c.Restart(ctx, first)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events acknowledged (%d submissions after the kill), %d submissions refused", len(acked), ackedAfterKill, refused)
	if ackedAfterKill < 10 {
		t.Errorf("only %d of 18 submissions acknowledged after the instance's first node died; the second address should take over", ackedAfterKill)
	}
	syncReplicas(t, s.Database, "events_local")
	all := checkReplicasAgree(t, s.Database)
	missing := 0
	for id := range acked {
		if _, ok := all[id]; !ok {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d acknowledged events missing", missing)
	}
}

// TestIdempotencyKeyAcrossInstances: an answer stored for an
// Idempotency-Key by one instance is found by another instance connected
// through another shard's node.
func TestIdempotencyKeyAcrossInstances(t *testing.T) {
	t.Parallel() // the tests that kill nodes run first, alone
	s := chcluster.NewStore(t)
	c := chcluster.Shared(t)
	a := newPipeline(t, s)
	b := newPipeline(t, chcluster.OpenStore(t, otherInstanceNode(c), s.Database))
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		key := fmt.Sprintf("key-%d", i)
		body := []byte(fmt.Sprintf(`{"accepted":%d,"duplicates":0,"rejected":0,"errors":[]}`, i))
		if err := a.StoreIdempotent(ctx, "token-scope", key, ingest.Idempotent{Status: 200, Body: body}); err != nil {
			t.Fatal(err)
		}
		got, err := b.LookupIdempotent(ctx, "token-scope", key)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil || got.Status != 200 || string(got.Body) != string(body) {
			t.Errorf("key %s stored through %s, read through %s: %+v, want status 200 and %s", key, c.Nodes[0].Name(), c.Nodes[otherInstanceNode(c)].Name(), got, body)
		}
		if other, err := b.LookupIdempotent(ctx, "other-scope", key); err != nil || other != nil {
			t.Errorf("key %s found under another scope: %+v, %v", key, other, err)
		}
	}
}

// TestImmediateResendToOtherInstance: each batch is resent to the other
// instance the moment the first one acknowledges it (a client that retries
// elsewhere at once). With the recommended topology (instances on first
// replicas, load_balancing in_order) the second instance's lookup reads the
// replica the first one wrote to, so nothing is stored twice even within
// the replication lag.
func TestImmediateResendToOtherInstance(t *testing.T) {
	t.Parallel() // the tests that kill nodes run first, alone
	s := chcluster.NewStore(t)
	c := chcluster.Shared(t)
	a := newPipeline(t, s)
	b := newPipeline(t, chcluster.OpenStore(t, otherInstanceNode(c), s.Database))
	in := syntheticInputs(6, 6000, 1000, 20, time.Now().UTC())
	const chunk = 200
	dup := 0
	for k := 0; k*chunk < len(in); k++ {
		part := in[k*chunk : min((k+1)*chunk, len(in))]
		first, second := a, b
		if k%2 == 1 {
			first, second = b, a
		}
		if r := submitAll(t, first, part, chunk); r.Accepted != len(part) {
			t.Fatalf("batch %d: first delivery accepted %d of %d", k, r.Accepted, len(part))
		}
		dup += submitAll(t, second, part, chunk).Accepted
	}
	if dup != 0 {
		t.Errorf("%d events stored again when resent at once to the other instance", dup)
	}
	if got := queryUint(t, s, "SELECT count() FROM events"); got != uint64(len(in)) {
		t.Errorf("events: %d rows, want %d", got, len(in))
	}
}
