package dashboard

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/auth"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/views"
)

// uploadApp is the dashboard of a process that runs ingest: a real
// pipeline on the test's store, with a small body limit.
func uploadApp(t *testing.T, maxBody int64, users bool) (*testApp, *ingest.Pipeline) {
	t.Helper()
	var p *ingest.Pipeline
	us := testUsersOrNil(t, users)
	app := newTestAppWith(t, us, false, func(o *Deps) {
		var err error
		p, err = ingest.NewPipeline(o.Store, ingest.Config{Secret: []byte("upload-test-secret-0123456789"), FlushInterval: 20 * time.Millisecond,
			MaxBody: maxBody, MaxLine: 2048}, chtest.Logger())
		if err != nil {
			t.Fatal(err)
		}
		o.Ingest, o.IngestStats = p, p.Snapshot
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return app, p
}

func testUsersOrNil(t *testing.T, users bool) []auth.User {
	if !users {
		return nil
	}
	return testUsers(t)
}

// upload posts file as the Ingest page's form does, with the CSRF token
// read from the page (csrf "" reads it; "-" sends none).
func upload(t *testing.T, c *http.Client, base, csrf, name string, content []byte, delimiter string) (*http.Response, *goquery.Document, string) {
	t.Helper()
	if csrf == "" {
		_, doc, _ := get(t, c, base+"/ingest")
		csrf = doc.Find(`form[data-testid=upload-form] input[name=_csrf]`).AttrOr("value", "")
		if csrf == "" {
			t.Fatal("no upload form with a CSRF token on the Ingest page")
		}
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if csrf != "-" {
		w.WriteField("_csrf", csrf)
	}
	w.WriteField("delimiter", delimiter)
	fw, _ := w.CreateFormFile("file", name)
	fw.Write(content)
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, base+UploadPath, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return resp, doc, string(body)
}

func text(doc *goquery.Document, id string) string {
	return strings.TrimSpace(doc.Find(tid(id)).Text())
}

// TestIngestUpload: a file uploaded on the Ingest page goes through the
// ingest pipeline: the summary counts what was accepted, what was stored
// before and what was rejected with the first reasons, and the events are
// in the store; the same file again stores nothing; a ;-separated CSV.gz
// is read; a file over ADOPTSCOPE_INGEST_MAX_BODY (as sent or once
// decompressed) is refused with 413 and stores nothing; no CSRF token, 403.
func TestIngestUpload(t *testing.T) {
	app, _ := uploadApp(t, 8<<10, false)
	base := app.srv.URL
	c := newClient(t)

	resp, doc, body := get(t, c, base+"/ingest")
	if resp.StatusCode != 200 || doc.Find(`form[data-testid=upload-form][enctype="multipart/form-data"] input[type=file][name=file]`).Length() != 1 {
		t.Fatalf("no upload form: %d %s", resp.StatusCode, body)
	}
	if src := doc.Find(`script[src*="upload.js"]`).AttrOr("src", ""); src != views.StaticURL("upload.js") {
		t.Errorf("upload script %q, want the app's own %q", src, views.StaticURL("upload.js"))
	}
	if mb := doc.Find(`form[data-testid=upload-form]`).AttrOr("data-max-body", ""); mb != "8192" {
		t.Errorf("data-max-body %q", mb)
	}

	// 5 lines: 3 valid (one of them twice), a channel nobody knows, not JSON.
	var nd strings.Builder
	valid := []struct{ id, assistant, channel string }{{"u-1", "chatgpt", "whatsapp"}, {"u-2", "meta_ai", "whatsapp"}, {"u-3", "copilot", "web"}}
	for _, v := range valid {
		fmt.Fprintf(&nd, `{"event_id":%q,"time":"2026-01-15T09:30:00Z","assistant":%q,"channel":%q,"user_id":"p-%s"}`+"\n", v.id, v.assistant, v.channel, v.id)
	}
	nd.WriteString(`{"event_id":"u-4","time":"2026-01-15T09:30:00Z","assistant":"chatgpt","channel":"fax","user_id":"p"}` + "\n")
	nd.WriteString("not json\n")
	fmt.Fprintf(&nd, `{"event_id":"u-1","time":"2026-01-15T09:30:00Z","assistant":"chatgpt","channel":"whatsapp","user_id":"p-u-1"}`+"\n")

	resp, doc, body = upload(t, c, base, "", "events.ndjson", []byte(nd.String()), "")
	if resp.StatusCode != 200 {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	for id, want := range map[string]string{"upload-accepted": "3", "upload-duplicates": "1", "upload-rejected": "2"} {
		if got := text(doc, id); got != want {
			t.Errorf("%s %q, want %q", id, got, want)
		}
	}
	if f := text(doc, "upload-file"); !strings.HasPrefix(f, "events.ndjson (ndjson,") {
		t.Errorf("file %q", f)
	}
	var rows [][]string
	doc.Find(tid("upload-errors") + " tbody tr").Each(func(_ int, tr *goquery.Selection) {
		var cells []string
		tr.Find("td").Each(func(_ int, td *goquery.Selection) { cells = append(cells, td.Text()) })
		rows = append(rows, cells)
	})
	if len(rows) != 2 || rows[0][0] != "4" || rows[0][1] != "channel" || !strings.Contains(rows[0][2], "fax") || rows[1][0] != "5" || rows[1][2] != "not valid JSON" {
		t.Errorf("errors listed: %q", rows)
	}
	if n := count(t, app, ""); n != 3 {
		t.Errorf("%d events stored, want 3", n)
	}

	// The same file again: nothing new.
	_, doc, _ = upload(t, c, base, "", "events.ndjson", []byte(nd.String()), "")
	if a, d := text(doc, "upload-accepted"), text(doc, "upload-duplicates"); a != "0" || d != "4" {
		t.Errorf("second upload: accepted %q duplicates %q, want 0 and 4", a, d)
	}
	if n := count(t, app, ""); n != 3 {
		t.Errorf("%d events stored after the second upload, want 3", n)
	}

	// A spreadsheet's CSV, gzip-compressed, delimiter detected or forced.
	csv := "\ufeffevent_id;time;assistant;channel;user_id;count\r\nc-1;2026-01-16T10:00:00Z;perplexity;ios;x;2\r\nc-2;2026-01-16T11:00:00Z;chatgpt;ios;y;5\r\n"
	for _, delim := range []string{"", ";"} {
		resp, doc, body = upload(t, c, base, "", "sheet.csv.gz", gzipped(csv), delim)
		if resp.StatusCode != 200 || text(doc, "upload-rejected") != "0" {
			t.Fatalf("CSV.gz (delimiter %q): %d %s", delim, resp.StatusCode, body)
		}
	}
	if n := count(t, app, "sum(count)"); n != 3+2+5 {
		t.Errorf("sum(count) %d, want 10", n)
	}
	// A forced delimiter the file does not use: the header's columns named.
	resp, doc, _ = upload(t, c, base, "", "sheet.csv.gz", gzipped(csv), ",")
	if e := text(doc, "upload-error"); resp.StatusCode != 400 || !strings.Contains(e, "found 1 column(s)") {
		t.Errorf("wrong delimiter: %d %q", resp.StatusCode, e)
	}
	resp, doc, _ = upload(t, c, base, "", "events.ndjson", []byte(nd.String()), ";")
	if e := text(doc, "upload-error"); resp.StatusCode != 400 || !strings.Contains(e, ".csv files only") {
		t.Errorf("delimiter on NDJSON: %d %q", resp.StatusCode, e)
	}
	resp, doc, _ = upload(t, c, base, "", "events.txt", []byte(nd.String()), "")
	if e := text(doc, "upload-error"); resp.StatusCode != 400 || !strings.Contains(e, ".ndjson, .jsonl, .json or .csv") {
		t.Errorf("unknown format: %d %q", resp.StatusCode, e)
	}

	// Over the limit as sent, and once decompressed: 413, nothing stored.
	big := strings.Repeat(`{"event_id":"big-0000","time":"2026-01-15T09:30:00Z","assistant":"chatgpt","channel":"web","user_id":"b"}`+"\n", 200)
	resp, doc, _ = upload(t, c, base, "", "big.ndjson", []byte(big), "")
	if e := text(doc, "upload-error"); resp.StatusCode != 413 || !strings.Contains(e, "ADOPTSCOPE_INGEST_MAX_BODY") || !strings.Contains(e, "8.0 KiB") || !strings.Contains(e, "adoptscope load --api") {
		t.Errorf("over the limit: %d %q", resp.StatusCode, e)
	}
	// Far over it: refused from the Content-Length, before the form is read.
	huge := strings.Repeat(big, 5)
	resp, doc, body = upload(t, c, base, "", "huge.ndjson", []byte(huge), "")
	if e := text(doc, "page-error"); resp.StatusCode != 413 || !strings.Contains(e, "ADOPTSCOPE_INGEST_MAX_BODY") {
		t.Errorf("far over the limit: %d %q %s", resp.StatusCode, e, body)
	}
	resp, doc, _ = upload(t, c, base, "", "big.ndjson.gz", gzipped(big), "")
	if e := text(doc, "upload-error"); resp.StatusCode != 413 || !strings.Contains(e, "ADOPTSCOPE_INGEST_MAX_BODY") || !strings.Contains(e, "decompressed") {
		t.Errorf("over the limit decompressed: %d %q", resp.StatusCode, e)
	}
	if n := count(t, app, ""); n != 5 {
		t.Errorf("%d events stored after the refused files, want 5", n)
	}

	// No CSRF token: refused.
	resp, _, _ = upload(t, c, base, "-", "events.ndjson", []byte(nd.String()), "")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("without CSRF: %d", resp.StatusCode)
	}
}

// TestIngestUploadAdminOnly: a viewer sees no form and is refused; the
// admin may upload.
func TestIngestUploadAdminOnly(t *testing.T) {
	app, _ := uploadApp(t, 1<<20, true)
	base := app.srv.URL
	viewer, code := login(t, base, "vic", "viewer-pass")
	if code != http.StatusSeeOther {
		t.Fatalf("viewer login: %d", code)
	}
	_, doc, _ := get(t, viewer, base+"/ingest")
	if doc.Find(tid("upload-form")).Length() != 0 || doc.Find(tid("ingest-upload-admin-only")).Length() != 1 {
		t.Errorf("viewer's Ingest page offers the upload")
	}
	csrf := doc.Find(`form.who input[name=_csrf]`).AttrOr("value", "")
	line := `{"event_id":"v-1","time":"2026-01-15T09:30:00Z","assistant":"chatgpt","channel":"web","user_id":"v"}` + "\n"
	resp, doc, _ := upload(t, viewer, base, csrf, "v.ndjson", []byte(line), "")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(text(doc, "page-error"), "admin") {
		t.Errorf("viewer upload: %d %q", resp.StatusCode, text(doc, "page-error"))
	}
	// Not signed in: to the login page.
	resp, _, _ = upload(t, newClient(t), base, "-", "v.ndjson", []byte(line), "")
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous upload: %d", resp.StatusCode)
	}
	admin, _ := login(t, base, "ana", "admin-pass")
	resp, doc, body := upload(t, admin, base, "", "v.ndjson", []byte(line), "")
	if resp.StatusCode != 200 || text(doc, "upload-accepted") != "1" {
		t.Errorf("admin upload: %d %s", resp.StatusCode, body)
	}
	if n := count(t, app, ""); n != 1 {
		t.Errorf("%d events stored, want 1 (the admin's)", n)
	}
}

// TestIngestUploadElsewhere: a process without ingest says where files go.
func TestIngestUploadElsewhere(t *testing.T) {
	app := newTestApp(t, nil, false)
	_, doc, _ := get(t, nil, app.srv.URL+"/ingest")
	if e := text(doc, "ingest-upload-elsewhere"); !strings.Contains(e, "adoptscope load --api") || !strings.Contains(e, "/v1/events") {
		t.Errorf("no word on where to send files: %q", e)
	}
	if doc.Find(tid("upload-form")).Length() != 0 {
		t.Error("an upload form without ingest")
	}
	c := newClient(t)
	_, d2, _ := get(t, c, app.srv.URL+"/annotations")
	csrf := csrfOfPage(d2)
	form := url.Values{"_csrf": {csrf}}
	r, err := c.PostForm(app.srv.URL+UploadPath, form)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusNotFound {
		t.Errorf("upload without ingest: %d", r.StatusCode)
	}
}

func gzipped(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// count reads count() (expr "") or another aggregate of events.
func count(t *testing.T, app *testApp, expr string) uint64 {
	t.Helper()
	if expr == "" {
		expr = "count()"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n uint64
	if err := app.store.Conn.QueryRow(ctx, "SELECT toUInt64("+expr+") FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
