package queryapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/httpserver"
)

func exportServer(t *testing.T) (*echo.Echo, *export.Service) {
	t.Helper()
	s := chtest.NewStore(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := httpserver.New(log).Echo
	x := export.NewService(s, t.TempDir(), log)
	// The test receivers listen on loopback, which only an allow-list admits.
	x.Runner.Webhook = export.WebhookPolicy{Attempts: 2, Backoff: time.Millisecond,
		To: &export.Destinations{AllowNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}
	t.Cleanup(func() { _ = x.Stop(context.Background()) })
	mustNew(t, Deps{Store: s, Log: log, ReadTokens: []string{readToken}, AdminTokens: []string{adminToken}, Exports: x}).Register(e.Group("/api/v1"))
	return e, x
}

func TestExportsAPI(t *testing.T) {
	e, _ := exportServer(t)
	body := map[string]any{"name": "weekly_dau", "query": map[string]any{"metric": "active_users", "by": []string{"assistant", "channel"}},
		"range": "last_28_days", "schedule": "0 6 * * MON", "timezone": "Europe/Paris", "webhook_url": "http://127.0.0.1:9/hook"}

	for _, c := range []struct {
		name, token string
		body        any
		want        int
	}{
		{"no token", "", body, http.StatusUnauthorized},
		{"read token cannot create", readToken, body, http.StatusUnauthorized},
		{"path in name", adminToken, map[string]any{"name": "../../etc/x", "schedule": "* * * * *"}, http.StatusBadRequest},
		{"slash in name", adminToken, map[string]any{"name": "a/b", "schedule": "* * * * *"}, http.StatusBadRequest},
		{"bad schedule", adminToken, map[string]any{"name": "x", "schedule": "every day"}, http.StatusBadRequest},
		{"bad zone", adminToken, map[string]any{"name": "x", "schedule": "* * * * *", "timezone": "Paris"}, http.StatusBadRequest},
		{"injection in query", adminToken, map[string]any{"name": "x", "schedule": "* * * * *", "query": "assistant=chatgpt'+OR+1=1+--"}, http.StatusBadRequest},
		{"unknown field", adminToken, map[string]any{"name": "x", "schedule": "* * * * *", "cron": "x"}, http.StatusBadRequest},
		{"created", adminToken, body, http.StatusCreated},
		{"duplicate", adminToken, body, http.StatusConflict},
	} {
		rec := call(t, e, http.MethodPost, "/api/v1/exports", c.token, c.body)
		if rec.Code != c.want {
			t.Errorf("%s: status %d, want %d: %s", c.name, rec.Code, c.want, rec.Body)
		}
		if c.name == "created" {
			var got map[string]any
			json.Unmarshal(rec.Body.Bytes(), &got)
			if got["webhook_secret"] == "" || got["webhook_secret"] == nil {
				t.Errorf("create answer lacks the webhook secret: %s", rec.Body)
			}
			if got["schedule_words"] != "Mondays at 06:00 Europe/Paris" {
				t.Errorf("schedule_words %v", got["schedule_words"])
			}
		}
	}

	rec := call(t, e, http.MethodGet, "/api/v1/exports", readToken, nil)
	var list struct{ Exports []export.View }
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Code != 200 || len(list.Exports) != 1 {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "webhook_secret") {
		t.Error("list shows the webhook secret")
	}
	ex := list.Exports[0]
	if ex.Query != "by=assistant%2Cchannel&metric=active_users" || ex.NextRun == nil || ex.NextRun.Weekday() != time.Monday {
		t.Errorf("export %+v", ex)
	}
	id := ex.ID

	if rec := call(t, e, http.MethodPost, "/api/v1/exports/"+id+"/run", readToken, nil); rec.Code != http.StatusUnauthorized {
		t.Errorf("run now with read token: %d", rec.Code)
	}
	rec = call(t, e, http.MethodPost, "/api/v1/exports/"+id+"/run", adminToken, nil)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("run now: %d %s", rec.Code, rec.Body)
	}
	var runs struct{ Runs []runView }
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec = call(t, e, http.MethodGet, "/api/v1/exports/"+id+"/runs", readToken, nil)
		json.Unmarshal(rec.Body.Bytes(), &runs)
		if len(runs.Runs) == 1 && runs.Runs[0].Status != export.StatusRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run did not finish: %s", rec.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := runs.Runs[0]
	// The webhook points at a closed port: the file is written and kept,
	// the run is failed with the delivery error.
	if r.Status != export.StatusFailed || !strings.Contains(r.Error, "webhook") || r.Download == "" || r.Trigger != "manual" {
		t.Fatalf("run %+v", r)
	}
	rec = call(t, e, http.MethodGet, r.Download, readToken, nil)
	if rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), "period,assistant,channel,value") || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
		t.Errorf("download: %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	// The manifest beside the file, listed in the history and served.
	if r.Manifest != r.File+".json" || r.ManifestDownload != r.Download+".json" {
		t.Errorf("run manifest %q at %q", r.Manifest, r.ManifestDownload)
	}
	rec = call(t, e, http.MethodGet, r.ManifestDownload, readToken, nil)
	var m export.Manifest
	if err := json.Unmarshal(rec.Body.Bytes(), &m); rec.Code != 200 || err != nil || m.File != r.File || m.Timezone != "Europe/Paris" ||
		m.Range != "last_28_days" || m.From != r.PeriodFrom || m.Rows != int64(r.Rows) || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Errorf("manifest: %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	for _, bad := range []string{"..%2F..%2Fetc%2Fpasswd", "weekly_dau_x.csv", "other_2026-01-01_2026-01-02.csv", "weekly_dau_x.json", "weekly_dau_x.csv.json"} {
		if rec := call(t, e, http.MethodGet, "/api/v1/exports/"+id+"/files/"+bad, readToken, nil); rec.Code != http.StatusNotFound {
			t.Errorf("download %s: %d", bad, rec.Code)
		}
	}

	if rec := call(t, e, http.MethodDelete, "/api/v1/exports/"+id, readToken, nil); rec.Code != http.StatusUnauthorized {
		t.Errorf("delete with read token: %d", rec.Code)
	}
	if rec := call(t, e, http.MethodDelete, "/api/v1/exports/"+id, adminToken, nil); rec.Code != http.StatusNoContent {
		t.Errorf("delete: %d %s", rec.Code, rec.Body)
	}
	if rec := call(t, e, http.MethodGet, "/api/v1/exports/"+id+"/runs", readToken, nil); rec.Code != http.StatusNotFound {
		t.Errorf("runs of a deleted export: %d", rec.Code)
	}
}

