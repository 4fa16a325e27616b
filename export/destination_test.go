package export

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/httperr"
)

// fakeResolver answers every name with the next answer of its list (the
// last one repeats): a name that changes its answer between the check at
// save and the delivery.
type fakeResolver struct {
	answers [][]netip.Addr
	n       atomic.Int64
}

func (f *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	i := int(f.n.Add(1)) - 1
	if i >= len(f.answers) {
		i = len(f.answers) - 1
	}
	return append([]netip.Addr(nil), f.answers[i]...), nil
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func TestWebhookURLRefusedAtSave(t *testing.T) {
	s := chtest.NewStore(t)
	x := NewService(s, t.TempDir(), testLog())
	ctx := context.Background()
	for i, c := range []struct {
		url  string
		want string // in the message; "" accepted
	}{
		{"http://127.0.0.1:8123/?query=INSERT+INTO+annotations", "loopback"},
		{"http://10.0.0.1/hook", "private"},
		{"http://169.254.169.254/latest/meta-data/", "link-local"},
		{"http://localhost:9000/hook", "loopback"},
		{"http://[::1]/hook", "loopback"},
		{"http://[fd00::1]/hook", "private"},
		{"http://100.64.1.1/hook", "CGNAT"},
		{"http://0.0.0.0:8123/", "unspecified"},
		{"http://[::ffff:127.0.0.1]/hook", "loopback"},
		{"http://224.0.0.1/hook", "multicast"},
		{"https://203.0.113.7/hook", ""},
	} {
		e := Export{Name: "hook" + string(rune('a'+i)), Schedule: "0 6 * * *", WebhookURL: c.url}
		err := x.Create(ctx, &e)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s refused: %v", c.url, err)
			}
			continue
		}
		var he *httperr.Error
		if err == nil || !errors.As(err, &he) || he.Status != http.StatusBadRequest {
			t.Errorf("%s: got %v, want a 400", c.url, err)
			continue
		}
		for _, w := range []string{"webhook_url", c.want, "ADOPTSCOPE_WEBHOOK_ALLOW"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", c.url, err, w)
			}
		}
	}
	if es, _ := x.Store.List(ctx); len(es) != 1 {
		t.Errorf("%d exports stored, want only the public one", len(es))
	}

	// The allow-list admits a receiver inside the network, but never
	// this instance's own address nor ClickHouse's.
	x.Runner.Webhook.To = &Destinations{AllowNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		AllowHosts: []string{"hooks.corp.example"}, Deny: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:8123")},
		Resolver: &fakeResolver{answers: [][]netip.Addr{addrs("10.1.2.3")}}}
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:9999/hook", true},
		{"http://hooks.corp.example/hook", true},
		{"http://other.corp.example/hook", false},
		{"http://127.0.0.1:8123/?query=SELECT+1", false},
		{"http://localhost:8123/", false},
	} {
		e := Export{Name: "allowed" + NewID(), Schedule: "0 6 * * *", WebhookURL: c.url}
		if err := x.Create(ctx, &e); (err == nil) != c.ok {
			t.Errorf("allow-list, %s: error %v, want accepted %v", c.url, err, c.ok)
		}
	}
}

