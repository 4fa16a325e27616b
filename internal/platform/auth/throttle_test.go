package auth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestThrottleOnAFixedClock walks the throttle through its stages with a
// clock the test moves: 5 free failures, then delays of 1, 2, 4, 8, 16 s,
// then 429 until the oldest failures leave the 15-minute window; a success
// clears the account but not the address.
func TestThrottleOnAFixedClock(t *testing.T) {
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	th := NewThrottle()
	th.Now = func() time.Time { return now }
	const acc, addr = "ana", "192.0.2.7"

	wantDelays := []time.Duration{0, 0, 0, 0, 0, 1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}
	for i, want := range wantDelays {
		d := th.Check(acc, addr)
		if d.Refused || d.Delay != want || d.Failures != i {
			t.Fatalf("attempt %d: %+v, want delay %s after %d failures", i+1, d, want, i)
		}
		th.Failed(acc, addr)
		now = now.Add(time.Minute) // failures at 12:00, 12:01, …, 12:09
	}
	// 10 failures in the window: refused, until the failure of 12:00 has
	// left it (15 min after it: 12:15, and it is 12:10 now).
	d := th.Check(acc, addr)
	if !d.Refused || d.RetryAfter != 5*time.Minute || d.Scope != "account" {
		t.Fatalf("11th attempt: %+v, want refused with Retry-After 5m", d)
	}
	now = now.Add(5*time.Minute - time.Second)
	if d := th.Check(acc, addr); !d.Refused || d.RetryAfter != time.Second {
		t.Fatalf("a second before: %+v, want refused, 1s to wait", d)
	}
	now = now.Add(time.Second)
	if d := th.Check(acc, addr); d.Refused || d.Delay != 16*time.Second || d.Failures != 9 {
		t.Fatalf("at 12:15: %+v, want 9 failures in the window and a 16s delay", d)
	}

	// Per address: other names from the same address are slowed too.
	if d := th.Check("vic", addr); d.Scope != "address" || d.Delay != 16*time.Second {
		t.Fatalf("another account from the guessing address: %+v, want the address's 16s delay", d)
	}
	// Another address, other account: free.
	if d := th.Check("vic", "198.51.100.1"); d.Delay != 0 || d.Refused {
		t.Fatalf("fresh account and address: %+v, want no delay", d)
	}
	// A success clears the account, not the address.
	th.Succeeded(acc)
	if d := th.Check(acc, "198.51.100.1"); d.Failures != 0 || d.Delay != 0 {
		t.Fatalf("account after a success: %+v, want cleared", d)
	}
	if d := th.Check(acc, addr); d.Scope != "address" || d.Failures != 9 {
		t.Fatalf("guessing address after the account's success: %+v, want still 9 failures", d)
	}
	// The window forgets: 15 minutes after the last failure, all clear.
	now = now.Add(15 * time.Minute)
	if d := th.Check(acc, addr); d.Failures != 0 || d.Delay != 0 {
		t.Fatalf("after the window: %+v, want clear", d)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(th.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			got[key] = m.GetCounter().GetValue()
		}
	}
	for k, want := range map[string]float64{"adoptscope_login_failures_total": 10, "adoptscope_login_throttled_total{scope=account}": 2,
		"adoptscope_login_successes_total": 1} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], want, got)
		}
	}
}

func TestThrottleBoundsItsMemory(t *testing.T) {
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	th := NewThrottle()
	th.Now = func() time.Time { now = now.Add(time.Millisecond); return now }
	for i := 0; i < maxKeys+100; i++ {
		th.Failed("user-"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+time.Duration(i).String(), "203.0.113.1")
	}
	if n := len(th.accounts); n > maxKeys {
		t.Errorf("%d accounts kept, want at most %d", n, maxKeys)
	}
	if n := len(th.addrs["203.0.113.1"]); n > maxKept {
		t.Errorf("%d failures kept for one address, want at most %d", n, maxKept)
	}
}

func TestClientAddr(t *testing.T) {
	var proxies Proxies
	for _, s := range []string{"10.0.0.0/8", "192.0.2.1/32"} {
		_, n, _ := net.ParseCIDR(s)
		proxies = append(proxies, n)
	}
	f := func(p Proxies, remote, xff, want string) {
		t.Helper()
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		if got := p.ClientAddr(r); got != want {
			t.Errorf("ClientAddr(remote %s, XFF %q) = %s, want %s", remote, xff, got, want)
		}
	}
	// No trusted proxy: the header is anyone's to send, so ignored.
	f(nil, "203.0.113.9:5555", "198.51.100.1", "203.0.113.9")
	// From an untrusted peer: ignored too.
	f(proxies, "203.0.113.9:5555", "198.51.100.1", "203.0.113.9")
	// From a trusted proxy: the nearest untrusted hop; a forged entry on
	// the left is never reached.
	f(proxies, "10.1.1.1:5555", "198.51.100.1", "198.51.100.1")
	f(proxies, "10.1.1.1:5555", "6.6.6.6, 198.51.100.1, 10.2.2.2", "198.51.100.1")
	f(proxies, "[::1]:5555", "198.51.100.1", "::1")
	// Only proxies in the chain: the farthest one.
	f(proxies, "10.1.1.1:5555", "192.0.2.1", "192.0.2.1")
	// Garbage: the last address known.
	f(proxies, "10.1.1.1:5555", "unknown", "10.1.1.1")
	f(proxies, "10.1.1.1:5555", "", "10.1.1.1")
}

// TestThrottleBeginCountsFirstAndTakesTurns: an attempt is counted as a
// failure when it begins, before its password is checked; a second attempt
// on the same account (or from the same address) waits until the first
// ends; a success un-counts itself from the address and clears the
// account; a caller that gives up while waiting leaves no trace.
func TestThrottleBeginCountsFirstAndTakesTurns(t *testing.T) {
	th := NewThrottle()
	ctx := context.Background()
	first, err := th.Begin(ctx, "ana", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if d := th.Check("ana", "192.0.2.9"); d.Failures != 1 {
		t.Fatalf("while the first attempt is checked: %d failures counted, want 1", d.Failures)
	}
	for _, who := range [][2]string{{"ana", "192.0.2.2"}, {"bob", "192.0.2.1"}} {
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		if _, err := th.Begin(wctx, who[0], who[1]); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s from %s while the first attempt holds its turn: %v, want it to wait", who[0], who[1], err)
		}
		cancel()
	}
	done := make(chan *Attempt)
	go func() {
		at, _ := th.Begin(ctx, "ana", "192.0.2.2")
		done <- at
	}()
	select {
	case <-done:
		t.Fatal("the second attempt went before the first ended")
	case <-time.After(50 * time.Millisecond):
	}
	first.Succeeded()
	first.End()
	second := <-done
	if second.Failures != 0 {
		t.Errorf("after a success: %d failures before the second attempt, want 0", second.Failures)
	}
	second.End()
	if d := th.Check("x", "192.0.2.1"); d.Failures != 0 {
		t.Errorf("the address of the successful attempt: %d failures, want 0", d.Failures)
	}
	if d := th.Check("ana", "192.0.2.2"); d.Failures != 1 {
		t.Errorf("the account after the second (failed) attempt: %d failures, want 1", d.Failures)
	}
	th.turnsMu.Lock()
	left := len(th.turns)
	th.turnsMu.Unlock()
	if left != 0 {
		t.Errorf("%d turns kept after every attempt ended", left)
	}
}
