// Package export runs scheduled CSV exports: definitions stored in
// ClickHouse, a scheduler that runs each scheduled run exactly once across
// processes and machines, CSV files written whole or not at all, optional
// webhook delivery, and the run history. See README.md in this folder for
// the exactly-once mechanism and its limits.
package export

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
)

// Kinds of query an export can run: the same parameters as the query API's
// /api/v1/series, /api/v1/migration, /api/v1/retention and
// /api/v1/lifecycle.
var Kinds = []string{"series", "migration", "retention", "lifecycle", "stickiness", "overlap", "countries"}

// Export is one scheduled export.
type Export struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Kind is series (default), migration, retention, lifecycle, stickiness, overlap or countries.
	Kind string `json:"kind"`
	// Query holds the query API parameters as a URL query string, for
	// example "metric=active_users&interval=day&by=assistant,channel".
	// from, to and format are set by the export itself.
	Query     string `json:"query"`
	Range     Range  `json:"range"`
	Schedule  string `json:"schedule"`
	Timezone  string `json:"timezone"`
	BOM       bool   `json:"bom"`
	Delimiter string `json:"delimiter"`
	SkipEmpty bool   `json:"skip_empty"`
	// Folder is a folder below the exports folder; empty: the export's name.
	Folder     string `json:"folder,omitempty"`
	WebhookURL string `json:"webhook_url,omitempty"`
	// WebhookSecret signs webhook deliveries; generated when a webhook URL
	// is given without one. Only shown when the export is created.
	WebhookSecret string    `json:"webhook_secret,omitempty"`
	Keep          int       `json:"keep"`
	CreatedAt     time.Time `json:"created_at"`
}

// DefaultKeep is how many files an export keeps when Keep is 0.
const DefaultKeep = 10

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidName reports whether name can be an export name. Names become file
// and folder names, so they are held to an allow-list: letters, digits, '.',
// '_' and '-', starting with a letter or digit, no "..", at most 64 bytes.
// A name such as "../../etc/x" or "a/b" is refused, never rewritten, so
// that what the user typed is what they find on disk.
func ValidName(name string) bool {
	return nameRe.MatchString(name) && !strings.Contains(name, "..")
}

// Normalize fills defaults and checks every field; the error names the
// field and how to fix it.
func (e *Export) Normalize() error {
	var errs []error
	e.Name = strings.TrimSpace(e.Name)
	if !ValidName(e.Name) {
		errs = append(errs, fmt.Errorf("name %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..' or slashes (it becomes a file name)", e.Name))
	}
	if e.Kind == "" {
		e.Kind = "series"
	}
	if !contains(Kinds, e.Kind) {
		errs = append(errs, fmt.Errorf("kind %q: want one of %s", e.Kind, strings.Join(Kinds, ", ")))
	}
	q, err := url.ParseQuery(strings.TrimPrefix(e.Query, "?"))
	if err != nil {
		errs = append(errs, fmt.Errorf("query %q: not a URL query string (want for example metric=active_users&interval=day&by=assistant)", e.Query))
	} else {
		// The query is first read as the query API reads it, from, to
		// and range included, so that a value the API refuses is refused
		// here with the same message; the export's own range then takes
		// the place of from, to and range.
		queryOK := true
		if contains(Kinds, e.Kind) {
			if err := checkQuery(e.Kind, q); err != nil {
				errs = append(errs, fmt.Errorf("query: %w", err))
				queryOK = false
			}
		}
		// A preset in the query (a chart's own encoding) keeps rolling
		// as the export's range, unless the export names one.
		if p := query.Preset(q.Get("range")); queryOK && e.Range == "" && p != "" && p != query.RangeCustom && p != query.RangeAll {
			e.Range = RangeOf(p, time.Time{}, time.Time{})
		}
		for _, k := range []string{"from", "to", "range", "format"} {
			q.Del(k)
		}
		// The export's days are counted in its time zone: a tz in the
		// query (a chart's) becomes the export's zone, or must agree
		// with it.
		if tz := q.Get("tz"); tz != "" {
			switch {
			case e.Timezone == "":
				e.Timezone = tz
			case !sameZone(tz, e.Timezone):
				errs = append(errs, fmt.Errorf("query tz=%s and timezone %s differ: the file's days and the schedule share the export's timezone; drop tz from the query or set timezone to %s", tz, e.Timezone, tz))
			}
			q.Del("tz")
		}
		if e.Kind == "series" && q.Get("metric") == "" {
			q.Set("metric", "active_users")
		}
		e.Query = q.Encode()
		if queryOK && contains(Kinds, e.Kind) {
			if err := checkQuery(e.Kind, e.Params(time.Now().UTC().AddDate(0, 0, -28), time.Now().UTC().AddDate(0, 0, -1))); err != nil {
				errs = append(errs, fmt.Errorf("query: %w", err))
			}
		}
	}
	if e.Range == "" {
		e.Range = "last_28_days"
	}
	if err := e.Range.Validate(); err != nil {
		errs = append(errs, err)
	}
	if e.Timezone == "" {
		e.Timezone = "UTC"
	}
	if _, err := ParseSchedule(e.Schedule, e.Timezone); err != nil {
		errs = append(errs, err)
	}
	switch e.Delimiter {
	case "":
		e.Delimiter = ","
	case ",", ";":
	default:
		errs = append(errs, fmt.Errorf("delimiter %q: want \",\" or \";\"", e.Delimiter))
	}
	if e.Folder != "" {
		f := filepath.Clean(e.Folder)
		if !filepath.IsLocal(f) {
			errs = append(errs, fmt.Errorf("folder %q: must be a relative path inside the exports folder (no '..', not absolute)", e.Folder))
		} else {
			for _, part := range strings.Split(filepath.ToSlash(f), "/") {
				if !ValidName(part) {
					errs = append(errs, fmt.Errorf("folder %q: each part must use letters, digits, '.', '_' or '-'", e.Folder))
					break
				}
			}
			e.Folder = f
		}
	}
	if e.WebhookURL != "" {
		u, err := url.Parse(e.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("webhook_url %q: want an http:// or https:// URL", e.WebhookURL))
		}
		if e.WebhookSecret == "" {
			e.WebhookSecret = randomHex(32)
		}
	}
	if e.Keep < 0 {
		errs = append(errs, fmt.Errorf("keep %d: want 0 (default %d) or more files to keep", e.Keep, DefaultKeep))
	}
	if e.Keep == 0 {
		e.Keep = DefaultKeep
	}
	return errors.Join(errs...)
}

