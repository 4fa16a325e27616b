package views

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/adoptscope/adoptscope/catalog"
)

// Chart is one chart card: the ECharts options, the same numbers as a
// table, a CSV link to the query API, or an error or empty state instead.
type Chart struct {
	ID    string // DOM id and data-testid suffix; fixed per page
	Title string
	Note  string
	// Options are the ECharts options built with go-echarts; nil with Err
	// or Empty.
	Options map[string]any
	Table   Table
	CSV     string // download URL
	// Schedule is the "Schedule this as CSV" link (the export form
	// prefilled with the chart's query); "" shows none.
	Schedule string
	Err      string // readable error: the chart failed, the page did not
	Empty    string // what to do when there is nothing to show
	Small    bool   // small multiple
	// Compared, under the chart, says what its dashed lines are and the
	// window they were read from ("Dashed: the previous period, compared
	// with 2025-10-05 – 2025-11-04 …"); "" without a comparison.
	Compared string
}

// Table is a chart's data as rows of text.
type Table struct {
	Head []string
	Rows [][]string
}

// Failed is a chart that could not be computed.
func Failed(id, title string, err error) Chart {
	return Chart{ID: id, Title: title, Err: "This chart could not be loaded: " + err.Error()}
}

// Series is one named line of a time chart, aligned to the chart's periods.
// Color and Dashed, when set, override the palette (the Impact page tells
// the source assistant's other channels apart by channel).
type Series struct {
	Name   string
	Values []float64
	Color  string
	Dashed bool
}

// Mark is an annotation as a time chart draws it: a marker line on one
// day (Start == End or End empty) or a shaded range. Detected marks (breaks
// found in the data, not written by anyone) are drawn apart.
type Mark struct {
	Start, End  string // YYYY-MM-DD
	Title, Text string
	Detected    bool
}

// LineOptions builds a time chart whose periods are all complete (the
// Ingest page's minutes).
func LineOptions(periods []string, series []Series, stacked, percent bool, marks []Mark, interval string) map[string]any {
	return TimeChart{Periods: periods, Series: series, Stacked: stacked, Percent: percent, Marks: marks, Interval: interval}.Options()
}

// TimeChart is a time chart: one line per series over the periods,
// stacked areas when stacked, the annotations as marker lines (one day) or
// shaded areas (ranges). percent formats the axis as a share. incomplete
// maps the periods that are not over (or not all observed) to the note the
// tooltip shows; those stretches are drawn dotted, never as a fall.
type TimeChart struct {
	Periods    []string
	Series     []Series
	Stacked    bool
	Percent    bool
	Marks      []Mark
	Interval   string
	Incomplete map[string]string
	// PreviousFrom: series from this index on are the previous period
	// (drawn dashed, never split); 0 means none.
	PreviousFrom int
}

// Options are the chart's ECharts options.
func (tc TimeChart) Options() map[string]any {
	line := charts.NewLine()
	line.SetGlobalOptions(
		charts.WithInitializationOpts(opts.Initialization{Theme: "white"}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		// A plain legend: app.js wraps it onto as many rows as it needs
		// and moves the plot below it; it never pages series away.
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Type: "plain", Top: "0", Left: "8"}),
		charts.WithToolboxOpts(toolbox("0")),
		charts.WithGridOpts(opts.Grid{Left: "8", Right: "40", Top: "56", Bottom: "8", ContainLabel: opts.Bool(true)}),
		charts.WithXAxisOpts(opts.XAxis{Type: "category"}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value"}),
	)
	line.SetXAxis(tc.Periods)
	o := generic(line.JSON())
	inc := map[int]bool{}
	for i, p := range tc.Periods {
		if _, ok := tc.Incomplete[p]; ok {
			inc[i] = true
		}
	}
	var out []any
	var legend []string
	for i, s := range tc.Series {
		col := s.Color
		if col == "" {
			col = ColorOf(s.Name)
		}
		prev := tc.PreviousFrom > 0 && i >= tc.PreviousFrom
		style := "solid"
		if s.Dashed || prev {
			style = "dashed"
		}
		base := func(data []any, dotted bool) map[string]any {
			m := map[string]any{"type": "line", "name": s.Name, "data": data, "showSymbol": false, "connectNulls": false,
				"itemStyle": map[string]any{"color": col}}
			ls := map[string]any{"color": col, "type": style}
			if prev {
				ls["opacity"] = 0.7
			}
			if dotted {
				ls["type"], ls["width"] = "dotted", 2.5
			}
			m["lineStyle"] = ls
			if tc.Stacked {
				m["stack"] = "total"
				op := 0.6
				if dotted {
					m["stack"], op = "partial", 0.25
				}
				m["areaStyle"] = map[string]any{"opacity": op}
			}
			return m
		}
		legend = append(legend, s.Name)
		if prev || len(inc) == 0 {
			data := make([]any, len(s.Values))
			for j, v := range s.Values {
				data[j] = round(v, tc.Percent)
			}
			out = append(out, base(data, false))
			continue
		}
		solid := make([]any, len(s.Values))
		dotted := make([]any, len(s.Values))
		for j, v := range s.Values {
			v = round(v, tc.Percent)
			if !inc[j] {
				solid[j] = v
			}
			// The dotted stretch covers the incomplete periods and joins the
			// complete neighbours on either side.
			if inc[j] || inc[j-1] || inc[j+1] {
				dotted[j] = v
			}
		}
		out = append(out, base(solid, false), base(dotted, true))
	}
	o["series"] = out
	if lg, ok := asMap(o["legend"]); ok {
		lg["data"] = legend
	}
	o["xAxis"] = []any{map[string]any{"type": "category", "data": tc.Periods, "boundaryGap": false}}
	if len(tc.Marks) > 0 {
		addAnnotations(o, tc.Periods, tc.Marks, tc.Interval)
	}
	if tc.Percent {
		o["yAxis"] = []any{map[string]any{"type": "value", "max": 100, "axisLabel": map[string]any{"formatter": "{value} %"}}}
	}
	meta := map[string]any{"kind": "time", "percent": tc.Percent}
	if len(tc.Incomplete) > 0 {
		meta["incomplete"] = tc.Incomplete
	}
	o["adoptscope"] = meta
	return o
}

