// Package alert tells people when adoption moves: rules on a chart's
// metric and slice, evaluated by the scheduler after each complete day or
// week, that notify webhooks, Slack-compatible webhooks and e-mail once
// when their condition becomes true and once when it stops holding.
package alert

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/query"
)

// Dependency is the platform dependency of the Channel page: the
// percentage of the assistant's people who reached it through channels
// its maker does not control (query.Dependency's Pct).
const Dependency query.Metric = "dependency"

// Metrics a rule may watch: the charts' metrics.
var Metrics = []query.Metric{query.ActiveUsers, query.Events, query.Share, query.NewUsers, Dependency}

// Conditions.
const (
	Threshold = "threshold" // the value is above or below Value
	Change    = "change"    // the change in percent against the comparison period is above or below Value
	Break     = "break"     // the break detector found a level change in the slice
)

// Directions.
const (
	Above = "above"
	Below = "below"
)

// Destination kinds.
const (
	KindWebhook = "webhook" // JSON body, signed like the exports' webhooks
	KindSlack   = "slack"   // a Slack-compatible incoming webhook: {"text": …}
	KindEmail   = "email"   // e-mail over SMTP
)

// Destination is where a rule's notifications go.
type Destination struct {
	Kind string `json:"kind"`
	// URL is the webhook's (webhook, slack).
	URL string `json:"url,omitempty"`
	// Secret signs a generic webhook's body (generated when empty).
	Secret string `json:"secret,omitempty"`
	// To is the e-mail address (email).
	To string `json:"to,omitempty"`
}

// Name is how a destination is shown in the history: the kind and the
// receiver's host or address, never a URL's path, query or password.
func (d Destination) Name() string {
	if d.Kind == KindEmail {
		return "email " + d.To
	}
	u := d.URL
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			rest = rest[:j]
		}
		if j := strings.LastIndex(rest, "@"); j >= 0 {
			rest = rest[j+1:]
		}
		u = u[:i+3] + rest
	}
	return d.Kind + " " + u
}

// Rule is one alert rule.
type Rule struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Metric    query.Metric   `json:"metric"`
	Interval  query.Interval `json:"interval"`
	Timezone  string         `json:"timezone"` // IANA zone of the days; "" is UTC
	Assistant string         `json:"assistant,omitempty"`
	Channel   string         `json:"channel,omitempty"`
	Country   string         `json:"country,omitempty"`
	Condition string         `json:"condition"`
	Direction string         `json:"direction,omitempty"`
	Value     float64        `json:"value"`
	To        []Destination  `json:"destinations"`
	Snooze    string         `json:"snooze_until,omitempty"` // YYYY-MM-DD: no notification for periods up to this day
	CreatedAt time.Time      `json:"created_at"`
}

// InvalidError is a rule that cannot be saved: a 400 naming each field.
type InvalidError struct{ Errs []error }

