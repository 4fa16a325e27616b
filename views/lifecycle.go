package views

import "math"

// LifecycleView is the Lifecycle page: how to split it (the whole slice,
// by assistant, by channel), one chart per slice with its table, and what
// the bars mean.
type LifecycleView struct {
	Split []SplitLink
	// Note explains the four kinds and the quick ratio, once.
	Note   string
	Charts []Chart
	Empty  string
}

// SplitLink is one choice of the page's "split by" links.
type SplitLink struct {
	Label, Href string
	Current     bool
}

// LifecyclePeriod is one bar of a lifecycle chart: the people of a
// period by kind (Dormant is a positive count; the chart draws it below
// zero) and the quick ratio ((New + Resurrecting) / Dormant, nil when
// nobody is dormant).
type LifecyclePeriod struct {
	Period                                string
	New, Returning, Resurrecting, Dormant float64
	QuickRatio                            *float64
}

// Lifecycle kinds, in stacking order, with their colours: growth in
// greens and blue above the axis, the dormant in red below it.
var lifecycleKinds = []struct{ Name, Color string }{
	{"New", "#16a34a"},
	{"Returning", "#2563eb"},
	{"Resurrecting", "#f59e0b"},
	{"Dormant", "#dc2626"},
}

// LifecycleOptions draws periods as stacked bars: new, returning and
// resurrecting above zero, dormant below it; the periods of incomplete
// (not over, or cut by the range) are hatched and lighter, with the note
// in the tooltip; annotations as on the time charts.
func LifecycleOptions(periods []LifecyclePeriod, incomplete map[string]string, marks []Mark, interval string) map[string]any {
	labels := make([]string, len(periods))
	for i, p := range periods {
		labels[i] = p.Period
	}
	var series []any
	var legend []string
	for k, kind := range lifecycleKinds {
		data := make([]any, len(periods))
		for i, p := range periods {
			v := [4]float64{p.New, p.Returning, p.Resurrecting, -p.Dormant}[k]
			if _, ok := incomplete[p.Period]; ok {
				data[i] = map[string]any{"value": v, "itemStyle": map[string]any{"opacity": 0.45,
					"decal": map[string]any{"symbol": "rect", "symbolSize": 1, "dashArrayX": []any{1, 0}, "dashArrayY": []any{3, 5},
						"rotation": -math.Pi / 4, "color": "rgba(255,255,255,0.75)"}}}
			} else {
				data[i] = v
			}
		}
		legend = append(legend, kind.Name)
		series = append(series, map[string]any{"type": "bar", "name": kind.Name, "stack": "people", "data": data,
			"itemStyle": map[string]any{"color": kind.Color}, "emphasis": map[string]any{"focus": "series"}, "barMaxWidth": 36})
	}
	o := map[string]any{
		"tooltip": map[string]any{"show": true, "trigger": "axis", "axisPointer": map[string]any{"type": "shadow"}},
		"legend":  map[string]any{"show": true, "type": "plain", "top": "0", "left": "8", "data": legend},
		"toolbox": map[string]any{"show": true, "right": "0", "top": "0", "feature": map[string]any{
			"saveAsImage": map[string]any{"show": true, "type": "png", "title": "Save as PNG"}}},
		"grid":   map[string]any{"left": "8", "right": "40", "top": "56", "bottom": "8", "containLabel": true},
		"xAxis":  []any{map[string]any{"type": "category", "data": labels}},
		"yAxis":  []any{map[string]any{"type": "value", "axisLabel": map[string]any{"formatter": "{value}"}}},
		"series": series,
	}
	if len(marks) > 0 {
		addAnnotations(o, labels, marks, interval)
	}
	// kind time: the axis tooltip of the time charts, with the dormant
	// shown as the positive count they are.
	meta := map[string]any{"kind": "time", "percent": false, "abs": true}
	if len(incomplete) > 0 {
		meta["incomplete"] = incomplete
	}
	o["adoptscope"] = meta
	return o
}

// LifecycleTable lays the periods out as the chart's table: the four
// kinds, the active people (new + returning + resurrecting) and the quick
// ratio ("–" when nobody is dormant); incomplete periods are marked.
func LifecycleTable(periods []LifecyclePeriod, incomplete map[string]string) Table {
	t := Table{Head: []string{"period", "new", "returning", "resurrecting", "dormant", "active", "quick ratio"}}
	for _, p := range periods {
		label := p.Period
		if _, ok := incomplete[p.Period]; ok {
			label += " (incomplete)"
		}
		qr := "–"
		if p.QuickRatio != nil {
			qr = FormatRaw(*p.QuickRatio)
		}
		t.Rows = append(t.Rows, []string{label, FormatInt(p.New), FormatInt(p.Returning), FormatInt(p.Resurrecting), FormatInt(p.Dormant),
			FormatInt(p.New + p.Returning + p.Resurrecting), qr})
	}
	return t
}
