package app_test

// One test per fact of the catalog ("one rule per fact", ARCHITECTURE.md):
// the same value is sent to every adapter of one running process (ingest,
// the query API, the dashboard) and to the CLI, and each must accept it or
// refuse it with the same message, the catalog's. The composition root is
// the one place that may drive every adapter at once; the package's
// TestMain (scheduler_test.go) provides the ClickHouse server.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/app"
	"github.com/adoptscope/adoptscope/internal/cli"
	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

const rulesIngestToken = "rules-ingest-token-0123456789"

// rulesProduct is one running `adoptscope up` (without demo data) on a test
// database, with 2g_network added to the channel registry, and the CLI
// pointed at the same database.
type rulesProduct struct {
	base     string   // http://127.0.0.1:PORT
	channels string   // the configured channel registry, as the flag's value
	cliArgs  []string // the store flags of a CLI command
	reg      catalog.Registry
	client   *http.Client // with a cookie jar, for the dashboard's forms
}

func startRulesProduct(t *testing.T) *rulesProduct {
	t.Helper()
	s := chtest.NewStore(t)
	srv := chtest.Server(t)
	channels := strings.Join(append(append([]string(nil), catalog.DefaultChannels...), "2g_network"), ",")
	var cfg config.Config
	fs := flagSet()
	cfg.Bind(fs, config.HTTP|config.Data|config.ClickHouse|config.Tokens|config.Demo|config.Logging|config.Ingest)
	if err := fs.Parse([]string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--clickhouse-addr", srv.TCPAddr,
		"--clickhouse-database", s.Database, "--ingest-tokens", rulesIngestToken, "--demo", "off",
		"--ingest-flush-interval", "10ms", "--channels", channels}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- app.Run(ctx, cfg, app.Mode{Name: "up", Ingest: true, Web: true}, log, out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	const ready = "AdoptScope is running: "
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), ready) {
		select {
		case err := <-done:
			t.Fatalf("run ended before listening: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not listening after 60 s:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	line := out.String()[strings.Index(out.String(), ready)+len(ready):]
	base := strings.TrimSuffix(strings.TrimSpace(strings.SplitN(line, "\n", 2)[0]), "/")
	jar, _ := cookiejar.New(nil)
	return &rulesProduct{
		base: base, channels: channels, reg: cfg.Registry(),
		cliArgs: []string{"--data-dir", filepath.Join(t.TempDir(), "cli"), "--clickhouse-addr", srv.TCPAddr,
			"--clickhouse-database", s.Database, "--log-level", "error", "--channels", channels},
		client: &http.Client{Jar: jar, Timeout: 60 * time.Second},
	}
}

// ingest posts one event with channel and returns the status and the
// error of its field, if any.
func (p *rulesProduct) ingest(t *testing.T, id, channel string) (int, string) {
	t.Helper()
	ev, _ := json.Marshal(map[string]any{"event_id": id, "time": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339),
		"assistant": "chatgpt", "channel": channel, "user_id": "u-" + id})
	req, _ := http.NewRequest(http.MethodPost, p.base+"/v1/events", bytes.NewReader(ev))
	req.Header.Set("Authorization", "Bearer "+rulesIngestToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Accepted int
		Errors   []struct{ Field, Error string }
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("ingest answer: %v", err)
	}
	if len(body.Errors) > 0 {
		if body.Errors[0].Field != "channel" {
			t.Errorf("ingest refused field %q, want channel", body.Errors[0].Field)
		}
		return res.StatusCode, body.Errors[0].Error
	}
	if body.Accepted != 1 {
		t.Errorf("ingest accepted %d events, want 1", body.Accepted)
	}
	return res.StatusCode, ""
}

// api sends a request to the query API and returns the status and the
// error message of the answer, if any.
func (p *rulesProduct) api(t *testing.T, method, path string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e struct{ Error string }
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		if err := json.Unmarshal(b, &e); err != nil {
			t.Errorf("%s %s: %d %s is not a JSON error", method, path, res.StatusCode, b)
		}
	}
	return res.StatusCode, e.Error
}