func TestParseAllow(t *testing.T) {
	hosts, nets, err := ParseAllow(" hooks.corp.example., 10.20.0.0/16,192.168.1.5 ,::1")
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 1 || hosts[0] != "hooks.corp.example" || len(nets) != 3 || nets[1].String() != "192.168.1.5/32" {
		t.Errorf("hosts %v nets %v", hosts, nets)
	}
	for _, bad := range []string{"10.0.0.0/33", "http://x", "a b", "x/y"} {
		if _, _, err := ParseAllow(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestWebhookRebindRefusedAtDelivery: a name that resolved to a public
// address when the export was saved and to loopback at delivery is not
// called.
func TestWebhookRebindRefusedAtDelivery(t *testing.T) {
	s := chtest.NewStore(t)
	src := &staticSource{cols: []string{"period", "value"}, rows: [][]string{{"2026-01-14", "7"}}}
	var hits atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer recv.Close()
	port := recv.Listener.Addr().(*net.TCPAddr).Port

	x := NewService(s, t.TempDir(), testLog())
	x.Runner.Source = src
	x.Runner.Webhook = WebhookPolicy{Attempts: 2, Backoff: time.Millisecond,
		To: &Destinations{Resolver: &fakeResolver{answers: [][]netip.Addr{addrs("203.0.113.7"), addrs("127.0.0.1")}}}}
	ctx := context.Background()
	e := Export{Name: "rebind", Schedule: "0 6 * * *", WebhookURL: "http://hooks.example.com:" + strconv.Itoa(port) + "/in"}
	if err := x.Create(ctx, &e); err != nil {
		t.Fatalf("saved while public: %v", err)
	}
	run, err := x.RunNow(ctx, e)
	if err == nil || run.Status != StatusFailed {
		t.Fatalf("delivery to loopback: %+v, %v", run, err)
	}
	if hits.Load() != 0 {
		t.Errorf("the loopback receiver was called %d times", hits.Load())
	}
	if !strings.Contains(run.Error, "loopback") || !strings.Contains(run.Error, "try 1 of 2") {
		t.Errorf("run error %q: want the refusal, not retried", run.Error)
	}
}

func TestWebhookRedirectNotFollowed(t *testing.T) {
	s := chtest.NewStore(t)
	src := &staticSource{cols: []string{"period", "value"}, rows: [][]string{{"2026-01-14", "7"}}}
	var target atomic.Int64
	ch := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		target.Add(1)
		io.WriteString(w, "secret-row-from-clickhouse")
	}))
	defer ch.Close()
	var tries atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		tries.Add(1)
		http.Redirect(w, req, ch.URL+"/?query=SELECT+*+FROM+system.users", http.StatusFound)
	}))
	defer recv.Close()

	r := testRunner(t, s, src)
	r.Webhook.Attempts = 3
	ctx := context.Background()
	e := Export{Name: "redirected", Schedule: "0 6 * * *", WebhookURL: recv.URL + "/in"}
	if err := r.Store.Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	run, err := r.Run(ctx, e, utc("2026-02-02T06:00:00Z"), 1, "manual")
	if err == nil || run.Status != StatusFailed {
		t.Fatalf("redirected delivery: %+v, %v", run, err)
	}
	if target.Load() != 0 || tries.Load() != 1 {
		t.Errorf("redirect target called %d times, receiver %d times; want 0 and 1", target.Load(), tries.Load())
	}
	if !strings.Contains(run.Error, "HTTP 302") || strings.Contains(run.Error, "secret-row") || strings.Contains(run.Error, "system.users") {
		t.Errorf("run error %q", run.Error)
	}
}

// TestWebhookSecretsStayOutOfHistory: a failing delivery's error names the
// host, never the URL's user, password, path or query, nor the body the
// receiver answered; readers see the host only, admins a masked URL.
func TestWebhookSecretsStayOutOfHistory(t *testing.T) {
	s := chtest.NewStore(t)
	src := &staticSource{cols: []string{"period", "value"}, rows: [][]string{{"2026-01-14", "7"}}}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "body-says-hunter2", http.StatusBadRequest)
	}))
	defer recv.Close()
	x := NewService(s, t.TempDir(), testLog())
	x.Runner.Source = src
	x.Runner.Webhook = WebhookPolicy{Attempts: 1, To: allowLoopback()}
	ctx := context.Background()
	u, _ := url.Parse(recv.URL)
	hook := "http://alice:pw-s3cret@" + u.Host + "/hooks/path-s3cret?token=tok-s3cret"
	e := Export{Name: "secret", Schedule: "0 6 * * *", WebhookURL: hook}
	if err := x.Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	if _, err := x.RunNow(ctx, e); err == nil {
		t.Fatal("the delivery did not fail")
	}
	// A run recorded by an earlier version, which quoted the URL.
	old := Run{ID: NewID(), ExportID: e.ID, ExportName: e.Name, ScheduledAt: utc("2026-01-01T06:00:00Z"), Attempt: 1,
		Status: StatusFailed, StartedAt: utc("2026-01-01T06:00:00Z"), Error: "webhook delivery failed: webhook " + hook + ": try 1 of 4: HTTP 500"}
	if err := x.Store.SaveRun(ctx, old); err != nil {
		t.Fatal(err)
	}
	runs, err := x.History(ctx, e, 10)
	if err != nil || len(runs) != 2 {
		t.Fatalf("history %v, %v", runs, err)
	}
	views, err := x.Overview(ctx)
	if err != nil || len(views) != 1 {
		t.Fatalf("overview %v, %v", views, err)
	}
	reader := views[0]
	admin := reader.Admin()
	var shown []string
	for _, r := range runs {
		shown = append(shown, r.Error)
		if !strings.Contains(r.Error, "http://"+u.Host) {
			t.Errorf("run error %q does not name the host", r.Error)
		}
	}
	shown = append(shown, reader.WebhookURL, reader.LastRun.Error, admin.WebhookURL)
	for _, sv := range shown {
		for _, secret := range []string{"pw-s3cret", "path-s3cret", "tok-s3cret", "hunter2", "alice"} {
			if (secret == "alice" || secret == "path-s3cret") && sv == admin.WebhookURL {
				continue // admins see the user name and the path, not the password
			}
			if strings.Contains(sv, secret) {
				t.Errorf("%q shows %s", sv, secret)
			}
		}
	}
	if reader.WebhookURL != "http://"+u.Host {
		t.Errorf("readers see %q, want the scheme and host", reader.WebhookURL)
	}
	if want := "http://alice:***@" + u.Host + "/hooks/path-s3cret?token=***"; admin.WebhookURL != want {
		t.Errorf("admins see %q", admin.WebhookURL)
	}
}
