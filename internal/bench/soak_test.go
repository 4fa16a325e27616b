package bench

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestMemorySlope: the growth measure is a least-squares slope in MiB/min
// over the samples after the warm-up, with the dedup filter's memory taken
// out.
func TestMemorySlope(t *testing.T) {
	f := func(name string, samples []rssSample, from time.Duration, want float64, wantOK bool) {
		t.Helper()
		got, _, ok := memorySlope(samples, from, rssLessFilter)
		if ok != wantOK || ok && math.Abs(got-want) > 1e-9 {
			t.Errorf("%s: slope %v ok %v, want %v ok %v", name, got, ok, want, wantOK)
		}
	}
	line := func(n int, kbPerMin float64, filterPerMin float64) []rssSample {
		var s []rssSample
		for i := 0; i < n; i++ {
			at := time.Duration(i) * 30 * time.Second
			s = append(s, rssSample{at: at, rssKB: int64(50*1024 + kbPerMin*at.Minutes()), filterBytes: filterPerMin * at.Minutes() * 1024})
		}
		return s
	}
	f("flat", line(20, 0, 0), 0, 0, true)
	f("2 MiB/min", line(20, 2048, 0), 0, 2, true)
	// Growth that is all dedup filter is not a leak.
	f("filter growth only", line(20, 2048, 2048), 0, 0, true)
	// A warm-up ramp is left out: 10 samples rising, then flat.
	ramp := line(10, 10*1024, 0)
	for i := 10; i < 20; i++ {
		ramp = append(ramp, rssSample{at: time.Duration(i) * 30 * time.Second, rssKB: ramp[9].rssKB})
	}
	f("ramp then flat", ramp, 5*time.Minute, 0, true)
	f("too few samples", line(4, 1024, 0), 0, 0, false)
}

// TestGrowthChecks: RSS that steps up and stays is a plateau, RSS that
// grows to the end or a heap that grows after the warm-up is growth.
// Samples every 30 s over 30 minutes, warm-up 5.
func TestGrowthChecks(t *testing.T) {
	const mb = 1 << 20
	series := func(rss, heap func(min float64) float64) []rssSample {
		var s []rssSample
		for i := 0; i <= 60; i++ {
			m := float64(i) / 2
			s = append(s, rssSample{at: time.Duration(m * float64(time.Minute)), rssKB: int64(rss(m) * 1024), heapBytes: heap(m) * mb, filterBytes: 10 * mb})
		}
		return s
	}
	flat := func(float64) float64 { return 60 }
	// Steps at 9 and 18 minutes, as a soak of this build showed, then flat.
	steps := func(m float64) float64 {
		switch {
		case m >= 18:
			return 224
		case m >= 9:
			return 150
		}
		return 92
	}
	for _, tc := range []struct {
		name           string
		rss, heap      func(float64) float64
		heapMin, heapM float64 // the expected heap slope range
		tailMin, tailM float64 // the expected RSS last-third slope range
	}{
		{"flat", flat, flat, 0, 0, 0, 0},
		{"RSS steps then plateau", steps, flat, 0, 0, 0, 0},
		// 2 MiB/min throughout: the last third (from 21.67 min) sees it.
		{"RSS grows to the end", func(m float64) float64 { return 60 + 2*m }, flat, 0, 0, 2, 2},
		{"heap grows", func(m float64) float64 { return 100 + 3*m }, func(m float64) float64 { return 40 + 3*m }, 3, 3, 3, 3},
	} {
		heap, tail, n, err := growthChecks(series(tc.rss, tc.heap), 5*time.Minute, 30*time.Minute)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n != 51 { // samples at 5, 5.5, ..., 30 minutes
			t.Errorf("%s: %d samples after the warm-up, want 51", tc.name, n)
		}
		if heap < tc.heapMin-1e-9 || heap > tc.heapM+1e-9 || tail < tc.tailMin-1e-9 || tail > tc.tailM+1e-9 {
			t.Errorf("%s: heap slope %.3f (want %.1f..%.1f), RSS last-third slope %.3f (want %.1f..%.1f)", tc.name, heap, tc.heapMin, tc.heapM, tail, tc.tailMin, tc.tailM)
		}
	}
	if _, _, _, err := growthChecks(series(flat, flat)[:8], 5*time.Minute, 30*time.Minute); err == nil {
		t.Error("8 samples, none after the warm-up: want an error")
	}
}

func TestSoakOptionsValidated(t *testing.T) {
	ok := SoakOptions{Minutes: 1, Clients: 1, RequestEvents: 1, MaxRSSGrowth: 1}
	if err := ok.defaults(); err != nil || ok.WarmUp != 12*time.Second || ok.MeasureFor != 20*time.Second {
		t.Fatalf("defaults: %v, warm-up %s, measure %s", err, ok.WarmUp, ok.MeasureFor)
	}
	long := SoakOptions{Minutes: 30, Clients: 1, RequestEvents: 1, MaxRSSGrowth: 1}
	if err := long.defaults(); err != nil || long.WarmUp != 5*time.Minute {
		t.Fatalf("30 minutes: %v, warm-up %s, want 5m", err, long.WarmUp)
	}
	for _, tc := range []struct {
		o    SoakOptions
		want string
	}{
		{SoakOptions{Clients: 1, RequestEvents: 1, MaxRSSGrowth: 1}, "--minutes"},
		{SoakOptions{Minutes: 1, RequestEvents: 1, MaxRSSGrowth: 1}, "--clients"},
		{SoakOptions{Minutes: 1, Clients: 1, RequestEvents: 1, MaxRSSGrowth: 1, WarmUp: time.Minute}, "--warmup"},
	} {
		if err := tc.o.defaults(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.o, err, tc.want)
		}
	}
}