// TestExportsWebhookURLShownToAdminsOnly: readers see a webhook's host,
// admins its URL with the password and query values masked; no run error
// repeats the URL's user, password, path or query.
func TestExportsWebhookURLShownToAdminsOnly(t *testing.T) {
	e, _ := exportServer(t)
	hook := "http://bob:pw-s3cret@127.0.0.1:9/hooks/path-s3cret?token=tok-s3cret"
	rec := call(t, e, http.MethodPost, "/api/v1/exports", adminToken, map[string]any{"name": "hooked", "schedule": "0 6 * * *", "webhook_url": hook})
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var created export.View
	json.Unmarshal(rec.Body.Bytes(), &created)
	if rec := call(t, e, http.MethodPost, "/api/v1/exports/"+created.ID+"/run", adminToken, nil); rec.Code != http.StatusAccepted {
		t.Fatalf("run now: %d %s", rec.Code, rec.Body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var runs struct{ Runs []runView }
		rec = call(t, e, http.MethodGet, "/api/v1/exports/"+created.ID+"/runs", readToken, nil)
		json.Unmarshal(rec.Body.Bytes(), &runs)
		if len(runs.Runs) == 1 && runs.Runs[0].Status != export.StatusRunning {
			if !strings.Contains(runs.Runs[0].Error, "http://127.0.0.1:9") {
				t.Errorf("run error %q does not name the host", runs.Runs[0].Error)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run did not finish: %s", rec.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	pages := map[string]string{}
	for _, who := range []string{readToken, adminToken} {
		for _, path := range []string{"/api/v1/exports", "/api/v1/exports/" + created.ID, "/api/v1/exports/" + created.ID + "/runs"} {
			rec := call(t, e, http.MethodGet, path, who, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
			}
			pages[who+" "+path] = rec.Body.String()
		}
	}
	for page, body := range pages {
		secrets := []string{"pw-s3cret", "tok-s3cret"}
		if strings.HasPrefix(page, readToken) || strings.HasSuffix(page, "/runs") {
			secrets = append(secrets, "path-s3cret", "bob")
		}
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("%s shows %s: %s", page, s, body)
			}
		}
	}
	if !strings.Contains(pages[readToken+" /api/v1/exports"], `"webhook_url":"http://127.0.0.1:9"`) {
		t.Errorf("readers do not see the host: %s", pages[readToken+" /api/v1/exports"])
	}
	if want := `"webhook_url":"http://bob:***@127.0.0.1:9/hooks/path-s3cret?token=***"`; !strings.Contains(pages[adminToken+" /api/v1/exports"], want) {
		t.Errorf("admins do not see %s: %s", want, pages[adminToken+" /api/v1/exports"])
	}
}