// Sched is the parsed schedule of a normalized export.
func (e Export) Sched() Schedule {
	s, _ := ParseSchedule(e.Schedule, e.Timezone)
	return s
}

// Params are the query parameters of a run covering [from, to].
func (e Export) Params(from, to time.Time) url.Values {
	q, _ := url.ParseQuery(e.Query)
	if q == nil {
		q = url.Values{}
	}
	q.Set("from", from.Format(catalog.DateLayout))
	q.Set("to", to.Format(catalog.DateLayout))
	// A series', a lifecycle's, a retention's and a stickiness
	// distribution's days are the export's time zone's days (migration is
	// computed in UTC).
	if e.Kind != query.EndpointMigration && !sameZone(e.Timezone, "UTC") && q.Get("tz") == "" {
		q.Set("tz", e.Timezone)
	}
	return q
}

// sameZone reports whether two zone names mean the same zone ("" is UTC).
func sameZone(a, b string) bool {
	utc := func(s string) bool { return s == "" || s == "UTC" || s == "Etc/UTC" }
	return a == b || (utc(a) && utc(b))
}

// Dir is the folder holding the export's files below root (the exports
// folder). It is always inside root.
func (e Export) Dir(root string) (string, error) {
	sub := e.Folder
	if sub == "" {
		sub = e.Name
	}
	sub = filepath.Clean(sub)
	if !filepath.IsLocal(sub) || (e.Folder == "" && !ValidName(sub)) {
		return "", fmt.Errorf("export %q: folder %q is not inside the exports folder", e.Name, sub)
	}
	return filepath.Join(root, sub), nil
}

// FileName is the file a run over [from, to] writes.
func (e Export) FileName(from, to time.Time, synthetic bool) string {
	return query.CSVFileName(e.Name, from, to, synthetic)
}

// checkQuery parses the parameters as the query API does.
func checkQuery(kind string, p url.Values) error {
	var err error
	switch kind {
	case query.EndpointSeries:
		_, err = query.ParseSeries(p)
	case query.EndpointMigration:
		_, err = query.ParseMigration(p)
	case query.EndpointRetention:
		_, err = query.ParseRetention(p)
	case query.EndpointLifecycle:
		_, err = query.ParseLifecycle(p)
	case query.EndpointStickiness:
		_, err = query.ParseStickiness(p)
	case query.EndpointOverlap:
		_, err = query.ParseOverlap(p)
	case query.EndpointCountries:
		_, err = query.ParseCountries(p, time.Time{})
	}
	return err
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// NewID returns a fresh export or run id.
func NewID() string { return randomHex(8) }
