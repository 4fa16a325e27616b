//go:build cluster

package chcluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chcluster"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// BenchmarkClusterInsert compares the two ways an ingest instance can write
// to the cluster: one insert into the Distributed table (synchronous, the
// product's choice) against routing the batch itself (split by user_key the
// way Distributed does, one insert per shard into its local table, in
// parallel). Rows per second are reported per batch of 100,000 events.
//
//	go test -tags cluster -run '^$' -bench ClusterInsert -benchtime 5x ./internal/platform/chcluster/
func BenchmarkClusterInsert(b *testing.B) {
	s := chcluster.NewStore(b)
	c := chcluster.Shared(b)
	const n = 100_000
	now := time.Now().UTC()
	in := syntheticInputs(9, n, 20000, 30, now)
	p, err := ingest.NewPipeline(s, ingest.Config{Secret: testSecret}, nil)
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]uint64, n)
	for i := range in {
		keys[i] = p.UserKey(in[i].UserID)
	}
	p.Close(context.Background())
	// First replica of each shard, as in_order load balancing picks it.
	shardNode := map[int]*store.Store{}
	for i, nd := range c.Nodes {
		if nd.Replica == 1 {
			shardNode[nd.Shard-1] = chcluster.OpenStore(b, i, s.Database)
		}
	}
	insert := func(st *store.Store, table string, idx []int, round int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		batch, err := st.Conn.PrepareBatch(ctx, "INSERT INTO "+table+" ("+ingest.InsertColumns+")")
		if err != nil {
			return err
		}
		defer batch.Close()
		ids := make([]string, len(idx))
		ts := make([]time.Time, len(idx))
		strs := make([]string, len(idx))
		ks := make([]uint64, len(idx))
		cnt := make([]uint32, len(idx))
		lk := make([]uint8, len(idx))
		for j, i := range idx {
			ids[j] = fmt.Sprintf("%s-r%d", in[i].EventID, round)
			ts[j] = in[i].Time
			strs[j] = in[i].Assistant
			ks[j] = keys[i]
			cnt[j] = in[i].Count
		}
		chans := make([]string, len(idx))
		for j, i := range idx {
			chans[j] = in[i].Channel
		}
		empty := make([]string, len(idx))
		for k, col := range []any{ids, ts, ts, strs, chans, empty, empty, ks, empty, cnt, lk, empty} {
			if err := batch.Column(k).Append(col); err != nil {
				return err
			}
		}
		return batch.Send()
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	b.Run("distributed", func(b *testing.B) {
		for r := 0; r < b.N; r++ {
			if err := insert(s, "events", all, r); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("routed", func(b *testing.B) {
		for r := 0; r < b.N; r++ {
			parts := make([][]int, len(shardNode))
			for _, i := range all {
				sh := int(keys[i] % uint64(len(shardNode)))
				parts[sh] = append(parts[sh], i)
			}
			errs := make(chan error, len(parts))
			for sh, idx := range parts {
				go func() { errs <- insert(shardNode[sh], "events_local", idx, 1_000_000+r) }()
			}
			for range parts {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
