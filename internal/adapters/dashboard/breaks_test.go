package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/breaks"
)

// TestBreakAcceptDismiss: the detected breaks on the Annotations page are
// decided by an admin only, with a valid CSRF token; Accept makes a real
// annotation, and a dismissed break is not listed again after a new
// detection run over the same data.
func TestBreakAcceptDismiss(t *testing.T) {
	app := newTestApp(t, testUsers(t), true)
	base := app.srv.URL
	svc := app.h.opts.Annotations
	det := breaks.NewDetector(app.store, svc, nil)
	det.Now = func() time.Time { return testNow }
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run, err := det.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if run.New < 2 {
		t.Fatalf("detection found %d new breaks on the small data set (%s); the test needs 2", run.New, run)
	}

	admin, code := login(t, base, "ana", "admin-pass")
	if code != http.StatusSeeOther {
		t.Fatalf("admin login: %d", code)
	}
	listed := func(c *http.Client) (map[string]bool, string, *goquery.Document) {
		_, doc, _ := get(t, c, base+"/annotations")
		ids := map[string]bool{}
		doc.Find(tid("break-row") + " form").Each(func(_ int, f *goquery.Selection) {
			ids[f.AttrOr("action", "")] = true
		})
		return ids, doc.Find(tid("break-row")+" input[name=_csrf]").First().AttrOr("value", ""), doc
	}
	suggested, err := svc.Breaks(ctx, annotation.BreakFilter{Status: annotation.BreakSuggested})
	if err != nil {
		t.Fatal(err)
	}
	actions, csrf, doc := listed(admin)
	if n := doc.Find(tid("break-row")).Length(); n != len(suggested) {
		t.Errorf("%d break rows, want the %d suggested", n, len(suggested))
	}
	acc, dis := suggested[0], suggested[1]
	accURL, disURL := "/annotations/breaks/"+acc.ID+"/accept", "/annotations/breaks/"+dis.ID+"/dismiss"
	if !actions[accURL] || !actions[disURL] {
		t.Fatalf("no Accept/Dismiss forms for %s and %s: %v", acc.ID, dis.ID, actions)
	}
	post := func(c *http.Client, path, token string) int {
		r, err := c.PostForm(base+path, url.Values{"_csrf": {token}})
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}

	// A viewer sees no actions and is refused, with a valid token of its own.
	viewer, code := login(t, base, "vic", "viewer-pass")
	if code != http.StatusSeeOther {
		t.Fatalf("viewer login: %d", code)
	}
	_, vdoc, _ := get(t, viewer, base+"/annotations")
	if vdoc.Find(tid("break-accept")+", "+tid("break-dismiss")).Length() != 0 {
		t.Error("a viewer sees Accept or Dismiss")
	}
	if vdoc.Find(tid("break-row")).Length() != len(suggested) {
		t.Error("a viewer does not see the suggested breaks")
	}
	vcsrf := vdoc.Find(`form.who input[name=_csrf]`).AttrOr("value", "")
	for _, p := range []string{accURL, disURL} {
		if code := post(viewer, p, vcsrf); code != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d, want 403", p, code)
		}
	}
	// An admin without a valid token is refused.
	for _, p := range []string{accURL, disURL} {
		if code := post(admin, p, "forged"); code != http.StatusForbidden {
			t.Errorf("forged CSRF POST %s: %d, want 403", p, code)
		}
	}
	if b, _ := svc.GetBreak(ctx, acc.ID); b.Status != annotation.BreakSuggested {
		t.Fatalf("refused requests changed the break: %s", b.Status)
	}

	// Accept, as the page's form sends it (the title it proposes, kind
	// "other" preselected): a real annotation of the break's day and scope.
	form := doc.Find(`form[action="` + accURL + `"]`)
	title := form.Find(`input[name=title]`).AttrOr("value", "")
	kind := form.Find(`select[name=kind] option[selected]`).AttrOr("value", "")
	if title != acc.Title() || kind != "other" {
		t.Errorf("accept form proposes title %q kind %q, want %q and other", title, kind, acc.Title())
	}
	r, err := admin.PostForm(base+accURL, url.Values{"_csrf": {csrf}, "title": {title}, "kind": {kind}})
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept: %d", r.StatusCode)
	}
	b, err := svc.GetBreak(ctx, acc.ID)
	if err != nil || b.Status != annotation.BreakAccepted || b.AnnotationID == "" {
		t.Fatalf("after accept: %+v, %v", b, err)
	}
	a, err := svc.Get(ctx, b.AnnotationID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Start != acc.Day || a.Assistant != acc.Assistant || a.Channel != acc.Channel || a.Kind != "other" || a.Title != acc.Title() {
		t.Errorf("accepted annotation %+v: want a real annotation on %s for %s/%s", a, acc.Day, acc.Assistant, acc.Channel)
	}
	_, _, doc = listed(admin)
	if doc.Find(`[data-testid=annotation-title]:contains("`+a.Title+`")`).Length() == 0 {
		t.Errorf("the accepted annotation %q is not listed", a.Title)
	}

	// Dismiss, then detect again over the same data: not listed again.
	if code := post(admin, disURL, csrf); code != http.StatusSeeOther {
		t.Fatalf("dismiss: %d", code)
	}
	run, err = det.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if run.Ignored < 2 || run.New != 0 {
		t.Errorf("second run: %s; want the accepted and the dismissed break ignored, nothing new", run)
	}
	actions, _, _ = listed(admin)
	for _, p := range []string{accURL, disURL, "/annotations/breaks/" + dis.ID + "/accept"} {
		if actions[p] {
			t.Errorf("%s is listed again after a new detection run", p)
		}
	}
	if b, _ := svc.GetBreak(ctx, dis.ID); b.Status != annotation.BreakDismissed {
		t.Errorf("dismissed break is %s", b.Status)
	}
}
