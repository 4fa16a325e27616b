//go:build cluster

package chcluster_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chcluster"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/rollup"
)

// equivalenceRequests is every metric over every interval, with and
// without grouping, filters, compare, share_of and exact; migration around
// several dates and sources; retention by week and month with slices.
func equivalenceRequests() []struct{ endpoint, params string } {
	var out []struct{ endpoint, params string }
	add := func(e, p string) { out = append(out, struct{ endpoint, params string }{e, p}) }
	slices := []string{
		"",
		"&by=assistant",
		"&by=assistant,channel",
		"&by=channel&assistant=chatgpt,meta_ai",
		"&by=country&channel=whatsapp&compare=previous",
		"&by=modality,event_type&country=EG",
	}
	for _, m := range query.MetricNames() {
		for _, iv := range []string{"day", "week", "month"} {
			for _, sl := range slices {
				for _, exact := range []string{"", "&exact=true"} {
					// partial=include: the months of this range are cut by
					// from/to, and share and stickiness leave incomplete
					// periods out by default; the comparison needs rows.
					add(query.EndpointSeries, "metric="+m+"&interval="+iv+"&from=2026-01-05&to=2026-02-27"+sl+exact+"&partial=include")
				}
			}
		}
	}
	add(query.EndpointSeries, "metric=share&interval=week&from=2026-01-05&to=2026-02-22&by=assistant,channel&share_of=assistant")
	add(query.EndpointSeries, "metric=share&interval=day&from=2026-02-01&to=2026-02-14&by=assistant,channel&share_of=channel&compare=previous")
	add(query.EndpointSeries, "metric=active_users&interval=day&from=2026-01-03&to=2026-02-17&by=assistant") // odd range
	for _, src := range []string{"assistant=chatgpt&channel=whatsapp", "assistant=meta_ai&channel=web", "assistant=copilot&channel=ios"} {
		for _, d := range []string{"2026-01-20", "2026-02-10"} {
			add(query.EndpointMigration, src+"&date="+d+"&before_days=14&after_days=14")
			add(query.EndpointMigration, src+"&date="+d)
		}
	}
	for _, r := range []string{
		"interval=week&from=2026-01-05&to=2026-02-22",
		"interval=week&from=2026-01-05&to=2026-02-22&assistant=chatgpt&channel=whatsapp",
		"interval=month&from=2026-01-01&to=2026-02-28",
		"interval=week&from=2026-01-05&to=2026-02-22&country=EG,BR",
	} {
		add(query.EndpointRetention, r)
	}
	return out
}

