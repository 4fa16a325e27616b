package dashboard

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/panel"
	"github.com/adoptscope/adoptscope/schema/schematest"
)

// TestPanelPage: the page names the month's members, effective sample
// size and every margin next to its target, draws the estimate with its
// table, and warns about what cannot be met.
func TestPanelPage(t *testing.T) {
	var svc *panel.Service
	key := func(id string) uint64 { n, _ := strconv.ParseUint(strings.TrimPrefix(id, "m"), 10, 64); return n }
	app := newTestAppWith(t, nil, false, func(d *Deps) {
		svc = panel.NewService(d.Store, key)
		d.Panel = svc
	})
	ctx := context.Background()
	var members strings.Builder
	members.WriteString("panel,user_id,country,platform\n")
	var evs []schematest.Event
	// 80 members in FR, 40 in EG; the population is the other way round.
	// Every third member used ChatGPT on 12 January 2026.
	for i := 1; i <= 120; i++ {
		c := "FR"
		if i > 80 {
			c = "EG"
		}
		fmt.Fprintf(&members, "demo,m%d,%s,%s\n", i, c, []string{"ios", "android"}[i%2])
		if i%3 == 0 {
			evs = append(evs, schematest.Event{Time: time.Date(2026, 1, 12, 10, 0, 0, 0, time.UTC), Assistant: "chatgpt", User: uint64(i), Country: c})
		}
	}
	schematest.InsertAndBuild(t, app.store, "pp", evs)
	if res, err := svc.SubmitMembers(ctx, strings.NewReader(members.String()), true); err != nil || res.Rejected != 0 {
		t.Fatal(res, err)
	}
	targets := "panel,month,dimension,category,population\ndemo,2026-01,country,FR,1000\ndemo,2026-01,country,EG,9000\ndemo,2026-01,platform,ios,4000\ndemo,2026-01,platform,android,6000\ndemo,2026-01,platform,web,5\n"
	if res, err := svc.SubmitTargets(ctx, strings.NewReader(targets), true); err != nil || res.Rejected != 0 {
		t.Fatal(res, err)
	}
	_, doc, body := get(t, nil, app.srv.URL+"/panel?panel=demo&month=2026-01&range=custom&from=2026-01-01&to=2026-01-31&interval=month")
	if got := doc.Find(`[data-testid=panel-members]`).Text(); got != "120" {
		t.Errorf("members %q, want 120\n%s", got, body)
	}
	rows := doc.Find(`[data-testid=table-panel-margins] tbody tr`)
	if rows.Length() != 5 {
		t.Errorf("%d margin rows, want 5 (country FR, EG; platform android, ios, web)", rows.Length())
	}
	if w := doc.Find(`[data-testid=panel-warnings]`).Text(); !strings.Contains(w, "platform=web") {
		t.Errorf("warnings %q: want the web target no member meets", w)
	}
	// 40 of the 120 members were active in January: 27 in FR, 13 in EG.
	est := doc.Find(`[data-testid=table-panel-estimate] tbody tr`)
	if est.Length() != 1 || !strings.Contains(est.Text(), "40") {
		t.Errorf("estimate table %q: want one row counting 40 members", est.Text())
	}
	if doc.Find(`#chart-panel-estimate, [data-testid=chart-panel-estimate]`).Length() == 0 {
		t.Errorf("no estimate chart on the page")
	}
}