// generic turns go-echarts' typed options into plain maps (through their
// JSON form), so adapters can add what go-echarts has no type for.
func generic(o map[string]any) map[string]any {
	b, err := json.Marshal(o)
	if err != nil {
		panic(fmt.Sprintf("chart options: %v", err))
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("chart options: %v", err))
	}
	return out
}

// asMap is x as an options object, when it is one (pages adjust the
// options a builder made).
func asMap(x any) (map[string]any, bool) {
	m, ok := x.(map[string]any)
	return m, ok
}

// toolbox is the save-as-PNG button. Charts with a legend along the top put
// it below the legend (top), where a scrolling legend's pager cannot cover it.
func toolbox(top string) opts.Toolbox {
	return opts.Toolbox{Show: opts.Bool(true), Right: "0", Top: top, Feature: &opts.ToolBoxFeature{
		SaveAsImage: &opts.ToolBoxFeatureSaveAsImage{Show: opts.Bool(true), Type: "png", Title: "Save as PNG"},
	}}
}

// addAnnotations puts markLine (one day) and markArea (a range) items on
// the first series: drawn once, on top. Annotation dates move to the
// period that contains them, since a category axis only knows its labels.
func addAnnotations(o map[string]any, periods []string, anns []Mark, interval string) {
	ss, _ := o["series"].([]any)
	if len(ss) == 0 || len(periods) == 0 {
		return
	}
	first, ok := asMap(ss[0])
	if !ok {
		return
	}
	var areas []any
	// Annotations of the same period share one line and one label.
	type mark struct {
		titles, full []string
		detected     bool // every annotation of the mark is a detected break
	}
	marks := map[string]*mark{}
	var order []string
	for _, a := range anns {
		start := periodLabelOf(a.Start, interval)
		end := periodLabelOf(a.End, interval)
		if start == "" || end == "" || end < periods[0] || start > periods[len(periods)-1] {
			continue
		}
		full := a.Title
		if a.Text != "" {
			full += " — " + a.Text
		}
		if end == start {
			m, ok := marks[start]
			if !ok {
				m = &mark{detected: true}
				marks[start] = m
				order = append(order, start)
			}
			m.titles = append(m.titles, a.Title)
			m.full = append(m.full, full+" ("+a.Start+")")
			m.detected = m.detected && a.Detected
			continue
		}
		if start < periods[0] {
			start = periods[0]
		}
		if end > periods[len(periods)-1] {
			end = periods[len(periods)-1]
		}
		areas = append(areas, []any{map[string]any{"name": escapeFormatter(a.Title), "xAxis": start}, map[string]any{"xAxis": end}})
	}
	var lines []any
	for _, p := range order {
		m := marks[p]
		short := m.titles[0]
		if len(m.titles) > 1 {
			short += fmt.Sprintf(" (+%d more)", len(m.titles)-1)
		}
		line := map[string]any{"name": strings.Join(m.titles, " · "), "xAxis": p,
			"label":    map[string]any{"formatter": escapeFormatter(short)},
			"emphasis": map[string]any{"label": map[string]any{"formatter": escapeFormatter(strings.Join(m.full, "\n")), "width": 420, "overflow": "break"}}}
		if m.detected {
			// Found in the data, not written by anyone: dotted, a neutral
			// grey no assistant uses, its label marked as detected.
			line["lineStyle"] = map[string]any{"type": "dotted", "color": detectedColor, "width": 1.5}
			line["label"] = map[string]any{"formatter": escapeFormatter("◆ detected: " + short), "color": detectedColor}
		}
		lines = append(lines, line)
	}
	if len(lines) > 0 {
		first["markLine"] = map[string]any{"symbol": []string{"none", "none"}, "silent": false, "data": lines,
			"lineStyle": map[string]any{"type": "dashed", "color": "#b45309", "width": 1.5},
			"label":     map[string]any{"position": "insideEndTop", "color": "#92400e", "fontSize": 11, "width": 180, "overflow": "truncate"}}
	}
	if len(areas) > 0 {
		first["markArea"] = map[string]any{"silent": false, "data": areas,
			"itemStyle": map[string]any{"color": "rgba(180,83,9,0.07)"},
			// Range labels show on hover: several ranges would overlap.
			"label":    map[string]any{"show": false, "color": "#92400e", "fontSize": 11},
			"emphasis": map[string]any{"label": map[string]any{"show": true, "position": "insideTop"}}}
	}
}

