package dashboard

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/breaks"
	"github.com/adoptscope/adoptscope/demo"
	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/panel"
)

// loadDemo loads a small demo data set through the ingest pipeline and
// returns the (closed) pipeline, whose Snapshot still reports the load.
func loadDemo(t testing.TB, s *store.Store, people int) *ingest.Pipeline {
	t.Helper()
	secret := []byte("test secret for the dashboard tests")
	p, err := ingest.NewPipeline(s, ingest.Config{Secret: secret}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := demo.Load(ctx, s, p, demo.Config{People: people}, demo.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	chtest.BuildRollups(t, s)
	return p
}

func chromiumPath() string {
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowser loads every page in headless Chromium on demo data, at 1280
// and 390 px: no console errors, no request to another host, every chart
// drawn with a non-zero canvas; screenshots go to $ADOPTSCOPE_ARTIFACTS (or
// a temporary folder, printed).
func TestBrowser(t *testing.T) {
	chrome := chromiumPath()
	if chrome == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("Chromium is not installed (apt-get install chromium); CI must run the browser test")
		}
		t.Skip("Chromium is not installed (apt-get install chromium)")
	}
	s := chtest.NewStore(t)
	// ADOPTSCOPE_BROWSER_PEOPLE sizes the demo data set (default 800; the
	// product's default demo is demo.DefaultPeople) and ADOPTSCOPE_BROWSER_PAGES
	// picks pages by name (a comma list), for screenshots.
	people := 800
	if v := os.Getenv("ADOPTSCOPE_BROWSER_PEOPLE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("ADOPTSCOPE_BROWSER_PEOPLE=%q: want a number of people", v)
		}
		people = n
	}
	p := loadDemo(t, s, people)
	d := testDeps(s, nil)
	d.IngestStats = p.Snapshot
	// The demo's people as a panel, so the Panel page draws estimates.
	d.Panel = panel.NewService(s, p.UserKey)
	{
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		members, err := demo.PanelMembersCSV(demo.Config{People: people})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Panel.SubmitMembers(ctx, strings.NewReader(members), true); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Panel.SubmitTargets(ctx, strings.NewReader(demo.PanelTargetsCSV(demo.Config{People: people})), true); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	// One export with a run, so the Exports pages show their list, times
	// and the delete confirmation.
	d.Exports = export.NewService(s, t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	weekly := export.Export{Name: "weekly_dau", Query: "metric=active_users&interval=day&by=assistant,channel", Range: "last_28_days",
		Schedule: "0 6 * * MON", Timezone: "Europe/Paris", Delimiter: ","}
	{
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := d.Exports.Create(ctx, &weekly); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Exports.RunNow(ctx, weekly); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	alertID := alertFixture(t, s, &d)
	h := mustNew(t, d)
	// A detection run, so the Annotations page lists suggested breaks and
	// the charts draw them.
	{
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if _, err := breaks.NewDetector(s, h.opts.Annotations, nil).Run(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	e := echo.New()
	h.Register(e)
	srv := httptest.NewServer(e)
	defer srv.Close()
	base, _ := url.Parse(srv.URL)

	dir := os.Getenv("ADOPTSCOPE_ARTIFACTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "adoptscope-screenshots-"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	fmt.Fprintf(os.Stderr, "browser test screenshots: %s\n", dir)

	profile := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("hide-scrollbars", true), chromedp.UserDataDir(profile),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()

	pages := []struct{ name, path string }{
		{"overview", "/"},
		{"overview-compare", "/?range=90d&interval=day&compare=previous"},
		{"compare", "/compare"},
		{"compare-previous", "/compare?range=90d&interval=week&compare=previous"},
		{"overview-year", "/?range=12m&interval=month&compare=year"},
		{"compare-year", "/compare?range=12m&interval=month&compare=year"},
		{"channel", "/channel"},
		{"channel-previous", "/channel?range=90d&interval=week&compare=previous"},
		{"impact", "/impact"},
		{"retention", "/retention?range=90d"},
		{"lifecycle", "/lifecycle?range=90d"},
		{"lifecycle-whatsapp", "/lifecycle?range=custom&from=2025-11-03&to=2026-03-01&interval=week&channel=whatsapp&by=assistant"},
		{"modalities", "/modalities"},
		{"modalities-day", "/modalities?range=28d&interval=day"},
		{"retention-12m", "/retention?range=12m"},
		{"channel-paris", "/channel?focus=whatsapp&range=28d&interval=day&tz=Europe/Paris"},
		{"overview-unknown", "/?assistant=chatgtp"},
		{"annotations", "/annotations"},
		{"breaks", "/annotations#detected-breaks"},
		{"overlap", "/overlap"},
		{"overlap-whatsapp", "/overlap?range=90d&channel=whatsapp"},
		{"overlap-lift", "/overlap?color=lift"},
		{"countries", "/countries?range=12m"},
		{"countries-change", "/countries?range=90d&color=change"},
		{"impact-controls", "/impact?date=2026-01-15&source_assistant=chatgpt&source_channel=whatsapp&control=meta_ai:whatsapp"},
		{"ingest", "/ingest"},
		{"exports", "/exports"},
		{"export-form", "/exports/new"},
		{"export-delete", "/exports/" + url.PathEscape(weekly.ID) + "/delete"},
		{"panel", "/panel?range=12m&interval=month"},
		{"alerts", "/alerts"},
		{"alert-backtest", "/alerts/" + alertID + "/backtest?from=2025-12-01&to=2026-05-31"},
		{"overview-alert-day", "/?assistant=chatgpt&channel=whatsapp&range=custom&from=2025-12-19&to=2026-02-12&interval=day&alert_day=2026-01-15"},
	}
	only := map[string]bool{}
	for _, n := range strings.Split(os.Getenv("ADOPTSCOPE_BROWSER_PAGES"), ",") {
		if n != "" {
			only[n] = true
		}
	}
	for _, width := range []int64{1280, 390} {
		for _, pg := range pages {
			if len(only) > 0 && !only[pg.name] {
				continue
			}
			t.Run(fmt.Sprintf("%s-%d", pg.name, width), func(t *testing.T) {
				ctx, cancel := chromedp.NewContext(actx)
				defer cancel()
				ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
				defer cancelT()
				// Open the tab, switch on the domains whose events are read,
				// subscribe, then navigate: nothing the page does is missed.
				if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900)); err != nil {
					t.Fatalf("start Chromium: %v", err)
				}
				if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
					t.Fatal(err)
				}
				if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
					t.Fatal(err)
				}
				var mu sync.Mutex
				var problems []string
				add := func(s string) { mu.Lock(); problems = append(problems, s); mu.Unlock() }
				msgs := chromedp.Console(ctx)
				reqs := chromedp.Events(ctx, network.RequestWillBeSent)
				go func() {
					for m, err := range msgs {
						if err != nil {
							return
						}
						if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
							add(fmt.Sprintf("console %s: %s (%s)", m.Type, m.Text, m.URL))
						}
					}
				}()
				go func() {
					for ev, err := range reqs {
						if err != nil {
							return
						}
						u, perr := url.Parse(ev.Request.URL)
						if perr == nil && (u.Scheme == "data" || u.Scheme == "blob") {
							continue
						}
						if perr != nil || u.Host != base.Host {
							add("request to another host: " + ev.Request.URL)
						}
					}
				}()
				if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+pg.path), chromedp.WaitReady("footer")); err != nil {
					t.Fatalf("load %s: %v", pg.path, err)
				}
				if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll('.chart[data-chart]').length === document.querySelectorAll('.chart[data-drawn]').length`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
					t.Errorf("charts not drawn: %v", err)
				}
				_ = chromedp.Do(ctx, chromedp.Sleep(800*time.Millisecond)) // ECharts animation
				charts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.chart[data-chart]').length`))
				if err != nil {
					t.Fatal(err)
				}
				drawn, err := chromedp.Run(ctx, chromedp.Evaluate[int](`Array.from(document.querySelectorAll('.chart[data-chart]')).filter(function (el) {
					var c = el.querySelector('canvas, svg'); if (!c) return false;
					var r = c.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length`))
				if err != nil {
					t.Fatal(err)
				}
				bad, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('[data-testid=chart-error], [data-testid=page-error], [data-testid=kpi-error]')).map(function (e) { return e.textContent; })`))
				if err != nil {
					t.Fatal(err)
				}
				layout, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](layoutProblemsJS))
				if err != nil {
					t.Fatal(err)
				}
				png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatalf("screenshot: %v", err)
				}
				name := filepath.Join(dir, fmt.Sprintf("%s-%d.png", pg.name, width))
				if err := os.WriteFile(name, png, 0o644); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				defer mu.Unlock()
				for _, p := range problems {
					t.Error(p)
				}
				for _, b := range bad {
					t.Errorf("error box on the page: %s", b)
				}
				for _, l := range layout {
					t.Errorf("layout: %s", l)
				}
				if drawn != charts {
					t.Errorf("%d of %d charts drawn", drawn, charts)
				}
				needsCharts := !strings.HasPrefix(pg.name, "annotations") && pg.name != "breaks" && pg.name != "ingest" && !strings.HasPrefix(pg.name, "export") && !strings.HasPrefix(pg.name, "alert") && pg.name != "overview-unknown"
				if needsCharts && charts == 0 {
					t.Error("no chart on the page")
				}
			})
		}
	}
}

// layoutProblemsJS lists what a person would see as broken: a page wider
// than the window (a horizontal scroll), a legend that pages series away,
// axis labels drawn over each other, a menu entry off screen, a table
// wider than its card without its own scroll.
const layoutProblemsJS = `(function () {
  var bad = [];
  var W = window.innerWidth;
  if (document.documentElement.scrollWidth > W + 1) bad.push('the page scrolls sideways: ' + document.documentElement.scrollWidth + ' px wide in a ' + W + ' px window');
  document.querySelectorAll('.nav a').forEach(function (a) {
    var r = a.getBoundingClientRect();
    if (r.right > W + 1 || r.left < -1 || r.width === 0) bad.push('menu entry ' + a.textContent + ' is off screen');
  });
  document.querySelectorAll('.card table').forEach(function (t) {
    var wrap = t.closest('.table-wrap'), card = t.closest('.card');
    if (!wrap && t.getBoundingClientRect().width > card.getBoundingClientRect().width + 1) bad.push('a table is wider than its card');
  });
  document.querySelectorAll('.chart[data-drawn]').forEach(function (el) {
    var c = echarts.getInstanceByDom(el);
    if (!c) return;
    (c.getOption().legend || []).forEach(function (l) {
      if (l.show !== false && l.type === 'scroll') bad.push(el.id + ': the legend pages series away');
    });
    var labels = [];
    c.getZr().storage.getRoots().forEach(function (root) {
      var visit = function (e) {
        if (e.ignore || e.invisible) return;
        if (e.anid && String(e.anid).indexOf('label_') === 0 && e.getBoundingRect) {
          var r = e.getBoundingRect().clone();
          var m = e.getComputedTransform();
          if (m) r.applyTransform(m);
          labels.push({ r: r, p: e.parent, t: (e.style && e.style.text) || '' });
          return;
        }
        if (e.children) e.children().forEach(visit);
      };
      visit(root);
    });
    for (var i = 0; i < labels.length; i++) {
      for (var j = i + 1; j < labels.length; j++) {
        var a = labels[i], b = labels[j];
        if (a.p !== b.p) continue;
        var ox = Math.min(a.r.x + a.r.width, b.r.x + b.r.width) - Math.max(a.r.x, b.r.x);
        var oy = Math.min(a.r.y + a.r.height, b.r.y + b.r.height) - Math.max(a.r.y, b.r.y);
        if (ox > 1 && oy > 1) { bad.push(el.id + ': axis labels overlap: "' + a.t + '" and "' + b.t + '"'); i = labels.length; break; }
      }
    }
    var o = c.getOption();
    var lg = (o.legend || [])[0];
    if (lg && lg.show !== false && o.grid && o.grid[0] && typeof o.grid[0].top === 'number') {
      var names = {};
      (o.series || []).forEach(function (s) { names[s.name] = 1; });
      if (Object.keys(names).length > 0 && o.grid[0].top < 30) bad.push(el.id + ': the plot starts under the legend');
    }
  });
  return bad;
})()`
