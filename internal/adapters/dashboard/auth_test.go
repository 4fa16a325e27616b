package dashboard

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/auth"
	"github.com/adoptscope/adoptscope/query"
)

func testUsers(t *testing.T) []auth.User {
	t.Helper()
	var out []auth.User
	for _, u := range []struct{ name, role, pw string }{{"ana", auth.RoleAdmin, "admin-pass"}, {"vic", auth.RoleViewer, "viewer-pass"}} {
		h, err := auth.HashPassword(u.pw)
		if err != nil {
			t.Fatal(err)
		}
		us, err := auth.ParseUsers(u.name+":"+u.role+":"+h, "test")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, us...)
	}
	return out
}

func newClient(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login signs in and returns the client; the CSRF token comes from the
// login form, as a browser would get it.
func login(t *testing.T, base, user, pw string) (*http.Client, int) {
	c := newClient(t)
	_, doc, _ := get(t, c, base+"/login")
	csrf := doc.Find(`input[name=_csrf]`).AttrOr("value", "")
	resp, err := c.PostForm(base+"/login", url.Values{"_csrf": {csrf}, "username": {user}, "password": {pw}, "next": {"/compare"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return c, resp.StatusCode
}

func csrfOfPage(doc *goquery.Document) string {
	return doc.Find(`form[data-testid=annotation-form] input[name=_csrf]`).AttrOr("value", "")
}

func TestAuth(t *testing.T) {
	app := newTestApp(t, testUsers(t), false)
	base := app.srv.URL

	// No session: every page sends to the login.
	resp, _, _ := get(t, newClient(t), base+"/retention?range=7d")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
		t.Fatalf("anonymous: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A post without the CSRF token is refused, even with the right password.
	c := newClient(t)
	r, err := c.PostForm(base+"/login", url.Values{"username": {"ana"}, "password": {"admin-pass"}})
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("login without CSRF: %d", r.StatusCode)
	}
	if _, code := login(t, base, "ana", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", code)
	}
	if _, code := login(t, base, "nobody", "x"); code != http.StatusUnauthorized {
		t.Errorf("unknown user: %d", code)
	}

	admin, code := login(t, base, "ana", "admin-pass")
	if code != http.StatusSeeOther {
		t.Fatalf("admin login: %d", code)
	}
	u, _ := url.Parse(base)
	for _, ck := range admin.Jar.Cookies(u) {
		if ck.Name == sessionCookie && ck.Value == "" {
			t.Error("empty session cookie")
		}
	}
	resp, doc, _ := get(t, admin, base+"/annotations")
	if resp.StatusCode != 200 || doc.Find(tid("annotation-form")).Length() != 1 {
		t.Fatalf("admin annotations page: %d", resp.StatusCode)
	}
	csrf := csrfOfPage(doc)
	form := url.Values{"_csrf": {csrf}, "start": {"2026-01-15"}, "title": {"Shutdown"}, "kind": {"shutdown"}}
	r, _ = admin.PostForm(base+"/annotations", form)
	r.Body.Close()
	if r.StatusCode != http.StatusSeeOther {
		t.Errorf("admin add: %d", r.StatusCode)
	}
	// Edit, then delete, through the forms.
	_, doc, _ = get(t, admin, base+"/annotations")
	action := doc.Find(`form[action$="/delete"]`).AttrOr("action", "")
	id := strings.TrimSuffix(strings.TrimPrefix(action, "/annotations/"), "/delete")
	_, doc, _ = get(t, admin, base+"/annotations?edit="+id)
	if v := doc.Find(`form[data-testid=annotation-form] input[name=title]`).AttrOr("value", ""); v != "Shutdown" {
		t.Fatalf("edit form title %q", v)
	}
	form.Set("id", id)
	form.Set("title", "Shutdown (edited)")
	r, _ = admin.PostForm(base+"/annotations", form)
	r.Body.Close()
	_, doc, _ = get(t, admin, base+"/annotations")
	if got := doc.Find(tid("annotation-title")).Text(); got != "Shutdown (edited)" {
		t.Errorf("after edit: %q", got)
	}
	r, _ = admin.PostForm(base+action, url.Values{"_csrf": {csrf}})
	r.Body.Close()
	_, doc, _ = get(t, admin, base+"/annotations")
	if doc.Find(tid("annotation-row")).Length() != 0 {
		t.Error("annotation still listed after delete")
	}
	r, _ = admin.PostForm(base+"/annotations", url.Values{"_csrf": {csrf}, "start": {"2026-01-15"}, "title": {"Shutdown"}, "kind": {"shutdown"}})
	r.Body.Close()
	bad := url.Values{"_csrf": {"forged"}, "start": {"2026-01-16"}, "title": {"Forged"}}
	r, _ = admin.PostForm(base+"/annotations", bad)
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("forged CSRF: %d", r.StatusCode)
	}

	viewer, code := login(t, base, "vic", "viewer-pass")
	if code != http.StatusSeeOther {
		t.Fatalf("viewer login: %d", code)
	}
	_, doc, _ = get(t, viewer, base+"/annotations")
	if doc.Find(tid("annotation-form")).Length() != 0 {
		t.Error("viewer sees the annotation form")
	}
	if doc.Find(tid("annotation-title")).Text() != "Shutdown" {
		t.Error("viewer does not see the annotation")
	}
	vcsrf := doc.Find(`form.who input[name=_csrf]`).AttrOr("value", "")
	r, _ = viewer.PostForm(base+"/annotations", url.Values{"_csrf": {vcsrf}, "start": {"2026-01-17"}, "title": {"By viewer"}})
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("viewer add: %d", r.StatusCode)
	}
	// Sign out ends the session.
	r, _ = viewer.PostForm(base+"/logout", url.Values{"_csrf": {vcsrf}})
	r.Body.Close()
	resp, _, _ = get(t, viewer, base+"/")
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after sign-out: %d", resp.StatusCode)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/compare?x=1": "/compare?x=1", "": "/", "//evil.example/": "/", "https://evil.example/": "/",
		"/\\evil": "/", "javascript:alert(1)": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseFilters(t *testing.T) {
	today := testNow
	f := func(q string, check func(Filters) string) {
		t.Helper()
		v, _ := url.ParseQuery(q)
		if msg := check(ParseFilters(v, today, launchDate)); msg != "" {
			t.Errorf("%s: %s", q, msg)
		}
	}
	f("", func(x Filters) string {
		if x.Range != "12m" || x.Interval != "week" || x.To.Format(catalog.DateLayout) != "2026-02-11" || x.From.Weekday() != 1 {
			return "default " + x.FromString() + " " + x.ToString()
		}
		return ""
	})
	f("range=7d&interval=day", func(x Filters) string {
		if x.FromString() != "2026-02-05" || x.Days() != 7 {
			return x.FromString()
		}
		return ""
	})
	// The filter form sends the dates shown with the range chosen: the
	// preset wins, nothing is reported.
	f("range=7d&interval=day&from=2026-01-02&to=2026-01-05", func(x Filters) string {
		if x.Range != "7d" || x.FromString() != "2026-02-05" || len(x.Errors) != 0 {
			return x.Range + " " + x.FromString() + " " + strings.Join(x.Errors, "; ")
		}
		return ""
	})
	f("from=2026-01-02&to=2026-01-05", func(x Filters) string {
		if x.Range != "custom" || x.FromString() != "2026-01-02" {
			return x.Range
		}
		return ""
	})
	// Every refused value is reported and takes its default; a country
	// code in lower case is refused, as by the API and ingest.
	f("from=2026-01-09&to=2026-01-05&interval=year&assistant=chat'gpt&country=fr", func(x Filters) string {
		if len(x.Errors) != 4 || x.Interval != "week" || x.Range != "12m" || len(x.Assistants) != 0 || len(x.Countries) != 0 {
			return strings.Join(x.Errors, "; ")
		}
		return ""
	})
	f("assistant=meta_ai&assistant=chatgpt,meta_ai&compare=previous", func(x Filters) string {
		if strings.Join(x.Assistants, ",") != "chatgpt,meta_ai" || x.Compare != query.ComparePrevious {
			return strings.Join(x.Assistants, ",")
		}
		if x.Values().Get("assistant") != "chatgpt,meta_ai" {
			return x.Values().Encode()
		}
		return ""
	})
}