// detectedColor draws detected breaks, apart from written annotations.
const detectedColor = "#57534e"

// markKindsOf says which kinds of marker a time chart's options draw, for
// the legend under the chart.
type markKindsOf struct{ written, grouped, detected bool }

func (k markKindsOf) any() bool { return k.written || k.detected }

func markKinds(o map[string]any) markKindsOf {
	var k markKindsOf
	for _, s := range AsSlice(o["series"]) {
		m, ok := asMap(s)
		if !ok {
			continue
		}
		if _, ok := m["markArea"]; ok {
			k.written = true
		}
		ml, ok := asMap(m["markLine"])
		if !ok {
			continue
		}
		for _, d := range AsSlice(ml["data"]) {
			line, ok := asMap(d)
			if !ok {
				continue
			}
			if _, ok := line["lineStyle"]; ok {
				k.detected = true
			} else {
				k.written = true
			}
			if l, ok := asMap(line["label"]); ok {
				if f, _ := l["formatter"].(string); strings.Contains(f, " more)") {
					k.grouped = true
				}
			}
		}
	}
	return k
}

// escapeFormatter keeps ECharts from reading {a}, {b}… in user text as
// template fields.
func escapeFormatter(s string) string {
	return strings.NewReplacer("{", "(", "}", ")").Replace(s)
}

// PeriodLabel is the label of the period that contains t: the day, the
// ISO week's Monday, or the first of the month, as YYYY-MM-DD.
func PeriodLabel(t time.Time, interval string) string {
	t = truncDay(t)
	switch interval {
	case "week":
		wd := (int(t.Weekday()) + 6) % 7 // Monday = 0
		t = t.AddDate(0, 0, -wd)
	case "month":
		t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return t.Format(catalog.DateLayout)
}

func periodLabelOf(date, interval string) string {
	t, err := time.Parse(catalog.DateLayout, date)
	if err != nil {
		return ""
	}
	return PeriodLabel(t, interval)
}

// sankeyOptions draws flows from one source node to outcomes.
func sankeyOptions(nodes []string, links []SankeyLink) map[string]any {
	s := charts.NewSankey()
	s.SetGlobalOptions(
		charts.WithInitializationOpts(opts.Initialization{Theme: "white"}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item"}),
		charts.WithToolboxOpts(toolbox("0")),
	)
	ns := make([]opts.SankeyNode, len(nodes))
	for i, n := range nodes {
		ns[i] = opts.SankeyNode{Name: n}
	}
	ls := make([]opts.SankeyLink, len(links))
	for i, l := range links {
		ls[i] = opts.SankeyLink{Source: l.From, Target: l.To, Value: float32(l.Value)}
	}
	s.AddSeries("Migration", ns, ls, charts.WithLabelOpts(opts.Label{Show: opts.Bool(true)}))
	o := generic(s.JSON())
	if ss, _ := o["series"].([]any); len(ss) == 1 {
		if m, ok := asMap(ss[0]); ok {
			m["emphasis"] = map[string]any{"focus": "adjacency"}
			m["left"], m["right"], m["top"], m["bottom"] = 8, 8, 36, 8
			// Outcome labels sit left of their nodes, over the flows, so
			// they fit on a phone as on a wide screen.
			if data, ok := m["data"].([]any); ok {
				for i, d := range data {
					if n, ok := asMap(d); ok && i > 0 {
						n["label"] = map[string]any{"position": "left"}
					}
				}
			}
			m["lineStyle"] = map[string]any{"color": "gradient", "opacity": 0.4}
			m["label"] = map[string]any{"show": true, "position": "right", "color": "#1f2937", "fontSize": 12}
			m["nodeGap"] = 12
		}
	}
	o["legend"] = map[string]any{"show": false}
	return o
}

// SankeyLink is one flow of a Sankey chart.
type SankeyLink struct {
	From, To string
	Value    float64
}

// heatmapOptions: x categories (weeks since), y categories (cohorts), and
// cells [x, y, value] with value a percent.
func heatmapOptions(xs, ys []string, cells [][3]float64) map[string]any {
	h := charts.NewHeatMap()
	h.SetGlobalOptions(
		charts.WithInitializationOpts(opts.Initialization{Theme: "white"}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true)}),
		charts.WithToolboxOpts(toolbox("0")),
		charts.WithXAxisOpts(opts.XAxis{Type: "category", Data: xs, Name: "weeks since first seen"}),
		charts.WithYAxisOpts(opts.YAxis{Type: "category", Data: ys, Inverse: opts.Bool(true)}),
		charts.WithVisualMapOpts(opts.VisualMap{Calculable: opts.Bool(true), Min: 0, Max: 100, Orient: "horizontal", Left: "center", Bottom: "0",
			InRange: &opts.VisualMapInRange{Color: []string{"#eff6ff", "#1d4ed8"}}}),
		charts.WithGridOpts(opts.Grid{Left: "8", Right: "16", Top: "40", Bottom: "64", ContainLabel: opts.Bool(true)}),
	)
	data := make([]opts.HeatMapData, len(cells))
	for i, c := range cells {
		data[i] = opts.HeatMapData{Value: [3]any{int(c[0]), int(c[1]), round(c[2], true)}}
	}
	h.AddSeries("Active again (%)", data, charts.WithLabelOpts(opts.Label{Show: opts.Bool(len(xs) <= 13 && len(ys) <= 16)}))
	o := generic(h.JSON())
	o["legend"] = map[string]any{"show": false}
	return o
}

