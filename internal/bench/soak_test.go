package bench

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestRSSSlope: the growth criterion is a least-squares slope in MiB/min
// over the samples after the warm-up, with the dedup filter's memory taken
// out.
func TestRSSSlope(t *testing.T) {
	f := func(name string, samples []rssSample, from time.Duration, want float64, wantOK bool) {
		t.Helper()
		got, _, ok := rssSlope(samples, from)
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