func (e *InvalidError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

// HTTPStatus is 400.
func (e *InvalidError) HTTPStatus() int { return http.StatusBadRequest }

// Location is the rule's zone.
func (r Rule) Location() *time.Location {
	if r.Timezone == "" {
		return time.UTC
	}
	if loc, err := time.LoadLocation(r.Timezone); err == nil {
		return loc
	}
	return time.UTC
}

// Filters is the rule's slice as query filters.
func (r Rule) Filters() query.Filters {
	var f query.Filters
	if r.Assistant != "" {
		f.Assistants = []string{r.Assistant}
	}
	if r.Channel != "" {
		f.Channels = []string{r.Channel}
	}
	if r.Country != "" {
		f.Countries = []string{r.Country}
	}
	return f
}

// Normalize fills defaults and checks every field against reg (the zero
// Registry is the defaults); the error is an *InvalidError.
func (r *Rule) Normalize(reg catalog.Registry) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" || len(r.Name) > 200 {
		bad("name: want 1-200 characters")
	}
	if r.Interval == "" {
		r.Interval = query.Day
	}
	if r.Interval != query.Day && r.Interval != query.Week {
		bad("interval %q: want day or week", r.Interval)
	}
	if r.Timezone == "UTC" {
		r.Timezone = ""
	}
	if r.Timezone != "" {
		if _, err := time.LoadLocation(r.Timezone); err != nil || strings.EqualFold(r.Timezone, "local") {
			bad("timezone %q: want an IANA zone such as Europe/Paris, or UTC", r.Timezone)
		}
	}
	for _, c := range []struct {
		kind catalog.Kind
		v    string
	}{{catalog.Assistant, r.Assistant}, {catalog.Channel, r.Channel}, {catalog.Country, r.Country}} {
		if c.v != "" {
			if err := reg.Check(c.kind, c.v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if r.Condition == Break && r.Metric == "" {
		r.Metric = query.ActiveUsers
	}
	okMetric := false
	for _, m := range Metrics {
		okMetric = okMetric || m == r.Metric
	}
	if !okMetric {
		bad("metric %q: want active_users, events, share, new_users or dependency", r.Metric)
	}
	if r.Metric == query.Share && r.Assistant == "" {
		bad("metric share: name an assistant (its share of the people of the rest of the slice)")
	}
	if r.Metric == Dependency && r.Assistant == "" {
		bad("metric dependency: name an assistant (the share of its people reached through channels its maker does not control)")
	}
	switch r.Condition {
	case Threshold, Change:
		if r.Direction != Above && r.Direction != Below {
			bad("direction %q: want above or below", r.Direction)
		}
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			bad("value: want a number")
		}
		if r.Condition == Change && r.Value <= -100 && r.Direction == Below {
			bad("value %g: a change below −100 %% never happens", r.Value)
		}
	case Break:
		if r.Assistant == "" || r.Channel == "" || r.Country != "" {
			bad("condition break: name one assistant and one channel, and no country (the detector watches each assistant × channel series)")
		}
		if r.Metric != query.ActiveUsers || r.Interval != query.Day {
			bad("condition break: the detector reads daily active people (metric active_users, interval day)")
		}
		r.Direction, r.Value = "", 0
	default:
		bad("condition %q: want threshold, change or break", r.Condition)
	}
	if r.Snooze != "" {
		if _, err := catalog.ParseDate("snooze_until", r.Snooze); err != nil {
			errs = append(errs, err)
		}
	}
	if len(r.To) == 0 || len(r.To) > 10 {
		bad("destinations: want 1-10")
	}
	for i := range r.To {
		d := &r.To[i]
		switch d.Kind {
		case KindWebhook, KindSlack:
			if !strings.HasPrefix(d.URL, "http://") && !strings.HasPrefix(d.URL, "https://") {
				bad("destinations[%d].url: want an http:// or https:// URL", i)
			}
			if d.Kind == KindWebhook && d.Secret == "" {
				d.Secret = NewSecret()
			}
			d.To = ""
		case KindEmail:
			a, err := mail.ParseAddress(d.To)
			if err != nil || a.Name != "" || a.Address != d.To {
				bad("destinations[%d].to %q: want one e-mail address such as pm@example.com", i, d.To)
			}
			d.URL, d.Secret = "", ""
		default:
			bad("destinations[%d].kind %q: want webhook, slack or email", i, d.Kind)
		}
	}
	if len(errs) > 0 {
		return &InvalidError{errs}
	}
	return nil
}

// Describe is the condition in words: "change below −50 % against the same weekday a week earlier".
func (r Rule) Describe() string {
	switch r.Condition {
	case Threshold:
		return fmt.Sprintf("%s %s %s", r.Metric, r.Direction, number(r.Value))
	case Change:
		return fmt.Sprintf("change %s %s %% against %s", r.Direction, signed(r.Value), r.comparisonWords())
	}
	return "a level change found by the break detector"
}

func (r Rule) comparisonWords() string {
	if r.Interval == query.Week {
		return "the previous week"
	}
	return "the same weekday a week earlier"
}

// SliceWords names the slice: "ChatGPT on WhatsApp in FR".
func (r Rule) SliceWords() string {
	s := "all assistants"
	if r.Assistant != "" {
		s = nameOf(r.Assistant)
	}
	if r.Channel != "" {
		s += " on " + nameOf(r.Channel)
	}
	if r.Country != "" {
		s += " in " + r.Country
	}
	return s
}

func nameOf(slug string) string {
	if n, ok := catalog.Name(slug); ok {
		return n
	}
	return slug
}

// Shown is r as a caller may see it: secrets never; webhook URLs (which
// often carry a token in their path or query) masked for admins, reduced
// to scheme and host for readers.
func (r Rule) Shown(admin bool) Rule {
	to := make([]Destination, len(r.To))
	for i, d := range r.To {
		d.Secret = ""
		if d.URL != "" {
			if admin {
				d.URL = export.RedactURL(d.URL)
			} else {
				d.URL = export.URLHost(d.URL)
			}
		}
		to[i] = d
	}
	r.To = to
	return r
}

// NewID returns a random rule or event id.
func NewID() string { return "al-" + randomHex(8) }

// NewSecret returns a webhook signing secret.
func NewSecret() string { return randomHex(24) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ErrNotFound is an unknown rule id.
var ErrNotFound error = notFound{}

type notFound struct{}

func (notFound) Error() string   { return "alert rule not found" }
func (notFound) HTTPStatus() int { return http.StatusNotFound }
