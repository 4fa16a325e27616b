package alert

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/breaks"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
	"github.com/adoptscope/adoptscope/schema/schematest"
)

func TestMain(m *testing.M) {
	os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll}))
}

func day(s string) time.Time {
	t, err := time.Parse(catalog.DateLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

// fixture writes, for each day from first, users[i] distinct people of
// ChatGPT on WhatsApp (one event each, at noon UTC), and returns the
// independent count per day: the number of distinct user keys written.
func fixture(t *testing.T, s *store.Store, first time.Time, users []int) map[string]float64 {
	t.Helper()
	var evs []schematest.Event
	want := map[string]float64{}
	for i, n := range users {
		d := first.AddDate(0, 0, i)
		seen := map[uint64]bool{}
		for u := 0; u < n; u++ {
			key := uint64(u + 1)
			evs = append(evs, schematest.Event{Time: d.Add(12 * time.Hour), Assistant: "chatgpt", Channel: "whatsapp", User: key})
			seen[key] = true
		}
		want[d.Format(catalog.DateLayout)] = float64(len(seen))
	}
	schematest.InsertAndBuild(t, s, "a", evs)
	return want
}

// receiver is a local webhook receiver that records what it got; fail
// makes its first n answers 500.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []received
	fail atomic.Int32
}

type received struct {
	body    []byte
	headers http.Header
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		if r.fail.Add(-1) >= 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, received{b, req.Header.Clone()})
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// smtpServer is a tiny SMTP server on loopback: it accepts every mail
// and keeps its DATA.
type smtpServer struct {
	ln   net.Listener
	mu   sync.Mutex
	mail []string
}

func newSMTP(t *testing.T) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &smtpServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go m.serve(c)
		}
	}()
	return m
}

func (m *smtpServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(s string) { fmt.Fprint(c, s+"\r\n") }
	say("220 localhost test SMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250-localhost")
			say("250 8BITMIME")
		case strings.HasPrefix(cmd, "DATA"):
			say("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			m.mu.Lock()
			m.mail = append(m.mail, b.String())
			m.mu.Unlock()
			say("250 queued")
		case strings.HasPrefix(cmd, "QUIT"):
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func (m *smtpServer) mails() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.mail...)
}

func (m *smtpServer) port() int { return m.ln.Addr().(*net.TCPAddr).Port }

