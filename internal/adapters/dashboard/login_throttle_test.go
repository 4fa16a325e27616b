package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// TestLoginThrottle drives the sign-in form on a fixed clock: five wrong
// passwords cost nothing, the next attempts wait 1, 2, 4, 8, 16 s (the
// waits are recorded, not slept), the one after is answered 429 with
// Retry-After without checking the password (even the right one), and once
// the window has moved on a right password signs in and clears the
// account's count.
func TestLoginThrottle(t *testing.T) {
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var waits []time.Duration
	app := newTestAppWith(t, testUsers(t), false, func(o *Deps) {
		o.Auth.Throttle.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		o.Auth.Wait = func(_ context.Context, d time.Duration) error {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
			return nil
		}
	})
	base := app.srv.URL
	c := newClient(t)
	_, doc, _ := get(t, c, base+"/login")
	csrf := doc.Find(`input[name=_csrf]`).AttrOr("value", "")
	post := func(pw string) *http.Response {
		t.Helper()
		resp, err := c.PostForm(base+"/login", url.Values{"_csrf": {csrf}, "username": {"ana"}, "password": {pw}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mu.Lock()
		now = now.Add(time.Second)
		mu.Unlock()
		return resp
	}
	for i := 0; i < 10; i++ {
		if resp := post("wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}
	mu.Lock()
	got := append([]time.Duration(nil), waits...)
	mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waits %v, want %v", got, want)
		}
	}
	resp := post("admin-pass")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("11th attempt, right password: %d Retry-After=%q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// 15 minutes on, the failures have left the window.
	mu.Lock()
	now = now.Add(15 * time.Minute)
	mu.Unlock()
	if resp := post("admin-pass"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the window, right password: %d, want 303", resp.StatusCode)
	}
	if d := app.h.opts.Auth.Throttle.Check("ana", "198.51.100.1"); d.Failures != 0 {
		t.Fatalf("account after a sign-in: %+v, want cleared", d)
	}
}

// TestLoginThrottleCountsConcurrentAttempts: 24 wrong passwords for one
// account sent at once, then the right one 0.3 s later, while the wrong
// ones may still be checked: each attempt is counted before its password
// is checked, and attempts on one account take turns, so the right one is
// answered 429 and no more than the throttle's 10 passwords are checked.
func TestLoginThrottleCountsConcurrentAttempts(t *testing.T) {
	app := newTestAppWith(t, testUsers(t), false, func(o *Deps) {
		o.Auth.Wait = func(context.Context, time.Duration) error { return nil }
	})
	base := app.srv.URL
	c := newClient(t)
	_, doc, _ := get(t, c, base+"/login")
	csrf := doc.Find(`input[name=_csrf]`).AttrOr("value", "")
	post := func(pw string) int {
		resp, err := c.PostForm(base+"/login", url.Values{"_csrf": {csrf}, "username": {"ana"}, "password": {pw}})
		if err != nil {
			t.Error(err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var wg sync.WaitGroup
	codes := make([]int, 24)
	for i := range codes {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i] = post("wrong") }()
	}
	time.Sleep(300 * time.Millisecond)
	right := post("admin-pass")
	wg.Wait()
	checked := 0
	for _, code := range codes {
		if code == http.StatusUnauthorized {
			checked++
		}
	}
	if right != http.StatusTooManyRequests {
		t.Errorf("right password after 24 concurrent wrong ones: %d, want 429", right)
	}
	if checked > 10 {
		t.Errorf("%d of 24 concurrent wrong passwords were checked (401), want at most 10", checked)
	}
}
