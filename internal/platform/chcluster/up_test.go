//go:build cluster

package chcluster_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/platform/chcluster"
)

// TestTwoUpInstancesOnCluster runs the real binary: two `adoptscope up`
// processes against the cluster (each through two nodes of its own, each
// with its own data folder, as on two machines) and an export scheduled
// every minute. After two scheduled runs, each run is recorded once and
// exactly one file exists per run across both instances' folders.
func TestTwoUpInstancesOnCluster(t *testing.T) {
	t.Parallel() // the tests that kill nodes run first, alone
	if testing.Short() {
		t.Skip("takes two to three minutes of wall time")
	}
	s := chcluster.NewStore(t)
	c := chcluster.Shared(t)
	bin := filepath.Join(t.TempDir(), "adoptscope")
	build := exec.Command("go", "build", "-o", bin, "github.com/adoptscope/adoptscope/cmd/adoptscope")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the binary: %v\n%s", err, out)
	}
	env := func(dataDir, addr string) []string {
		return append(os.Environ(),
			"ADOPTSCOPE_DATA_DIR="+dataDir,
			"ADOPTSCOPE_CLICKHOUSE_ADDR="+addr,
			"ADOPTSCOPE_CLICKHOUSE_CLUSTER="+c.Name,
			"ADOPTSCOPE_CLICKHOUSE_DATABASE="+s.Database,
			"ADOPTSCOPE_DEMO=off",
			"ADOPTSCOPE_USER_KEY_SECRET="+string(testSecret), // the same on every instance (README)
			"ADOPTSCOPE_ADDR=127.0.0.1:0",
			"ADOPTSCOPE_LOG_LEVEL=warn",
		)
	}
	dirs := []string{t.TempDir(), t.TempDir()}
	addrs := []string{
		c.Nodes[0].Addr() + "," + c.Nodes[1].Addr(),
		c.Nodes[otherInstanceNode(c)].Addr() + "," + c.Nodes[otherInstanceNode(c)+1].Addr(),
	}
	add := exec.Command(bin, "export", "add", "--name", "minutely", "--schedule", "* * * * *", "--range", "last_7_days",
		"--query", "metric=events&interval=day&by=assistant")
	add.Env = env(dirs[0], addrs[0])
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("export add: %v\n%s", err, out)
	}
	var procs []*exec.Cmd
	var logs []*bytes.Buffer
	for i := range dirs {
		cmd := exec.Command(bin, "up")
		cmd.Env = env(dirs[i], addrs[i])
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
		logs = append(logs, &buf)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		for _, p := range procs {
			_ = p.Process.Signal(syscall.SIGINT)
		}
		for i, p := range procs {
			done := make(chan error, 1)
			go func() { done <- p.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("instance %d exited with %v; output:\n%s", i, err, logs[i].String())
				}
			case <-time.After(60 * time.Second):
				_ = p.Process.Kill()
				t.Errorf("instance %d did not stop within 60 s", i)
			}
		}
	}
	defer stop()

	st := export.NewStore(s)
	ctx := context.Background()
	var runs []export.Run
	deadline := time.Now().Add(200 * time.Second)
	for {
		time.Sleep(2 * time.Second)
		for i, p := range procs {
			if p.ProcessState != nil {
				t.Fatalf("instance %d exited early:\n%s", i, logs[i].String())
			}
		}
		list, err := st.List(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("exports: %v, %v", list, err)
		}
		runs, err = st.Runs(ctx, list[0].ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, r := range runs {
			if r.Status == export.StatusSuccess {
				done++
			}
		}
		if done >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d successful runs after 200 s, want 2: %+v\ninstance 0:\n%s\ninstance 1:\n%s", done, runs, logs[0], logs[1])
		}
	}
	stop()
	// Read the history again after both stopped: a run that started in
	// the meantime has finished (or failed) by now.
	list, _ := st.List(ctx)
	runs, err := st.Runs(ctx, list[0].ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	// A run's claimer is host/pid/random: map it to the instance.
	instanceOf := func(claimer string) int {
		for i, p := range procs {
			if strings.Contains(claimer, "/"+strconv.Itoa(p.Process.Pid)+"/") {
				return i
			}
		}
		return -1
	}
	seen := map[string]int{}
	want := []map[string]bool{{}, {}}
	for _, r := range runs {
		key := r.ScheduledAt.UTC().Format(time.RFC3339)
		seen[key]++
		if r.Status != export.StatusSuccess {
			continue
		}
		i := instanceOf(r.Claimer)
		if i < 0 {
			t.Errorf("run %s claimed by %q, neither instance", key, r.Claimer)
			continue
		}
		want[i][r.File] = true
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("scheduled run %s recorded %d times", k, n)
		}
	}
	// Runs of one day share a file name (same period), so each folder must
	// hold exactly the files of the runs its instance won: a run executed
	// twice would leave a file in the other instance's folder too.
	for i, d := range dirs {
		var onDisk, expected []string
		ents, _ := os.ReadDir(filepath.Join(d, "exports", "minutely"))
		for _, e := range ents {
			// Hidden temporary files and each file's manifest aside.
			if !strings.HasPrefix(e.Name(), ".") && !strings.HasSuffix(e.Name(), ".csv.json") {
				onDisk = append(onDisk, e.Name())
			}
		}
		for f := range want[i] {
			expected = append(expected, f)
		}
		sort.Strings(onDisk)
		sort.Strings(expected)
		if strings.Join(onDisk, " ") != strings.Join(expected, " ") {
			t.Errorf("instance %d folder holds %v, the runs it won wrote %v", i, onDisk, expected)
		}
	}
	t.Logf("scheduled runs %v; files by instance %v", seen, want)
}
