package annotation

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
)

// Detected breaks: level changes found in a series by package breaks,
// kept as *suggested* annotations of kind "detected" (not real-world)
// until an admin accepts one (it becomes a real annotation) or dismisses
// it (it never comes back). Stored in detected_breaks (migration 0310),
// one row per change of state.

// KindDetected is the kind of an annotation that a detected break
// suggests, or that an accepted one became.
const KindDetected = "detected"

// Break states.
const (
	BreakSuggested = "suggested"
	BreakAccepted  = "accepted"
	BreakDismissed = "dismissed"
	// BreakWithdrawn: a later run over more data no longer finds it; it
	// is not listed, and it may be suggested again.
	BreakWithdrawn = "withdrawn"
)

// BreakStatuses lists the states a filter may ask for.
var BreakStatuses = []string{BreakSuggested, BreakAccepted, BreakDismissed}

// DetectedBreak is one level change of a daily series.
type DetectedBreak struct {
	ID        string `json:"id"`
	Assistant string `json:"assistant"`
	Channel   string `json:"channel"`
	Metric    string `json:"metric"` // the series: active_users
	// Day is the first day of the new level; RangeStart..RangeEnd the days
	// it may be (its date range of uncertainty).
	Day        string `json:"day"`
	RangeStart string `json:"range_start"`
	RangeEnd   string `json:"range_end"`
	// Before and After are the levels (a day, weekday cycle removed) on
	// either side.
	Before float64 `json:"before"`
	After  float64 `json:"after"`
	Status string  `json:"status"`
	// AnnotationID is the annotation an accepted break became.
	AnnotationID string    `json:"annotation_id"`
	DetectedAt   time.Time `json:"detected_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Change is After − Before.
func (b DetectedBreak) Change() float64 { return b.After - b.Before }

// ChangePct is the change in percent of Before (NaN from 0).
func (b DetectedBreak) ChangePct() float64 {
	if b.Before == 0 {
		return math.NaN()
	}
	return (b.After - b.Before) / b.Before * 100
}

// BreakID is the id of the break of a series starting on day.
func BreakID(assistant, channel, metric, day string) string {
	return "brk-" + assistant + "-" + channel + "-" + metric + "-" + strings.ReplaceAll(day, "-", "")
}

func name(slug string) string {
	if n, ok := catalog.Name(slug); ok {
		return n
	}
	return slug
}

// Title is the break in a line: "ChatGPT on WhatsApp: −612 people a day (−58 %)".
func (b DetectedBreak) Title() string {
	s := fmt.Sprintf("%s on %s: %s people a day", name(b.Assistant), name(b.Channel), signedCount(b.Change()))
	if p := b.ChangePct(); !math.IsNaN(p) {
		s += fmt.Sprintf(" (%s %%)", signedCount(p))
	} else {
		s += " (from none)"
	}
	return s
}

// Text describes the break for its annotation.
func (b DetectedBreak) Text() string {
	when := b.Day
	if b.RangeStart != b.RangeEnd {
		when = fmt.Sprintf("%s (between %s and %s)", b.Day, b.RangeStart, b.RangeEnd)
	}
	return fmt.Sprintf("Detected level change in daily active people: from about %s to about %s a day, first day of the new level %s.",
		count(b.Before), count(b.After), when)
}

// Annotation is the suggested annotation the break stands for: kind
// detected, not real-world, dated on its day, scoped to its series. Its
// id is the break's (it is not stored as an annotation until accepted).
func (b DetectedBreak) Annotation() Annotation {
	return Annotation{ID: b.ID, Start: b.Day, End: b.Day, Title: b.Title(), Text: b.Text(), Assistant: b.Assistant, Channel: b.Channel,
		Kind: KindDetected, RealWorld: false, CreatedAt: b.DetectedAt, UpdatedAt: b.UpdatedAt}
}

func signedCount(x float64) string {
	r := math.Round(x)
	switch {
	case r < 0:
		return "−" + count(-r)
	case r > 0:
		return "+" + count(r)
	}
	return "0"
}

func count(x float64) string {
	s := fmt.Sprint(uint64(math.Round(math.Max(x, 0))))
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// sameBreak reports whether a new finding n is the stored break o again:
// the same series and direction, and a day inside the other's range (one
// day of slack: more data moves the best day a little).
func sameBreak(o, n DetectedBreak) bool {
	if o.Assistant != n.Assistant || o.Channel != n.Channel || o.Metric != n.Metric || (o.Change() < 0) != (n.Change() < 0) {
		return false
	}
	in := func(day, from, to string) bool {
		d, _ := time.Parse(catalog.DateLayout, day)
		f, _ := time.Parse(catalog.DateLayout, from)
		t, _ := time.Parse(catalog.DateLayout, to)
		return !d.Before(f.AddDate(0, 0, -1)) && !d.After(t.AddDate(0, 0, 1))
	}
	return in(n.Day, o.RangeStart, o.RangeEnd) || in(o.Day, n.RangeStart, n.RangeEnd)
}

// ScannedSeries is a series a detection run read, over [From, To]: a
// suggestion of it that the run no longer finds (and that lies where the
// run could have found it) is withdrawn.
type ScannedSeries struct {
	Assistant, Channel, Metric string
	From, To                   string
	// Margin is how many days from either end a break cannot be found
	// (the shortest level).
	Margin int
}

// BreakRun says what RecordBreaks did.
type BreakRun struct {
	New, Updated, Withdrawn int
	// Ignored counts findings already accepted or dismissed.
	Ignored int
}

// RecordBreaks stores what a detection run found: a finding that matches a
// stored break (sameBreak) updates a suggested one, and is ignored when it
// was accepted or dismissed; any other finding is a new suggestion.
// Suggestions of a scanned series that the run no longer finds are
// withdrawn.
func (s *Service) RecordBreaks(ctx context.Context, found []DetectedBreak, scanned []ScannedSeries) (BreakRun, error) {
	var run BreakRun
	stored, err := s.breaks(ctx, "", nil)
	if err != nil {
		return run, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	matched := map[string]bool{}
	var writes []DetectedBreak
	for _, f := range found {
		var old *DetectedBreak
		for i := range stored {
			if stored[i].Status != BreakWithdrawn && sameBreak(stored[i], f) {
				old = &stored[i]
				break
			}
		}
		switch {
		case old == nil:
			f.ID = BreakID(f.Assistant, f.Channel, f.Metric, f.Day)
			f.Status, f.DetectedAt, f.UpdatedAt = BreakSuggested, now, now
			writes = append(writes, f)
			stored = append(stored, f)
			matched[f.ID] = true
			run.New++
		case old.Status == BreakSuggested:
			matched[old.ID] = true
			if old.Day != f.Day || old.RangeStart != f.RangeStart || old.RangeEnd != f.RangeEnd ||
				math.Abs(old.Before-f.Before) > 0.5 || math.Abs(old.After-f.After) > 0.5 {
				f.ID, f.Status, f.DetectedAt, f.UpdatedAt = old.ID, BreakSuggested, old.DetectedAt, now
				writes = append(writes, f)
				run.Updated++
			}
		default:
			matched[old.ID] = true
			run.Ignored++
		}
	}
	for _, b := range stored {
		if b.Status != BreakSuggested || matched[b.ID] {
			continue
		}
		for _, sc := range scanned {
			if sc.Assistant != b.Assistant || sc.Channel != b.Channel || sc.Metric != b.Metric {
				continue
			}
			from, _ := time.Parse(catalog.DateLayout, sc.From)
			to, _ := time.Parse(catalog.DateLayout, sc.To)
			day, _ := time.Parse(catalog.DateLayout, b.Day)
			if !day.Before(from.AddDate(0, 0, sc.Margin)) && !day.After(to.AddDate(0, 0, -sc.Margin)) {
				b.Status, b.UpdatedAt = BreakWithdrawn, now
				writes = append(writes, b)
				run.Withdrawn++
			}
			break
		}
	}
	return run, s.writeBreaks(ctx, writes)
}

// BreakFilter selects breaks: by status (empty: suggested and accepted),
// overlapping [From, To] (inclusive dates; empty: open), of a series
// (empty: any).
type BreakFilter struct {
	Status             string
	From, To           string
	Assistant, Channel string
}

// Breaks lists the breaks that match f, by day then series.
func (s *Service) Breaks(ctx context.Context, f BreakFilter) ([]DetectedBreak, error) {
	var errs []error
	if f.Status != "" && f.Status != BreakSuggested && f.Status != BreakAccepted && f.Status != BreakDismissed && f.Status != "all" {
		errs = append(errs, fmt.Errorf("status %q: want suggested, accepted, dismissed or all", f.Status))
	}
	if err := CheckFilter(Filter{From: f.From, To: f.To, Assistant: f.Assistant, Channel: f.Channel}, s.registry); err != nil {
		errs = append(errs, err)
	}
	if err := invalid(errs); err != nil {
		return nil, err
	}
	list, err := s.breaks(ctx, "", nil)
	if err != nil {
		return nil, err
	}
	out := []DetectedBreak{}
	for _, b := range list {
		switch {
		case b.Status == BreakWithdrawn:
			continue
		case f.Status == "" && b.Status == BreakDismissed:
			continue
		case f.Status != "" && f.Status != "all" && b.Status != f.Status:
			continue
		case f.From != "" && b.RangeEnd < f.From, f.To != "" && b.RangeStart > f.To:
			continue
		case f.Assistant != "" && b.Assistant != f.Assistant, f.Channel != "" && b.Channel != f.Channel:
			continue
		}
		out = append(out, b)
	}
	return out, nil
}

// Suggested is the suggested annotations (kind detected) of the breaks
// still waiting for an admin, overlapping [from, to] and in scope of
// assistant and channel (empty: any), for drawing on charts.
func (s *Service) Suggested(ctx context.Context, from, to, assistant, channel string) ([]Annotation, error) {
	list, err := s.Breaks(ctx, BreakFilter{Status: BreakSuggested, From: from, To: to, Assistant: assistant, Channel: channel})
	if err != nil {
		return nil, err
	}
	out := make([]Annotation, len(list))
	for i, b := range list {
		out[i] = b.Annotation()
	}
	return out, nil
}

// ErrBreakNotFound is an unknown break id.
var ErrBreakNotFound error = breakNotFound{}

type breakNotFound struct{}

func (breakNotFound) Error() string   { return "detected break not found" }
func (breakNotFound) HTTPStatus() int { return http.StatusNotFound }

// BreakStateError is an accept or dismiss of a break that is not waiting
// for one.
type BreakStateError struct{ ID, Status string }

func (e *BreakStateError) Error() string {
	return fmt.Sprintf("detected break %s is %s already: only a suggested break can be accepted or dismissed", e.ID, e.Status)
}
func (e *BreakStateError) HTTPStatus() int { return http.StatusConflict }

// GetBreak returns one break, or ErrBreakNotFound.
func (s *Service) GetBreak(ctx context.Context, id string) (DetectedBreak, error) {
	list, err := s.breaks(ctx, "WHERE id = ?", []any{id})
	if err != nil {
		return DetectedBreak{}, err
	}
	if len(list) == 0 || list[0].Status == BreakWithdrawn {
		return DetectedBreak{}, fmt.Errorf("%w: %q", ErrBreakNotFound, id)
	}
	return list[0], nil
}

// AcceptBreak turns a suggested break into a real annotation: the
// break's suggested annotation with what edit sets (title, text, link,
// kind, real_world; empty fields keep the suggestion's), saved through
// Save (so validated like any other), and the break marked accepted with
// the annotation's id. It returns the annotation.
func (s *Service) AcceptBreak(ctx context.Context, id string, edit Annotation) (Annotation, error) {
	b, err := s.GetBreak(ctx, id)
	if err != nil {
		return Annotation{}, err
	}
	if b.Status != BreakSuggested {
		return Annotation{}, &BreakStateError{ID: id, Status: b.Status}
	}
	a := b.Annotation()
	a.ID, a.CreatedAt, a.UpdatedAt = "", time.Time{}, time.Time{}
	if edit.Title != "" {
		a.Title = edit.Title
	}
	if edit.Text != "" {
		a.Text = edit.Text
	}
	if edit.Link != "" {
		a.Link = edit.Link
	}
	if edit.Kind != "" {
		a.Kind = edit.Kind
	}
	a.RealWorld = edit.RealWorld
	saved, err := s.Save(ctx, a)
	if err != nil {
		return Annotation{}, err
	}
	b.Status, b.AnnotationID, b.UpdatedAt = BreakAccepted, saved.ID, time.Now().UTC().Truncate(time.Second)
	return saved, s.writeBreaks(ctx, []DetectedBreak{b})
}

// DismissBreak marks a suggested break dismissed: it is no longer listed
// (unless asked for) and a later run finding it again ignores it.
func (s *Service) DismissBreak(ctx context.Context, id string) (DetectedBreak, error) {
	b, err := s.GetBreak(ctx, id)
	if err != nil {
		return b, err
	}
	if b.Status != BreakSuggested {
		return b, &BreakStateError{ID: id, Status: b.Status}
	}
	b.Status, b.UpdatedAt = BreakDismissed, time.Now().UTC().Truncate(time.Second)
	return b, s.writeBreaks(ctx, []DetectedBreak{b})
}

// BreakCounts counts the stored breaks by status (withdrawn ones
// included), for /metrics.
func (s *Service) BreakCounts(ctx context.Context) (map[string]int, error) {
	list, err := s.breaks(ctx, "", nil)
	if err != nil {
		return nil, err
	}
	out := map[string]int{BreakSuggested: 0, BreakAccepted: 0, BreakDismissed: 0, BreakWithdrawn: 0}
	for _, b := range list {
		out[b.Status]++
	}
	return out, nil
}

// latestBreaks is the latest version of every break.
const latestBreaks = `SELECT id, argMax(assistant, version), argMax(channel, version), argMax(metric, version),
       toString(argMax(day, version)) AS d, toString(argMax(range_start, version)), toString(argMax(range_end, version)),
       argMax(level_before, version), argMax(level_after, version), argMax(status, version), argMax(annotation_id, version),
       min(detected_at), argMax(updated_at, version)
FROM detected_breaks `

func (s *Service) breaks(ctx context.Context, where string, args []any) ([]DetectedBreak, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rows, err := s.store.Conn.Query(ctx, latestBreaks+where+" GROUP BY id ORDER BY d, id SETTINGS max_execution_time = 10", args...)
	if err != nil {
		return nil, fmt.Errorf("read detected breaks: %w", err)
	}
	defer rows.Close()
	var out []DetectedBreak
	for rows.Next() {
		var b DetectedBreak
		if err := rows.Scan(&b.ID, &b.Assistant, &b.Channel, &b.Metric, &b.Day, &b.RangeStart, &b.RangeEnd, &b.Before, &b.After,
			&b.Status, &b.AnnotationID, &b.DetectedAt, &b.UpdatedAt); err != nil {
			return nil, fmt.Errorf("read detected breaks: %w", err)
		}
		b.DetectedAt, b.UpdatedAt = b.DetectedAt.UTC(), b.UpdatedAt.UTC()
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read detected breaks: %w", err)
	}
	return out, nil
}

func (s *Service) writeBreaks(ctx context.Context, bs []DetectedBreak) error {
	if len(bs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	batch, err := s.store.Conn.PrepareBatch(ctx, "INSERT INTO detected_breaks (id, assistant, channel, metric, day, range_start, range_end, level_before, level_after, status, annotation_id, detected_at, updated_at, version)")
	if err != nil {
		return fmt.Errorf("save detected breaks: %w", err)
	}
	defer batch.Abort()
	for _, b := range bs {
		var dates [3]time.Time
		for i, d := range []string{b.Day, b.RangeStart, b.RangeEnd} {
			t, err := time.Parse(catalog.DateLayout, d)
			if err != nil {
				return fmt.Errorf("save detected break %s: %s: %w", b.ID, d, errors.New("want a date YYYY-MM-DD"))
			}
			dates[i] = t
		}
		if err := batch.Append(b.ID, b.Assistant, b.Channel, b.Metric, dates[0], dates[1], dates[2], b.Before, b.After,
			b.Status, b.AnnotationID, b.DetectedAt.UTC(), b.UpdatedAt.UTC(), version()); err != nil {
			return fmt.Errorf("save detected breaks: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("save detected breaks: %w", err)
	}
	return nil
}
