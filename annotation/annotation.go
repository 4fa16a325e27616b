// Package annotation keeps the dated notes drawn on time charts (launches,
// policy changes, shutdowns): their one validation, scope check included,
// and their storage. The query API, the dashboard, the CLI and the demo all
// go through a Service, so an annotation is accepted or refused the same
// way, with the same message, wherever it comes from.
package annotation

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/adoptscope/adoptscope/catalog"
)

// Kinds are the allowed values of Annotation.Kind. "detected" marks a
// level change found in the data (detected.go), suggested or accepted.
var Kinds = []string{"launch", "feature", "policy", "shutdown", "other", KindDetected}

// Annotation is a dated note drawn on time charts. Title and Text are user
// input: stored as given, escaped wherever they are shown.
type Annotation struct {
	ID        string    `json:"id"`
	Start     string    `json:"start"` // YYYY-MM-DD
	End       string    `json:"end"`   // YYYY-MM-DD, equal to Start for one day
	Title     string    `json:"title"`
	Text      string    `json:"text"`
	Link      string    `json:"link"`
	Assistant string    `json:"assistant"` // empty: all assistants
	Channel   string    `json:"channel"`   // empty: all channels
	Kind      string    `json:"kind"`
	RealWorld bool      `json:"real_world"` // a real-world fact; false: synthetic (demo scenario)
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Filter selects annotations that overlap [From, To] (inclusive dates,
// empty: open) and apply to Assistant and Channel (an annotation scoped to
// all matches every filter; empty filter: any scope).
type Filter struct {
	From, To           string
	Assistant, Channel string
}

// ErrNotFound is returned for an unknown or deleted id.
var ErrNotFound error = notFoundError{}

type notFoundError struct{}

func (notFoundError) Error() string   { return "annotation not found" }
func (notFoundError) HTTPStatus() int { return http.StatusNotFound }

// InvalidError is an annotation or a filter that breaks a rule; its
// message lists every problem. The API answers it 400, the page shows it
// above the form, the CLI prints it.
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string   { return e.Err.Error() }
func (e *InvalidError) Unwrap() error   { return e.Err }
func (e *InvalidError) HTTPStatus() int { return http.StatusBadRequest }

func invalid(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return &InvalidError{errors.Join(errs...)}
}

// Validate checks a against the rules and fills defaults (End = Start, Kind
// = other). The scope (assistant, channel) must be empty (all) or known to
// r. It returns nil or an *InvalidError.
func Validate(a *Annotation, r catalog.Registry) error {
	var errs []error
	a.Title = strings.TrimSpace(a.Title)
	start, err := checkDate("start", a.Start)
	if err != nil {
		errs = append(errs, err)
	}
	if a.End == "" {
		a.End = a.Start
	}
	end, err2 := checkDate("end", a.End)
	if err2 != nil {
		errs = append(errs, err2)
	}
	if err == nil && err2 == nil && end.Before(start) {
		errs = append(errs, fmt.Errorf("end %s is before start %s", a.End, a.Start))
	}
	switch n := utf8.RuneCountInString(a.Title); {
	case a.Title == "":
		errs = append(errs, errors.New("title: required"))
	case n > 200:
		errs = append(errs, fmt.Errorf("title: %d characters, at most 200", n))
	}
	if n := utf8.RuneCountInString(a.Text); n > 5000 {
		errs = append(errs, fmt.Errorf("text: %d characters, at most 5000", n))
	}
	if !utf8.ValidString(a.Title) || !utf8.ValidString(a.Text) {
		errs = append(errs, errors.New("title and text must be UTF-8"))
	}
	// No control characters (catalog.CheckPrintable); the text may hold
	// tabs and line breaks.
	if err := catalog.CheckPrintable("title", a.Title, ""); err != nil {
		errs = append(errs, err)
	}
	if err := catalog.CheckPrintable("text", a.Text, "\t\n\r"); err != nil {
		errs = append(errs, err)
	}
	if a.Link != "" {
		u, err := url.Parse(a.Link)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(a.Link) > 2000 {
			errs = append(errs, fmt.Errorf("link %q: want an http:// or https:// URL (at most 2000 bytes)", a.Link))
		}
	}
	errs = append(errs, scopeErrors(r, a.Assistant, a.Channel)...)
	if a.Kind == "" {
		a.Kind = "other"
	}
	if !slices.Contains(Kinds, a.Kind) {
		errs = append(errs, fmt.Errorf("kind %q: want one of %s", a.Kind, strings.Join(Kinds, ", ")))
	}
	if a.ID != "" && (len(a.ID) > 128 || !isID(a.ID)) {
		errs = append(errs, fmt.Errorf("id %q: letters, digits, '-' and '_', at most 128", a.ID))
	}
	return invalid(errs)
}

// CheckScope is the scope rule: assistant and channel are each empty (all)
// or a value of r (catalog.Registry.Check says why not). It returns nil or
// an *InvalidError.
func CheckScope(r catalog.Registry, assistant, channel string) error {
	return invalid(scopeErrors(r, assistant, channel))
}

func scopeErrors(r catalog.Registry, assistant, channel string) []error {
	var errs []error
	for _, s := range []struct {
		kind  catalog.Kind
		value string
	}{{catalog.Assistant, assistant}, {catalog.Channel, channel}} {
		if s.value == "" {
			continue
		}
		if err := r.Check(s.kind, s.value); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// CheckFilter checks the dates and the scope of f. It returns nil or an
// *InvalidError.
func CheckFilter(f Filter, r catalog.Registry) error {
	var errs []error
	for _, d := range []struct{ name, v string }{{"from", f.From}, {"to", f.To}} {
		if d.v == "" {
			continue
		}
		if _, err := checkDate(d.name, d.v); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, scopeErrors(r, f.Assistant, f.Channel)...)
	return invalid(errs)
}

// checkDate parses a date of an annotation or a filter by the catalog's
// one date rule (YYYY-MM-DD, from 2000-01-01 to 2100-12-31), the rule of
// every date a query takes.
func checkDate(name, s string) (time.Time, error) { return catalog.ParseDate(name, s) }

func isID(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

// NewID is a random id for a new annotation.
func NewID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// CSVHeader and CSVRecord give the CSV form shared by the API and the CLI.
var CSVHeader = []string{"id", "start", "end", "title", "text", "link", "assistant", "channel", "kind", "real_world", "created_at", "updated_at"}

// CSVRecord is a's CSV row, in CSVHeader order.
func CSVRecord(a Annotation) []string {
	return []string{a.ID, a.Start, a.End, cell(a.Title), cell(a.Text), cell(a.Link), a.Assistant, a.Channel, a.Kind,
		fmt.Sprint(a.RealWorld), a.CreatedAt.Format(time.RFC3339), a.UpdatedAt.Format(time.RFC3339)}
}

// cell keeps a spreadsheet from reading user text as a formula: a cell
// whose first character other than a control character or a space is
// = + - @, or that starts with a tab or a carriage return, gets a leading
// '. A spreadsheet skips the leading control characters ("\x00=1" is read
// as =1), so they do not hide the formula from this guard.
func cell(s string) string {
	if s == "" {
		return s
	}
	if s[0] == '\t' || s[0] == '\r' {
		return "'" + s
	}
	lead := strings.TrimLeftFunc(s, func(r rune) bool {
		_, _, ctl := catalog.ControlChar(string(r), "")
		return ctl || r == ' '
	})
	if lead != "" && strings.ContainsRune("=+-@", rune(lead[0])) {
		return "'" + s
	}
	return s
}
