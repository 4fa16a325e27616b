package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/alert"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
)

// alertFixture gives d an alert service with one rule (ChatGPT on
// WhatsApp halves, to a local webhook), a test send and a firing on
// 2026-01-15 in its history; it returns the rule's id.
func alertFixture(t *testing.T, s *store.Store, d *Deps) string {
	t.Helper()
	recv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(recv.Close)
	d.Alerts = alert.NewService(s, d.Annotations, catalog.Registry{}, nil)
	d.Alerts.Send.To = &export.Destinations{AllowNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	ctx := context.Background()
	r := alert.Rule{Name: "ChatGPT on WhatsApp halves", Metric: query.ActiveUsers, Interval: query.Day, Timezone: "Europe/Paris",
		Assistant: "chatgpt", Channel: "whatsapp", Condition: alert.Change, Direction: alert.Below, Value: -50,
		To: []alert.Destination{{Kind: alert.KindSlack, URL: recv.URL + "/services/T000/B000/XXXX"}, {Kind: alert.KindEmail, To: "pm@example.com"}}}
	if err := d.Alerts.Create(ctx, &r); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Alerts.Test(ctx, r); err != nil {
		t.Fatal(err)
	}
	ev := alert.Event{ID: "ev-0000000000000001", RuleID: r.ID, Day: "2026-01-15", State: alert.StateFiring, Value: 0, Comparison: 469,
		Detail: "active_users 0 on Thu 2026-01-15 against 469 on Thu 2026-01-08 (−100 %)", SentAt: time.Date(2026, 1, 16, 6, 1, 0, 0, time.UTC),
		Deliveries: []alert.Delivery{{Destination: r.To[0].Name(), Status: alert.DeliverySent, Attempts: 2}, {Destination: r.To[1].Name(), Status: alert.DeliverySent, Attempts: 1}}}
	if err := d.Alerts.Store.SaveEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// TestAlertsPages: the list shows the rule, its slice and state; its page
// shows the history with every delivery, and a backtest over the demo's
// January lists the day the rule would have fired.
func TestAlertsPages(t *testing.T) {
	var id string
	app := newTestAppWith(t, nil, true, func(d *Deps) { id = alertFixture(t, d.Store, d) })
	base := app.srv.URL
	c := newClient(t)
	_, doc, _ := get(t, c, base+"/alerts")
	row := doc.Find(`[data-testid="alert-row"]`)
	if row.Length() != 1 || !strings.Contains(row.Text(), "ChatGPT on WhatsApp") || !strings.Contains(row.Find(`[data-testid="alert-state"]`).Text(), "firing since 2026-01-15") {
		t.Fatalf("alert list row: %q", row.Text())
	}
	if strings.Contains(row.Text(), "XXXX") {
		t.Errorf("the list shows the webhook's path: %q", row.Text())
	}
	_, doc, _ = get(t, c, base+"/alerts/"+url.PathEscape(id))
	evs := doc.Find(`[data-testid="alert-events"] [data-testid="alert-event"]`)
	if evs.Length() != 2 || !strings.Contains(evs.Eq(0).Text(), "test") || !strings.Contains(evs.Eq(1).Text(), "2026-01-15") ||
		!strings.Contains(evs.Eq(1).Text(), "(2 tries)") {
		t.Fatalf("history rows: %q", evs.Text())
	}
	// The chart a notification links to marks the day.
	_, doc, body := get(t, c, base+"/?assistant=chatgpt&channel=whatsapp&from=2026-01-01&to=2026-01-31&alert_day=2026-01-15")
	if !strings.Contains(body, "Alert: the day this link is about") {
		t.Errorf("the Overview with alert_day=2026-01-15 does not mark the day (%d bytes)", len(body))
	}
	_ = doc
}