// round is a chart value as drawn: a percent to 0.1, else to 0.01.
func round(v float64, percent bool) float64 {
	if percent {
		return math.Round(v*10) / 10
	}
	return math.Round(v*100) / 100
}

// FormatInt formats a count with thin grouping for tables and tiles.
func FormatInt(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// FormatPoints formats a change in percentage points to one decimal.
func FormatPoints(v float64) string { return fmt.Sprintf("%.1f pp", v) }

// FormatPercent formats a percentage to one decimal.
func FormatPercent(v float64) string { return fmt.Sprintf("%.1f %%", v) }

// SeriesTable lays a time chart out as a table: one row per period.
func SeriesTable(periods []string, series []Series, percent bool) Table {
	return SeriesTableMarked(periods, series, percent, nil)
}

// SeriesTableMarked is SeriesTable with the incomplete periods marked.
func SeriesTableMarked(periods []string, series []Series, percent bool, incomplete map[string]string) Table {
	t := Table{Head: append([]string{"period"}, names(series)...)}
	for i, p := range periods {
		label := p
		if note, ok := incomplete[p]; ok {
			label = p + " (" + strings.ToLower(note[:1]) + note[1:] + ")"
		}
		row := []string{label}
		for _, s := range series {
			if percent {
				row = append(row, FormatPercent(s.Values[i]))
			} else {
				row = append(row, FormatInt(s.Values[i]))
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// names are the names of ss, in order.
func names(ss []Series) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	return out
}

// FormatRaw is a number for data-value attributes (tests compare it).
func FormatRaw(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// QuietMarks hides the annotation labels of a small chart (they would
// cover it); hovering a line still shows its text.
func QuietMarks(o map[string]any) {
	ss, _ := o["series"].([]any)
	if len(ss) == 0 {
		return
	}
	first, ok := asMap(ss[0])
	if !ok {
		return
	}
	if ml, ok := asMap(first["markLine"]); ok {
		ml["label"] = map[string]any{"show": false}
		for _, d := range AsSlice(ml["data"]) {
			if m, ok := asMap(d); ok {
				if em, ok := asMap(m["emphasis"]); ok {
					if l, ok := asMap(em["label"]); ok {
						l["show"] = true
						l["position"] = "insideEndTop"
					}
				}
			}
		}
	}
}

// AsSlice is x as an options list, or nil.
func AsSlice(x any) []any {
	s, _ := x.([]any)
	return s
}

// PreviousSuffix names the previous period's line of a series, and
// YearSuffix the line of the same period a year earlier.
const (
	PreviousSuffix = " (previous period)"
	YearSuffix     = " (a year earlier)"
)

// ComparedSuffix is the suffix of the compared line for compare c
// ("previous" or "year").
func ComparedSuffix(c string) string {
	if c == "year" {
		return YearSuffix
	}
	return PreviousSuffix
}

func truncDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