// page gets a dashboard page and returns its status and document.
func (p *rulesProduct) page(t *testing.T, path string) (int, *goquery.Document) {
	t.Helper()
	res, err := p.client.Get(p.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	doc, err := goquery.NewDocumentFromReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, doc
}

// filterErrors are the filter bar's notices of a dashboard page, without
// the "Ignored: " the page puts before each.
func (p *rulesProduct) filterErrors(t *testing.T, query string) []string {
	t.Helper()
	code, doc := p.page(t, "/?"+query)
	if code != http.StatusOK {
		t.Errorf("dashboard /?%s: %d", query, code)
	}
	var out []string
	doc.Find(`[data-testid=filter-error]`).Each(func(_ int, s *goquery.Selection) {
		out = append(out, strings.TrimPrefix(strings.TrimSpace(s.Text()), "Ignored: "))
	})
	return out
}

// submitAnnotation posts the dashboard's annotation form and returns the
// status and the form's error, without the page's "Not saved: ".
func (p *rulesProduct) submitAnnotation(t *testing.T, channel string) (int, string) {
	t.Helper()
	return p.submitAnnotationTitled(t, "from the page", channel)
}

// submitAnnotationTitled is submitAnnotation with the title given.
func (p *rulesProduct) submitAnnotationTitled(t *testing.T, title, channel string) (int, string) {
	t.Helper()
	_, doc := p.page(t, "/annotations")
	csrf := doc.Find(`form[data-testid=annotation-form] input[name=_csrf]`).AttrOr("value", "")
	if csrf == "" {
		t.Fatal("no annotation form on the Annotations page")
	}
	res, err := p.client.PostForm(p.base+"/annotations", url.Values{"_csrf": {csrf}, "start": {"2026-01-15"},
		"title": {title}, "kind": {"shutdown"}, "channel": {channel}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	doc, err = goquery.NewDocumentFromReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	msg := strings.TrimSpace(doc.Find(`[data-testid=form-error]`).Text())
	return res.StatusCode, strings.TrimPrefix(msg, "Not saved: ")
}

// annotate runs `adoptscope annotate add` against the store.
func (p *rulesProduct) annotate(t *testing.T, channel string) (string, error) {
	t.Helper()
	return p.annotateTitled(t, "from the CLI", channel)
}

// annotateTitled is annotate with the title given.
func (p *rulesProduct) annotateTitled(t *testing.T, title, channel string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	args := append([]string{"annotate", "add"}, p.cliArgs...)
	args = append(args, "--start", "2026-01-15", "--title", title, "--channel", channel)
	err := cli.Run(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

// TestSlugRuleIsOneRule: a channel that is not a slug (2G-Network) is
// refused by ingest, the query API, the dashboard's filters and the CLI with
// catalog.CheckSlug's message; one that is (2g_network, configured) is
// accepted by all four. Before the catalog, ingest took 2g_network and the
// dashboard refused it.
func TestSlugRuleIsOneRule(t *testing.T) {
	p := startRulesProduct(t)
	const bad, good = "2G-Network", "2g_network"
	want := catalog.CheckSlug(catalog.Channel, bad).Error()

	if code, msg := p.ingest(t, "bad-slug", bad); code != http.StatusBadRequest || msg != want {
		t.Errorf("ingest %s: %d %q, want 400 %q", bad, code, msg, want)
	}
	if code, result, details := p.captureV1(t, "0190a2b3-c4d5-7e6f-8a9b-000000000001", bad); code != http.StatusOK || result != "drop" || details != "invalid_channel: "+want {
		t.Errorf("capture v1 %s: %d %s %q, want 200 drop %q", bad, code, result, details, "invalid_channel: "+want)
	}
	if code, msg := p.api(t, http.MethodGet, "/api/v1/series?channel="+bad, nil); code != http.StatusBadRequest || msg != want {
		t.Errorf("query API %s: %d %q, want 400 %q", bad, code, msg, want)
	}
	if errs := p.filterErrors(t, "channel="+bad); len(errs) != 1 || errs[0] != want {
		t.Errorf("dashboard filter %s: errors %q, want [%q]", bad, errs, want)
	}
	if out, err := p.annotate(t, bad); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("CLI --channel %s: %v (%s), want an error with %q", bad, err, out, want)
	}

	if code, msg := p.ingest(t, "good-slug", good); code != http.StatusOK || msg != "" {
		t.Errorf("ingest %s: %d %q, want 200", good, code, msg)
	}
	if code, result, _ := p.captureV1(t, "0190a2b3-c4d5-7e6f-8a9b-000000000002", good); code != http.StatusOK || result != "ok" {
		t.Errorf("capture v1 %s: %d %s, want 200 ok", good, code, result)
	}
	if code, msg := p.api(t, http.MethodGet, "/api/v1/series?channel="+good, nil); code != http.StatusOK {
		t.Errorf("query API %s: %d %q, want 200", good, code, msg)
	}
	if errs := p.filterErrors(t, "channel="+good); len(errs) != 0 {
		t.Errorf("dashboard filter %s: errors %q, want none", good, errs)
	}
	if out, err := p.annotate(t, good); err != nil || !strings.Contains(out, "saved annotation") {
		t.Errorf("CLI --channel %s: %v (%s), want it saved", good, err, out)
	}
}

// TestAnnotationScopeIsOneRule: an annotation scoped to a channel outside
// the configured registry (fax, a slug) is refused by the annotation API,
// the dashboard's form and the CLI with catalog.Registry.Check's message,
// the one ingest gives for an event on that channel. Before, the API and
// the page refused it with two different messages and the CLI only warned,
// against the default registry.
func TestAnnotationScopeIsOneRule(t *testing.T) {
	p := startRulesProduct(t)
	const unknown = "fax"
	want := p.reg.Check(catalog.Channel, unknown).Error()
	if !strings.HasPrefix(want, fmt.Sprintf("unknown channel %q", unknown)) {
		t.Fatalf("the registry's message %q", want)
	}

	if code, msg := p.ingest(t, "unknown-channel", unknown); code != http.StatusBadRequest || msg != want {
		t.Errorf("ingest %s: %d %q, want 400 %q", unknown, code, msg, want)
	}
	body := map[string]any{"start": "2026-01-15", "title": "from the API", "channel": unknown}
	if code, msg := p.api(t, http.MethodPost, "/api/v1/annotations", body); code != http.StatusBadRequest || msg != want {
		t.Errorf("annotation API %s: %d %q, want 400 %q", unknown, code, msg, want)
	}
	if code, msg := p.submitAnnotation(t, unknown); code != http.StatusBadRequest || msg != want {
		t.Errorf("annotation page %s: %d %q, want 400 %q", unknown, code, msg, want)
	}
	if out, err := p.annotate(t, unknown); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("CLI --channel %s: %v (%s), want an error with %q", unknown, err, out, want)
	}

	// The configured channel is a scope for all three.
	if code, msg := p.api(t, http.MethodPost, "/api/v1/annotations", map[string]any{"start": "2026-01-15", "title": "from the API", "channel": "2g_network"}); code != http.StatusCreated {
		t.Errorf("annotation API 2g_network: %d %q, want 201", code, msg)
	}
	if code, msg := p.submitAnnotation(t, "2g_network"); code != http.StatusOK || msg != "" {
		t.Errorf("annotation page 2g_network: %d %q, want the list again", code, msg)
	}
	if out, err := p.annotate(t, "2g_network"); err != nil {
		t.Errorf("CLI --channel 2g_network: %v (%s)", err, out)
	}
	res, err := p.client.Get(p.base + "/api/v1/annotations")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list struct{ Annotations []struct{ Channel string } }
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	for _, a := range list.Annotations {
		if a.Channel != "2g_network" {
			t.Errorf("an annotation on %q was stored", a.Channel)
		}
	}
	if len(list.Annotations) != 3 {
		t.Errorf("%d annotations stored, want the 3 on 2g_network", len(list.Annotations))
	}
}

func flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// syncBuffer is the process's stdout, read while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestControlCharacterIsOneRule: a title holding a control character
// ("\x00=1", which a spreadsheet reads as =1) is refused by the annotation
// API, the dashboard's form and the CLI with catalog.CheckPrintable's
// message, naming the field.
func TestControlCharacterIsOneRule(t *testing.T) {
	p := startRulesProduct(t)
	const title = "\x00=1"
	want := catalog.CheckPrintable("title", title, "").Error()
	if code, msg := p.api(t, http.MethodPost, "/api/v1/annotations", map[string]any{"start": "2026-01-15", "title": title}); code != http.StatusBadRequest || msg != want {
		t.Errorf("annotation API: %d %q, want 400 %q", code, msg, want)
	}
	if code, msg := p.submitAnnotationTitled(t, title, ""); code != http.StatusBadRequest || msg != want {
		t.Errorf("annotation page: %d %q, want 400 %q", code, msg, want)
	}
	if out, err := p.annotateTitled(t, title, ""); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("CLI: %v (%s), want an error with %q", err, out, want)
	}
}

// exportAPI creates a scheduled CSV export of a series with the query q
// through the exports API and returns the status and the error, if any.
func (p *rulesProduct) exportAPI(t *testing.T, name, q string) (int, string) {
	t.Helper()
	return p.api(t, http.MethodPost, "/api/v1/exports", map[string]any{"name": name, "query": q, "schedule": "0 6 * * MON"})
}

// exportCLI runs `adoptscope export add` with the query q against the
// store. A tz in the query is the export's --timezone too (the CLI's
// default, UTC, would be refused for disagreeing with it).
func (p *rulesProduct) exportCLI(t *testing.T, name, q string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	args := []string{"export", "add"}
	for i := 0; i < len(p.cliArgs); i += 2 {
		if p.cliArgs[i] != "--channels" { // not a flag of export add
			args = append(args, p.cliArgs[i], p.cliArgs[i+1])
		}
	}
	args = append(args, "--name", name, "--schedule", "0 6 * * MON", "--query", q)
	if v, err := url.ParseQuery(q); err == nil && v.Get("tz") != "" {
		args = append(args, "--timezone", v.Get("tz"))
	}
	err := cli.Run(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

// TestSliceParametersAreOneRule: the parameters of a slice (range, from,
// to, interval, tz, country, compare) mean the same on a dashboard page,
// in the query API, in a scheduled CSV export (through the exports API and
// the CLI's export add): each value is accepted by all four or refused by
// all four with the same message, query.ParseSlice's. Before, the page
// took compare=on, off and 1 (the API answered 400) and refused
// compare=none (the API took it), upper-cased country=fr (the API refused
// it), and took from=1990-01-01 (the API refused it; the page's charts then
// all failed); an export dropped from and to without reading them.
func TestSliceParametersAreOneRule(t *testing.T) {
	p := startRulesProduct(t)
	const bounds = "want a date from 2000-01-01 to 2100-12-31"
	for i, tc := range []struct {
		q    string
		want string // the message of the refusal; "" accepted
	}{
		{"compare=on", `parameter compare="on" is invalid: want one of none, previous, year`},
		{"compare=off", `parameter compare="off" is invalid: want one of none, previous, year`},
		{"compare=1", `parameter compare="1" is invalid: want one of none, previous, year`},
		{"compare=none", ""},
		{"compare=previous", ""},
		{"compare=true", ""}, // the boolean of links and exports from before the enum
		{"country=fr", catalog.CheckCountry("fr").Error()},
		{"country=FR", ""},
		{"from=1990-01-01", `from "1990-01-01": ` + bounds},
		{"from=1990-01-01&to=2026-01-05", `from "1990-01-01": ` + bounds},
		{"from=2026-01-01&to=2101-01-01", `to "2101-01-01": ` + bounds},
		{"from=2026-01-01&to=2026-01-31", ""},
		{"interval=year", `parameter interval="year" is invalid: want one of day, week, month`},
		{"interval=month", ""},
		{"tz=Mars/Olympus", `parameter tz="Mars/Olympus" is invalid: unknown time zone: want an IANA name such as Europe/Paris, or UTC`},
		{"tz=Europe/Paris", ""},
		{"range=5d", `parameter range="5d" is invalid: want one of 7d, 28d, 90d, 12m, all, custom`},
		{"range=90d", ""},
		{"range=all", ""},
	} {
		t.Run(tc.q, func(t *testing.T) {
			var errs []string
			if tc.want != "" {
				errs = []string{tc.want}
			}
			if got := p.filterErrors(t, tc.q); strings.Join(got, "\n") != strings.Join(errs, "\n") {
				t.Errorf("dashboard: errors %q, want %q", got, errs)
			}
			code, msg := p.api(t, http.MethodGet, "/api/v1/series?"+tc.q, nil)
			if (tc.want == "" && code != http.StatusOK) || (tc.want != "" && (code != http.StatusBadRequest || msg != tc.want)) {
				t.Errorf("query API: %d %q, want %q", code, msg, tc.want)
			}
			code, msg = p.exportAPI(t, fmt.Sprintf("rule_api_%d", i), tc.q)
			if (tc.want == "" && code != http.StatusCreated) || (tc.want != "" && (code != http.StatusBadRequest || !strings.Contains(msg, tc.want))) {
				t.Errorf("exports API: %d %q, want %q", code, msg, tc.want)
			}
			out, err := p.exportCLI(t, fmt.Sprintf("rule_cli_%d", i), tc.q)
			if (tc.want == "" && err != nil) || (tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want))) {
				t.Errorf("CLI export add: %v (%s), want %q", err, out, tc.want)
			}
		})
	}
	// An export's own range is held to the same date rule.
	const since = "since:1990-01-01"
	want := `range "since:1990-01-01": want since:YYYY-MM-DD with a date ` + catalog.DateBounds
	if code, msg := p.api(t, http.MethodPost, "/api/v1/exports", map[string]any{"name": "rule_since", "query": "metric=active_users",
		"range": since, "schedule": "0 6 * * MON"}); code != http.StatusBadRequest || !strings.Contains(msg, want) {
		t.Errorf("exports API range %s: %d %q, want %q", since, code, msg, want)
	}
}