// TestSingleServerAndClusterAgree loads the same events into a single
// server and into the cluster (through two ingest instances) and checks
// that every metric, migration and retention answer is the same CSV, byte
// for byte. The data set stays below the size where uniq states start to
// sample (65,536 distinct people per state), so even the approximate
// metrics must agree exactly: per-person data lives on one shard, and the
// shards' states merge into the single server's.
func TestSingleServerAndClusterAgree(t *testing.T) {
	t.Parallel() // the tests that kill nodes run first, alone
	single := chtest.NewStore(t)
	cl := chcluster.NewStore(t)
	c := chcluster.Shared(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	in := syntheticInputs(4, 30000, 1500, 60, now)
	for i := range in {
		if i%7 == 0 {
			in[i].EventType = "account_linked"
		}
	}
	load := func(s *store.Store, part []ingest.Input) {
		p, err := ingest.NewPipeline(s, ingest.Config{Secret: testSecret, BatchRows: 5000, FlushInterval: 50 * time.Millisecond, Now: clock}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			p.Close(ctx)
		}()
		if res := submitAll(t, p, part, 5000); res.Accepted != len(part) {
			t.Fatalf("loaded %d of %d events", res.Accepted, len(part))
		}
	}
	load(single, in)
	load(cl, in[:len(in)/2])
	load(chcluster.OpenStore(t, otherInstanceNode(c), cl.Database), in[len(in)/2:])
	// The single server builds its rollups behind ingest; the cluster's
	// views build them inside the insert (BuildRollups does nothing there).
	chtest.BuildRollups(t, single)
	chtest.BuildRollups(t, cl)
	for _, q := range []string{"SELECT count() FROM events", "SELECT sum(count) FROM events", "SELECT uniqExact(user_key) FROM events"} {
		if a, b := queryUint(t, single, q), queryUint(t, cl, q); a != b {
			t.Fatalf("%s: single server %d, cluster %d", q, a, b)
		}
	}

	compare(t, single, cl, "")
	// The single server's daily finals (exact daily users stored per day,
	// not used on a cluster) must not change any answer either.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	n, err := rollup.Finalize(ctx, single, 400)
	cancel()
	if err != nil {
		t.Fatalf("finalize on the single server: %v", err)
	}
	if n == 0 {
		t.Errorf("finalize on the single server stored no days; the second comparison proves nothing new")
	}
	compare(t, single, cl, " (single server with daily finals)")
}

func compare(t *testing.T, single, cl *store.Store, label string) {
	t.Helper()
	reqs := equivalenceRequests()
	failed := 0
	for _, r := range reqs {
		params, err := url.ParseQuery(r.params)
		if err != nil {
			t.Fatal(err)
		}
		var a, b bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		errA := query.ExportCSV(ctx, single, r.endpoint, params, &a)
		errB := query.ExportCSV(ctx, cl, r.endpoint, params, &b)
		cancel()
		if errA != nil || errB != nil {
			t.Errorf("%s?%s: single server error %v, cluster error %v", r.endpoint, r.params, errA, errB)
			failed++
			continue
		}
		if strings.Count(a.String(), "\n") < 2 {
			t.Errorf("%s?%s: the single server answers no rows; the comparison would prove nothing:\n%s", r.endpoint, r.params, a.String())
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			failed++
			if failed <= 5 {
				t.Errorf("%s?%s: answers differ%s\n%s", r.endpoint, r.params, label, firstDiff(a.String(), b.String()))
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d requests answer differently on the cluster%s", failed, len(reqs), label)
	}
	t.Logf("%d requests compared%s", len(reqs), label)
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n  single:  %s\n  cluster: %s", i+1, x, y)
		}
	}
	return "(same lines)"
}

// TestAnnotationsAcrossInstances: annotations written through one node are
// listed, updated and deleted through another, as two web instances would.
func TestAnnotationsAcrossInstances(t *testing.T) {
	t.Parallel() // the tests that kill nodes run first, alone
	s := chcluster.NewStore(t)
	c := chcluster.Shared(t)
	other := chcluster.OpenStore(t, otherInstanceNode(c), s.Database)
	ctx := context.Background()
	var ids []string
	for i := 0; i < 6; i++ {
		a, err := annotation.New(s, catalog.Registry{}).Save(ctx, annotation.Annotation{Start: fmt.Sprintf("2026-01-%02d", 10+i), Title: fmt.Sprintf("note %d", i), Kind: "launch"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	list, err := annotation.New(other, catalog.Registry{}).List(ctx, annotation.Filter{})
	if err != nil || len(list) != len(ids) {
		t.Fatalf("listed through %s: %d annotations, %v; want %d", c.Nodes[otherInstanceNode(c)].Name(), len(list), err, len(ids))
	}
	a, err := annotation.New(other, catalog.Registry{}).Get(ctx, ids[2])
	if err != nil {
		t.Fatal(err)
	}
	a.Title = "edited elsewhere"
	if _, err := annotation.New(other, catalog.Registry{}).Save(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := annotation.New(other, catalog.Registry{}).Delete(ctx, ids[4]); err != nil {
		t.Fatal(err)
	}
	list, err = annotation.New(s, catalog.Registry{}).List(ctx, annotation.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	titles := map[string]string{}
	for _, a := range list {
		titles[a.ID] = a.Title
	}
	if len(list) != len(ids)-1 || titles[ids[2]] != "edited elsewhere" {
		t.Errorf("after an edit and a delete through another node: %v", titles)
	}
	if _, ok := titles[ids[4]]; ok {
		t.Errorf("deleted annotation %s still listed", ids[4])
		for i, st := range []*store.Store{s, other} {
			rows, err := st.Conn.Query(ctx, "SELECT hostName(), title, deleted, version FROM annotations WHERE id = ? ORDER BY version", ids[4])
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var h, ti string
				var d uint8
				var v uint64
				rows.Scan(&h, &ti, &d, &v)
				t.Logf("via %d: %s %s deleted=%d version=%d", i, h, ti, d, v)
			}
			rows.Close()
		}
	}
}