// clock is a settable fixed clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// loopback admits the test's local receivers, as ADOPTSCOPE_WEBHOOK_ALLOW would.
func loopback() *export.Destinations {
	return &export.Destinations{AllowNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
}

func newService(t *testing.T, s *store.Store, c *clock, smtpPort int) *Service {
	svc := NewService(s, annotation.New(s, catalog.Registry{}), catalog.Registry{}, chtest.Logger())
	svc.Now, svc.Settle = c.now, 0
	svc.Send = Sender{To: loopback(), PublicURL: "http://dash.example", Attempts: 4, Backoff: 5 * time.Millisecond,
		SMTP: SMTP{Host: "127.0.0.1", Port: smtpPort, From: "alerts@example.com"}}
	return svc
}

// TestThresholdFiresOnceHoldsResolvesOnce: a drop below a threshold fires
// once (webhook, Slack and e-mail), stays silent while it holds, and
// resolves once; the values are the fixture's own counts, and each
// notification links to the chart with the day marked.
func TestThresholdFiresOnceHoldsResolvesOnce(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	first := day("2026-03-01")
	users := []int{20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 5, 6, 4, 5, 20, 20, 20}
	want := fixture(t, s, first, users)
	hook, slack, mail := newReceiver(t), newReceiver(t), newSMTP(t)
	c := &clock{}
	svc := newService(t, s, c, mail.port())
	r := Rule{Name: "ChatGPT WhatsApp under 10", Metric: query.ActiveUsers, Interval: query.Day, Timezone: "Europe/Paris",
		Assistant: "chatgpt", Channel: "whatsapp", Condition: Threshold, Direction: Below, Value: 10,
		To: []Destination{{Kind: KindWebhook, URL: hook.srv.URL + "/hook"}, {Kind: KindSlack, URL: slack.srv.URL}, {Kind: KindEmail, To: "pm@example.com"}}}
	c.set(day("2026-03-05").Add(12 * time.Hour))
	if err := svc.Create(ctx, &r); err != nil {
		t.Fatal(err)
	}
	// Evaluate after each day completes (the clock at 06:00 UTC the next
	// day: that day is over in Paris too), twice per day.
	var fired, resolved []string
	for d := day("2026-03-05"); !d.After(day("2026-03-17")); d = d.AddDate(0, 0, 1) {
		c.set(d.AddDate(0, 0, 1).Add(6 * time.Hour))
		for range 2 {
			if _, err := svc.Evaluate(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	evs, err := svc.Events(ctx, r.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		switch ev.State {
		case StateFiring:
			fired = append(fired, ev.Day)
		case StateResolved:
			resolved = append(resolved, ev.Day)
		}
		if ev.Value != want[ev.Day] || ev.Comparison != 10 {
			t.Errorf("event %s %s: value %v threshold %v, want %v and 10", ev.Day, ev.State, ev.Value, ev.Comparison, want[ev.Day])
		}
		for _, dl := range ev.Deliveries {
			if dl.Status != DeliverySent || dl.Attempts != 1 {
				t.Errorf("event %s %s: delivery %+v, want sent at the first try", ev.Day, ev.State, dl)
			}
		}
	}
	if strings.Join(fired, ",") != "2026-03-11" || strings.Join(resolved, ",") != "2026-03-15" {
		t.Fatalf("fired on %v and resolved on %v; want fired 2026-03-11 and resolved 2026-03-15, once each", fired, resolved)
	}
	got := hook.received()
	if len(got) != 2 || len(slack.received()) != 2 || len(mail.mails()) != 2 {
		t.Fatalf("webhook got %d, Slack %d, e-mail %d notifications; want 2 each (fired, resolved)", len(got), len(slack.received()), len(mail.mails()))
	}
	var p payload
	if err := json.Unmarshal(got[0].body, &p); err != nil {
		t.Fatal(err)
	}
	if p.State != StateFiring || p.Day != "2026-03-11" || p.Value != want["2026-03-11"] || p.Threshold != 10 || p.Rule.Name != r.Name {
		t.Errorf("webhook payload %+v", p)
	}
	if !strings.Contains(p.URL, "alert_day=2026-03-11") || !strings.Contains(p.URL, "tz=Europe%2FParis") || !strings.HasPrefix(p.URL, "http://dash.example/?") ||
		!strings.Contains(p.URL, "assistant=chatgpt") {
		t.Errorf("chart link %s: want the dashboard with the rule's zone and slice and the day marked", p.URL)
	}
	secret := r.To[0].Secret
	if !export.VerifySignature(secret, got[0].headers.Get(export.HeaderTimestamp), got[0].headers.Get(export.HeaderSignature), got[0].body) {
		t.Error("webhook signature does not verify with the rule's secret")
	}
	var sl map[string]string
	if err := json.Unmarshal(slack.received()[1].body, &sl); err != nil || !strings.Contains(sl["text"], "Resolved") || !strings.Contains(sl["text"], "|Open the chart>") {
		t.Errorf("Slack body %v (%v): want a text with the state and a chart link", sl, err)
	}
	m := mail.mails()[0]
	if !strings.Contains(m, "To: pm@example.com") || !strings.Contains(m, "alert_day=2026-03-11") || !strings.Contains(m, "Subject: ") {
		t.Errorf("mail:\n%s", m)
	}
}

// TestChangeComparesWeekdayWithWeekday: Mondays are twice the other
// days; a "change below −30 %" rule never fires on a Tuesday (against
// the Monday before it would be −50 %), fires on the Wednesday that drops
// against the Wednesday a week earlier, and resolves on the Thursday.
func TestChangeComparesWeekdayWithWeekday(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	first := day("2026-03-02") // a Monday
	var users []int
	for i := range 28 {
		d := first.AddDate(0, 0, i)
		n := 20
		if d.Weekday() == time.Monday {
			n = 40
		}
		if d.Format(catalog.DateLayout) == "2026-03-18" { // a Wednesday
			n = 8
		}
		users = append(users, n)
	}
	want := fixture(t, s, first, users)
	c := &clock{}
	c.set(day("2026-03-31").Add(12 * time.Hour))
	svc := newService(t, s, c, 0)
	r := Rule{Name: "drop", Metric: query.ActiveUsers, Assistant: "chatgpt", Channel: "whatsapp", Condition: Change, Direction: Below, Value: -30,
		To: []Destination{{Kind: KindSlack, URL: "http://127.0.0.1:1/"}}}
	if err := r.Normalize(catalog.Registry{}); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Backtest(ctx, r, day("2026-03-09"), day("2026-03-29"))
	if err != nil {
		t.Fatal(err)
	}
	// Independent answer: the state machine over the fixture's counts.
	var expect []string
	firing := false
	for d := day("2026-03-09"); !d.After(day("2026-03-29")); d = d.AddDate(0, 0, 1) {
		v, pv := want[d.Format(catalog.DateLayout)], want[d.AddDate(0, 0, -7).Format(catalog.DateLayout)]
		holds := (v-pv)/pv*100 < -30
		if holds != firing {
			firing = holds
			st := map[bool]string{true: "firing", false: "resolved"}[holds]
			expect = append(expect, d.Format(catalog.DateLayout)+" "+st+fmt.Sprintf(" %v/%v", v, pv))
		}
	}
	var gotEv []string
	for _, e := range res.Events {
		gotEv = append(gotEv, e.Day+" "+e.State+fmt.Sprintf(" %v/%v", e.Value, e.Comparison))
	}
	if strings.Join(gotEv, "; ") != strings.Join(expect, "; ") || len(expect) != 2 || !strings.HasPrefix(expect[0], "2026-03-18 firing") {
		t.Fatalf("backtest %v, want %v (fired on Wednesday 2026-03-18, resolved the next day)", gotEv, expect)
	}
	if res.Periods != 21 {
		t.Errorf("periods %d, want 21", res.Periods)
	}
}

// TestBreakRuleFiresForDetectedBreak: a break rule fires once for the
// level change the detector found in its series, and not again.
func TestBreakRuleFiresForDetectedBreak(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	first := day("2026-01-01")
	var users []int
	for i := range 60 {
		n := 30
		if i >= 35 {
			n = 10
		}
		users = append(users, n)
	}
	fixture(t, s, first, users)
	c := &clock{}
	c.set(first.AddDate(0, 0, 60).Add(6 * time.Hour))
	notes := annotation.New(s, catalog.Registry{})
	det := breaks.NewDetector(s, notes, chtest.Logger())
	det.Now = c.now
	if _, err := det.Run(ctx); err != nil {
		t.Fatal(err)
	}
	found, err := notes.Breaks(ctx, annotation.BreakFilter{Assistant: "chatgpt", Channel: "whatsapp"})
	if err != nil || len(found) != 1 {
		t.Fatalf("detector found %v (%v), want one break", found, err)
	}
	hook := newReceiver(t)
	svc := newService(t, s, c, 0)
	r := Rule{Name: "break", Assistant: "chatgpt", Channel: "whatsapp", Condition: Break, To: []Destination{{Kind: KindWebhook, URL: hook.srv.URL}}}
	if err := svc.Create(ctx, &r); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		c.set(first.AddDate(0, 0, 60+i).Add(6 * time.Hour))
		if _, err := svc.Evaluate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := hook.received()
	if len(got) != 1 {
		t.Fatalf("%d notifications, want 1", len(got))
	}
	var p payload
	_ = json.Unmarshal(got[0].body, &p)
	if p.Day != found[0].Day || p.Value != found[0].After || p.Threshold != found[0].Before || p.State != StateFiring {
		t.Errorf("payload day %s value %v before %v; want the detector's break %s (%v -> %v)", p.Day, p.Value, p.Threshold, found[0].Day, found[0].Before, found[0].After)
	}
}

// TestTwoSchedulersSendOnce: two processes evaluate the same rules at the
// same time; each transition is sent once.
func TestTwoSchedulersSendOnce(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	fixture(t, s, day("2026-03-01"), []int{20, 20, 20, 5, 5, 20})
	hook := newReceiver(t)
	c := &clock{}
	c.set(day("2026-03-02").Add(6 * time.Hour))
	a, b := newService(t, s, c, 0), newService(t, s, c, 0)
	a.Settle, b.Settle = time.Second, time.Second
	r := Rule{Name: "under 10", Assistant: "chatgpt", Channel: "whatsapp", Metric: query.ActiveUsers, Condition: Threshold, Direction: Below, Value: 10,
		To: []Destination{{Kind: KindWebhook, URL: hook.srv.URL}}}
	if err := a.Create(ctx, &r); err != nil {
		t.Fatal(err)
	}
	for d := day("2026-03-01"); !d.After(day("2026-03-06")); d = d.AddDate(0, 0, 1) {
		c.set(d.AddDate(0, 0, 1).Add(6 * time.Hour))
		var wg sync.WaitGroup
		for _, svc := range []*Service{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := svc.Evaluate(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	var states []string
	for _, g := range hook.received() {
		var p payload
		_ = json.Unmarshal(g.body, &p)
		states = append(states, p.Day+" "+p.State)
	}
	if strings.Join(states, ",") != "2026-03-04 firing,2026-03-06 resolved" {
		t.Fatalf("received %v, want one firing on 2026-03-04 and one resolved on 2026-03-06", states)
	}
}

// TestFailingReceiverRetriedAndRecorded: a receiver that fails twice gets
// the notification at the third try; one that always fails is tried
// four times; both outcomes are in the history.
func TestFailingReceiverRetriedAndRecorded(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	fixture(t, s, day("2026-03-01"), []int{5})
	flaky, down := newReceiver(t), newReceiver(t)
	flaky.fail.Store(2)
	down.fail.Store(1000)
	c := &clock{}
	c.set(day("2026-03-02").Add(6 * time.Hour))
	svc := newService(t, s, c, 0)
	r := Rule{Name: "under 10", Assistant: "chatgpt", Metric: query.ActiveUsers, Condition: Threshold, Direction: Below, Value: 10,
		To: []Destination{{Kind: KindWebhook, URL: flaky.srv.URL}, {Kind: KindSlack, URL: down.srv.URL}}}
	if err := svc.Create(ctx, &r); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.Evaluate(ctx); err != nil || n != 1 {
		t.Fatalf("evaluate: %d, %v", n, err)
	}
	evs, err := svc.Events(ctx, r.ID, 0)
	if err != nil || len(evs) != 1 {
		t.Fatalf("events %v, %v", evs, err)
	}
	ds := evs[0].Deliveries
	if len(ds) != 2 || ds[0].Status != DeliverySent || ds[0].Attempts != 3 || ds[1].Status != DeliveryFailed || ds[1].Attempts != 4 ||
		!strings.Contains(ds[1].Error, "HTTP 500") {
		t.Fatalf("deliveries %+v: want the webhook sent at the 3rd try, Slack failed after 4 with HTTP 500", ds)
	}
	if len(flaky.received()) != 1 {
		t.Errorf("flaky receiver got %d, want 1", len(flaky.received()))
	}
}

// TestDestinationsObeyAddressRules: without the allow-list a loopback
// receiver is refused when the rule is saved, and an SMTP server on
// loopback is refused at delivery without retries.
func TestDestinationsObeyAddressRules(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	c := &clock{}
	c.set(day("2026-03-02"))
	svc := newService(t, s, c, 2525)
	svc.Send.To = &export.Destinations{}
	r := Rule{Name: "x", Assistant: "chatgpt", Metric: query.ActiveUsers, Condition: Threshold, Direction: Below, Value: 1,
		To: []Destination{{Kind: KindWebhook, URL: "http://127.0.0.1:9/"}}}
	err := svc.Create(ctx, &r)
	if err == nil || !strings.Contains(err.Error(), "public addresses only") {
		t.Fatalf("create with a loopback webhook: %v, want refused", err)
	}
	r.To = []Destination{{Kind: KindEmail, To: "pm@example.com"}}
	if err := svc.Create(ctx, &r); err != nil {
		t.Fatal(err)
	}
	ev, err := svc.Test(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if d := ev.Deliveries[0]; d.Status != DeliveryFailed || d.Attempts != 1 || !strings.Contains(d.Error, "public addresses only") {
		t.Fatalf("test mail through a loopback SMTP server: %+v, want refused at the first try", d)
	}
}

// TestUnknownChangeKeepsState: a change against a period of 0 cannot be
// judged; the rule keeps firing instead of resolving (the series has not
// recovered), and resolves once a change can be computed again.
func TestUnknownChangeKeepsState(t *testing.T) {
	checks := []Check{{Holds: true}, {Unknown: true}, {Unknown: true}, {Holds: false}}
	for i := range checks {
		checks[i].Period = day("2026-01-15").AddDate(0, 0, 7*i)
	}
	ts := Transitions("", checks)
	if len(ts) != 2 || ts[0].State != StateFiring || ts[1].State != StateResolved || ts[1].Period != checks[3].Period {
		t.Fatalf("transitions %+v: want firing on the first check and resolved on the last only", ts)
	}
}
