package dashboard

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/views"
)

// showCountriesPage: the countries of the page's slice ranked by active
// people, with the change against the comparison window (previous by
// default) and each country's share on each assistant, and a world map
// coloured by people, change or an assistant's share (color=, an
// allow-list). A country opens the Overview filtered on it.
func (h *Handler) showCountriesPage(c echo.Context) error {
	pr := h.chartRequest(c)
	// The ranking's change needs a comparison: the previous period unless
	// the URL chose one (compare=none shows none).
	if c.QueryParam("compare") == "" {
		pr.f.Compare = query.ComparePrevious
	}
	f := pr.f
	p := h.page(pr, "Countries", "/countries", f)
	p.CanCompare = true
	// Countries are counted over the whole range: no interval applies.
	p.Hide = []string{"interval"}
	p.HideWhy = "Countries count people over the whole range: no interval applies here (your choice is kept for the other pages)."
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	v := h.countriesView(c, pr, f, &p)
	p.Demo = h.demoShown(ctx, f)
	return h.render(pr, http.StatusOK, p, views.CountriesPage(v))
}

func (h *Handler) countriesView(c echo.Context, pr *pageRequest, f Filters, p *views.Page) views.CountriesView {
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	var v views.CountriesView
	sv := f.APIValues()
	sv.Del("interval")
	sv.Del("country") // the ranking lists the countries a country filter picks from
	sv.Del("exact")
	sv.Del("partial")
	if f.Compare.On() {
		sv.Set("compare", string(f.Compare))
	}
	var first time.Time // range=all starts on the data's first day
	if fr := h.fresh(pr); fr.Known {
		first = fr.Q.FirstDay(f.Location())
	}
	sl, err := query.ParseCountries(sv, first)
	if err != nil {
		v.Err = err.Error()
		return v
	}
	res, err := query.CountryRanking(ctx, h.opts.Store, sl, h.opts.Now())
	if err != nil {
		v.Err = h.readableErr(pr.c, "countries", err).Error()
		return v
	}
	v.CSV = apiURL("countries", sv)
	v.Schedule = scheduleURL(v.CSV, "Countries", f.Range)
	if !res.CompareFrom.IsZero() {
		v.Compared = fmt.Sprintf("Change: against %s – %s (%s).", res.CompareFrom.Format("2006-01-02"), res.CompareTo.Format("2006-01-02"), compareWord(res.Compare))
	}
	// The map's measure.
	color := c.QueryParam("color")
	measures := []struct{ key, label string }{{"people", "People"}}
	if res.Compare.On() {
		measures = append(measures, struct{ key, label string }{"change", "Change"})
	}
	for _, a := range res.Assistants {
		measures = append(measures, struct{ key, label string }{"share_" + a, "Share on " + views.Label(a)})
	}
	known := false
	for _, m := range measures {
		known = known || m.key == color
	}
	if !known {
		if color != "" {
			p.Notices = append(p.Notices, fmt.Sprintf("color=%q is not a measure of the map: want people, change or share_<assistant>; showing people.", color))
		}
		color = "people"
	}
	for _, m := range measures {
		v.Colors = append(v.Colors, views.SplitLink{Label: m.label, Href: pageURL("/countries", f, url.Values{"color": {m.key}}), Current: m.key == color})
	}
	overview := func(code string) string {
		return pageURL("/", f, url.Values{"country": {code}})
	}
	v.Heads = []string{"#", "Country", "People"}
	if v.Compared != "" {
		v.Heads = append(v.Heads, "Before", "Change")
	}
	for _, a := range res.Assistants {
		v.Heads = append(v.Heads, views.Label(a)+" %")
	}
	var values []views.MapValue
	for i, ct := range res.Countries {
		row := views.CountryRow{Rank: i + 1, Name: ct.Name, Code: ct.Code, Href: overview(ct.Code), People: views.FormatInt(float64(ct.People)), Change: "—"}
		if ct.Previous != nil {
			row.Previous = views.FormatInt(float64(*ct.Previous))
		}
		if ct.ChangePct != nil {
			row.Change = fmt.Sprintf("%+.1f %%", *ct.ChangePct)
			row.ChangeFalling = *ct.ChangePct < 0
		}
		for _, sh := range ct.SharePct {
			row.Shares = append(row.Shares, views.FormatPercent(sh))
		}
		v.Rows = append(v.Rows, row)
		mv := views.MapValue{Code: ct.Code, Name: ct.Name}
		switch {
		case color == "people":
			mv.Value = float64(ct.People)
		case color == "change":
			if ct.ChangePct == nil {
				continue // no people before: no change to colour
			}
			mv.Value = *ct.ChangePct
		default:
			for j, a := range res.Assistants {
				if "share_"+a == color {
					mv.Value = ct.SharePct[j]
				}
			}
		}
		values = append(values, mv)
	}
	if len(res.Countries) == 0 {
		v.Empty = noData(pr, "No country has people in these dates and filters.")
	}
	title, unit, diverging := "Active people by country", "", false
	switch {
	case color == "change":
		title, unit, diverging = "Change in active people by country", "%", true
	case strings.HasPrefix(color, "share_"):
		title, unit = "Share of each country's people on "+views.Label(strings.TrimPrefix(color, "share_")), "%"
	}
	v.Map = views.Chart{ID: "countries-map", Title: title, Note: "Grey: no people in the range (or, for the change, none before). Click a country to open the Overview for it alone."}
	if v.Empty != "" {
		v.Map.Empty = v.Empty
	} else {
		v.Map.Options = views.WorldMapOptions(values, title, unit, diverging, strings.Replace(pageURL("/", f, url.Values{"country": {"{name}"}}), url.QueryEscape("{name}"), "{name}", 1))
	}
	return v
}

// compareWord names a comparison in a sentence.
func compareWord(c query.Compare) string {
	if c == query.CompareYear {
		return "a year before"
	}
	return "the previous period of the same length, weekdays facing weekdays"
}
