//go:build cluster

package chcluster_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/platform/chcluster"
)

// TestTwoSchedulersOnClusterOneFilePerRun: two export schedulers, as two
// `up` instances on two machines would run them (each connected through a
// different node, each with its own export folder), tick at the same
// instants over four days of a daily export: every scheduled run happens
// once, and exactly one file exists per run across both folders.
func TestTwoSchedulersOnClusterOneFilePerRun(t *testing.T) {
	t.Parallel() // the tests that kill nodes run first, alone
	s := chcluster.NewStore(t)
	c := chcluster.Shared(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var scheds []*export.Scheduler
	var roots []string
	for _, node := range []int{0, otherInstanceNode(c)} {
		conn := chcluster.OpenStore(t, node, s.Database)
		root := t.TempDir()
		roots = append(roots, root)
		r := &export.Runner{Store: export.NewStore(conn), Source: export.QuerySource{S: conn}, Root: root, Claimer: export.ClaimerID(), Log: log}
		scheds = append(scheds, export.NewScheduler(r, export.SchedulerOptions{CatchUp: true, Settle: 500 * time.Millisecond, RetryBackoff: time.Millisecond, StaleAfter: 5 * time.Second}))
	}
	created := time.Date(2026, 2, 1, 23, 30, 0, 0, time.UTC)
	e := export.Export{Name: "daily", Schedule: "0 6 * * *", Range: "last_7_days", Keep: 100, CreatedAt: created,
		Query: "metric=active_users&interval=day&by=assistant"}
	if err := export.NewStore(s).Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	for now := created.Add(30 * time.Minute); now.Before(time.Date(2026, 2, 6, 0, 0, 0, 0, time.UTC)); now = now.Add(20 * time.Minute) {
		var wg sync.WaitGroup
		for _, sc := range scheds {
			wg.Add(1)
			go func() { defer wg.Done(); sc.Tick(ctx, now) }()
		}
		wg.Wait()
		for _, sc := range scheds {
			sc.Wait()
		}
	}
	runs, err := export.NewStore(s).Runs(ctx, e.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var at, files []string
	for _, r := range runs {
		at = append(at, r.ScheduledAt.UTC().Format("01-02T15:04"))
		files = append(files, r.File)
		if r.Status != export.StatusSuccess {
			t.Errorf("run %+v", r)
		}
	}
	sort.Strings(at)
	sort.Strings(files)
	if got := strings.Join(at, " "); got != "02-02T06:00 02-03T06:00 02-04T06:00 02-05T06:00" {
		t.Errorf("runs at %s, want one a day at 06:00", got)
	}
	var onDisk []string
	for _, root := range roots {
		ents, _ := os.ReadDir(filepath.Join(root, e.Name))
		for _, en := range ents {
			// Each file has its manifest beside it (<file>.json).
			if !strings.HasSuffix(en.Name(), ".csv.json") {
				onDisk = append(onDisk, en.Name())
			}
		}
	}
	sort.Strings(onDisk)
	if strings.Join(onDisk, " ") != strings.Join(files, " ") {
		t.Errorf("files in both instances' folders %v, files of the runs %v: want exactly one file per run", onDisk, files)
	}
}
