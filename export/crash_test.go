package export

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

const crashRows = 200000

func crashSource(block chan struct{}, inRow chan struct{}) *staticSource {
	src := &staticSource{cols: []string{"period", "assistant", "value"}, block: block, blockAt: crashRows / 2, inRow: inRow}
	for i := 0; i < crashRows; i++ {
		src.rows = append(src.rows, []string{"2026-01-14", "chatgpt", fmt.Sprint(i)})
	}
	return src
}

// TestKilledMidRun starts a run in a child process (this test binary run
// again), kills it with SIGKILL in the middle of writing, and checks that
// no partial file is left, that the run is recorded failed, and that a
// scheduler re-runs it to a complete file.
func TestKilledMidRun(t *testing.T) {
	if os.Getenv("ADOPTSCOPE_EXPORT_CHILD_DB") != "" {
		crashChild()
		return
	}
	s := chtest.NewStore(t)
	ctx := context.Background()
	root := t.TempDir()
	st := NewStore(s)
	e := Export{Name: "crashy", Schedule: "0 6 1 1 *", Range: "last_7_days"}
	if err := st.Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	scheduled := time.Now().UTC().Add(-time.Minute).Truncate(time.Minute)

	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledMidRun$")
	cmd.Env = append(os.Environ(),
		"ADOPTSCOPE_EXPORT_CHILD_DB="+s.Database, "ADOPTSCOPE_EXPORT_CHILD_ADDR="+s.Addr,
		"ADOPTSCOPE_EXPORT_CHILD_ROOT="+root, "ADOPTSCOPE_EXPORT_CHILD_ID="+e.ID,
		fmt.Sprintf("ADOPTSCOPE_EXPORT_CHILD_AT=%d", scheduled.Unix()))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	ready := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "CHILD-MID-RUN") {
			ready = true
			break
		}
	}
	if !ready {
		cmd.Process.Kill()
		t.Fatal("child never reached the middle of the run")
	}
	dir := filepath.Join(root, "crashy")
	// While it writes, nothing is visible under any name.
	if got := listDir(t, dir); len(got) != 0 {
		t.Errorf("files visible during the run: %v", got)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if got := listDir(t, dir); len(got) != 0 {
		t.Fatalf("files left after the kill: %v", got)
	}
	runs, err := st.Runs(ctx, e.ID, 10)
	if err != nil || len(runs) != 1 || runs[0].Status != StatusRunning {
		t.Fatalf("after the kill: %+v %v", runs, err)
	}

	// A scheduler (here: in this process, as after a restart) notices the
	// dead run once its heartbeat is stale, records it failed, retries it.
	r := &Runner{Store: st, Source: crashSource(nil, nil), Root: root, Claimer: ClaimerID(), Log: testLog()}
	o := fastOptions()
	o.Reload = time.Nanosecond
	sched := NewScheduler(r, o)
	deadline := time.Now().Add(60 * time.Second)
	for {
		sched.Tick(ctx, time.Now())
		sched.Wait()
		runs, err = st.Runs(ctx, e.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) >= 2 && runs[0].Status != StatusRunning && runs[1].Status != StatusRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retry after the crash: %+v", runs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	byAttempt := map[int]Run{}
	for _, r := range runs {
		byAttempt[r.Attempt] = r
	}
	if a := byAttempt[1]; a.Status != StatusFailed || !strings.Contains(a.Error, "interrupted") {
		t.Errorf("killed attempt: %+v", a)
	}
	a2 := byAttempt[2]
	if a2.Status != StatusSuccess || a2.Trigger != "retry" || a2.Rows != crashRows {
		t.Fatalf("retry: %+v", a2)
	}
	recs := readCSV(t, filepath.Join(dir, a2.File))
	if len(recs) != crashRows+1 || recs[crashRows][2] != fmt.Sprint(crashRows-1) {
		t.Errorf("retried file has %d records", len(recs))
	}
	if got := listDir(t, dir); strings.Join(got, " ") != strings.Join(withManifests(a2.File), " ") {
		t.Errorf("files after the retry: %v", got)
	}
}

// crashChild runs the export and blocks half-way through the rows,
// announcing it, until the parent kills it.
func crashChild() {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Config{Addr: os.Getenv("ADOPTSCOPE_EXPORT_CHILD_ADDR"), Database: os.Getenv("ADOPTSCOPE_EXPORT_CHILD_DB"), User: "default"}, testLog())
	if err != nil {
		fmt.Println("child: open store:", err)
		os.Exit(2)
	}
	st := NewStore(s)
	e, err := st.Get(ctx, os.Getenv("ADOPTSCOPE_EXPORT_CHILD_ID"))
	if err != nil {
		fmt.Println("child:", err)
		os.Exit(2)
	}
	var at int64
	fmt.Sscan(os.Getenv("ADOPTSCOPE_EXPORT_CHILD_AT"), &at)
	mid := make(chan struct{})
	go func() {
		<-mid
		fmt.Println("CHILD-MID-RUN")
	}()
	r := &Runner{Store: st, Source: crashSource(make(chan struct{}), mid), Root: os.Getenv("ADOPTSCOPE_EXPORT_CHILD_ROOT"),
		Claimer: ClaimerID(), Heartbeat: 500 * time.Millisecond, Log: testLog()}
	_, _ = r.Run(ctx, e, time.Unix(at, 0), 1, "schedule")
	os.Exit(3)
}
