package dashboard

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/export"
)

// TestExportsPage: "Schedule this as CSV" on a chart opens the form
// prefilled with the chart's query; creating lists the export with its
// schedule in words; run now fills the history with a download link.
func TestExportsPage(t *testing.T) {
	root := t.TempDir()
	app := newTestAppWith(t, nil, true, func(o *Deps) {
		o.Exports = export.NewService(o.Store, root, slog.New(slog.NewTextHandler(io.Discard, nil)))
	})
	base := app.srv.URL
	c := newClient(t)

	_, doc, _ := get(t, c, base+"/?range=custom&from=2026-01-05&to=2026-02-01&assistant=chatgpt")
	link := doc.Find(`a[data-testid^="schedule-"]`).First()
	href, ok := link.Attr("href")
	if !ok {
		t.Fatal("no Schedule this as CSV link on the Overview")
	}
	resp, doc, body := get(t, c, base+href)
	if resp.StatusCode != 200 {
		t.Fatalf("form: %d %s", resp.StatusCode, body)
	}
	q := doc.Find(`input[name=query]`).AttrOr("value", "")
	if !strings.Contains(q, "assistant=chatgpt") || strings.Contains(q, "from=") {
		t.Errorf("form query %q, want the chart's filters without dates", q)
	}
	if r := doc.Find(`input[name=range]`).AttrOr("value", ""); r != "last_28_days" {
		t.Errorf("form range %q", r)
	}
	csrf := doc.Find(`form[data-testid=export-form] input[name=_csrf]`).AttrOr("value", "")

	// A path in the name is refused with a message.
	form := url.Values{"_csrf": {csrf}, "name": {"../../etc/x"}, "kind": {"series"}, "query": {q}, "range": {"last_28_days"},
		"schedule": {"0 6 * * MON"}, "timezone": {"Europe/Paris"}, "delimiter": {";"}, "keep": {"5"}}
	r, err := c.PostForm(base+"/exports", form)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("bad name: %d", r.StatusCode)
	}
	form.Set("name", "weekly_chatgpt")
	r, err = c.PostForm(base+"/exports", form)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", r.StatusCode)
	}
	detail := r.Header.Get("Location")

	_, doc, _ = get(t, c, base+"/exports")
	if got := doc.Find(tid("export-row") + " " + tid("export-schedule")).Text(); got != "Mondays at 06:00 Europe/Paris" {
		t.Errorf("schedule in words %q", got)
	}
	if got := doc.Find(tid("export-row") + " " + tid("export-last")).Text(); !strings.Contains(got, "never") {
		t.Errorf("last run %q", got)
	}
	if got := doc.Find(tid("export-row") + " " + tid("export-next")).Text(); !strings.HasPrefix(got, "Mon ") {
		t.Errorf("next run %q", got)
	}

	// Run now, then the history shows it with a download link.
	_, doc, _ = get(t, c, base+detail)
	csrf = doc.Find(`input[name=_csrf]`).First().AttrOr("value", "")
	runURL := doc.Find(`button[data-testid=export-run]`).Closest("form").AttrOr("action", "")
	r, err = c.PostForm(base+runURL, url.Values{"_csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("run now: %d", r.StatusCode)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, doc, _ = get(t, c, base+detail)
		if s := doc.Find(tid("run-status")).First().Text(); s != "" && s != export.StatusRunning {
			if s != export.StatusSuccess {
				t.Fatalf("run status %q: %s", s, doc.Find(tid("run-row")).Text())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("run did not finish")
		}
		time.Sleep(100 * time.Millisecond)
	}
	dl := doc.Find(tid("run-download")).AttrOr("href", "")
	resp, _, body = get(t, c, base+dl)
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "period;") {
		t.Errorf("download %s: %d %q", dl, resp.StatusCode, body)
	}
	if resp, _, _ := get(t, c, base+strings.Replace(dl, "weekly_chatgpt_", "..%2F", 1)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("download outside the folder: %d", resp.StatusCode)
	}

	// Delete.
	// Delete asks first, on a page of its own: the list's link deletes
	// nothing.
	_, doc, _ = get(t, c, base+"/exports")
	confirmURL := doc.Find(`a[data-testid=export-delete]`).AttrOr("href", "")
	_, cdoc, _ := get(t, c, base+confirmURL)
	if cdoc.Find(tid("export-delete-confirm")).Length() != 1 {
		t.Fatalf("no confirmation page at %q", confirmURL)
	}
	_, doc, _ = get(t, c, base+"/exports")
	if doc.Find(tid("export-row")).Length() != 1 {
		t.Error("opening the confirmation deleted the export")
	}
	delURL := cdoc.Find(`button[data-testid=export-delete-confirm-button]`).Closest("form").AttrOr("action", "")
	r, err = c.PostForm(base+delURL, url.Values{"_csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	_, doc, _ = get(t, c, base+"/exports")
	if doc.Find(tid("export-row")).Length() != 0 || doc.Find(tid("exports-empty")).Length() != 1 {
		t.Error("export still listed after delete")
	}
}
