package views

import (
	"maps"
	"net/url"
	"slices"

	"github.com/a-h/templ"

	"github.com/adoptscope/adoptscope/catalog"
)

// Page is what the layout needs to know about the page it wraps.
type Page struct {
	Title       string
	Path        string // the nav entry shown as current
	Filters     FilterState
	ShowFilters bool
	// Extra are page-specific URL parameters (the Channel page's channel,
	// the Impact page's source): kept by the filter form as hidden fields.
	Extra url.Values
	// User and Role name who is signed in; AuthEnabled shows them with the
	// sign-out form (posted with CSRF).
	User, Role  string
	AuthEnabled bool
	CSRF        string
	Demo        bool
	Assistants  []string
	Channels    []string
	Notices     []string
	// CanCompare: the page draws the comparison when asked; other pages
	// hide the compare select rather than ignore it.
	CanCompare bool
	// Freshness is the "data through … (charts N s behind ingest)" line.
	Freshness string
	// ZoneNote, in the footer, says when the page's zone has no rollups
	// of its own and its charts read raw events (slower).
	ZoneNote string
	// EmptyHint, when a chart of the page had nothing to show, says once
	// why and what to do.
	EmptyHint string
	// Hide are the filter bar's controls the page has no use for
	// ("interval", "tz", "channel"), with HideWhy saying why; their URL
	// values are kept as hidden fields so that other pages keep them.
	Hide    []string
	HideWhy string
	// Countries are the countries present in the range (most people
	// first) that the country filter offers; CountriesErr says why they
	// could not be listed.
	Countries    []CountryChoice
	CountriesErr string
}

// CountryChoice is one country of the country filter: its code, English
// name and the people active there in the range.
type CountryChoice struct {
	Code, Name string
	People     uint64
}

// footerZone is the zone of the page's days: UTC on a page that hides
// the time zone (its numbers are on UTC days).
func (p Page) footerZone() string {
	if p.hides("tz") {
		return "UTC"
	}
	return p.Filters.zone()
}

// hides reports whether the page hides the filter control name.
func (p Page) hides(name string) bool { return slices.Contains(p.Hide, name) }

// countryChoices are p.Countries plus the countries of the URL that are
// not present in the range (0 people), so a link's choice stays visible.
func countryChoices(p Page) []CountryChoice {
	out := append([]CountryChoice(nil), p.Countries...)
	for _, c := range p.Filters.Countries {
		if !slices.ContainsFunc(out, func(x CountryChoice) bool { return x.Code == c }) {
			out = append(out, CountryChoice{Code: c, Name: catalog.CountryName(c)})
		}
	}
	return out
}

// FilterState is the filter bar as shown: the page's filters in the
// URL's words, and the choices the bar offers.
type FilterState struct {
	Range    string // a preset's Value, or "custom"
	From, To string // YYYY-MM-DD
	// Zone is the IANA zone of the page's days; "" is UTC.
	Zone                            string
	Interval                        string
	Assistants, Channels, Countries []string
	// Compare is the comparison drawn: "none", "previous" or "year".
	Compare string
	Partial bool
	// Errors are the URL parameters that could not be used, with the reason.
	Errors []string
	// Query is the page's filters as a URL query, kept by the nav links
	// between chart pages.
	Query string
	// Presets and Intervals are the choices of the range and interval
	// selects, in display order.
	Presets   []Choice
	Intervals []string
}

// CompareChoices are the choices of the filter bar's compare select.
var CompareChoices = []Choice{
	{"none", "No comparison"},
	{"previous", "Previous period"},
	{"year", "Same period a year earlier"},
}

// Choice is one option of a select.
type Choice struct{ Value, Label string }

func (f FilterState) zone() string {
	if f.Zone == "" {
		return "UTC"
	}
	return f.Zone
}

// Zones are the time zones the filter bar and the export form offer.
var Zones = []string{"UTC", "Europe/Paris", "Europe/London", "America/New_York", "America/Los_Angeles", "Asia/Kolkata", "Asia/Tokyo", "Africa/Cairo", "America/Sao_Paulo"}

// zoneChoices are the time zones the filter bar offers (the page's own
// first when it is another).
func zoneChoices(current string) []string {
	out := []string{}
	if current != "" && !slices.Contains(Zones, current) {
		out = append(out, current)
	}
	return append(out, Zones...)
}

type navEntry struct{ Path, Label string }

// nav is the menu, in order.
var nav = []navEntry{
	{"/", "Overview"},
	{"/compare", "Compare"},
	{"/channel", "Channel"},
	{"/impact", "Impact"},
	{"/overlap", "Overlap"},
	{"/retention", "Retention"},
	{"/lifecycle", "Lifecycle"},
	{"/countries", "Countries"},
	{"/modalities", "Modalities"},
	{"/panel", "Panel"},
	{"/annotations", "Annotations"},
	{"/ingest", "Ingest"},
	{"/exports", "Exports"},
	{"/alerts", "Alerts"},
}

// navHref keeps the filters when moving between chart pages.
func navHref(p Page, path string) templ.SafeURL {
	switch path {
	case "/annotations", "/ingest", "/exports", "/alerts":
		if z := p.Filters.zone(); z != "UTC" {
			return templ.SafeURL(path + "?" + url.Values{"tz": {z}}.Encode())
		}
		return templ.SafeURL(path)
	}
	return templ.SafeURL(path + "?" + p.Filters.Query)
}

// sortedKeys are the parameter names of v in order, so that a page's
// hidden fields come out the same on every request.
func sortedKeys(v url.Values) []string { return slices.Sorted(maps.Keys(v)) }
