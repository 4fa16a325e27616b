package views

import (
	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
)

// EstimateSeries is one group's population estimate per period: the
// value (nil where withheld), its 95 % interval and whether it is graded
// low (drawn hollow).
type EstimateSeries struct {
	Name      string
	Values    []*float64
	Low, High []float64
	Weak      []bool
}

// EstimateChart draws each series as a line with its interval as a band
// around it: points graded low are hollow, withheld ones absent (a gap).
func EstimateChart(periods []string, ss []EstimateSeries) map[string]any {
	line := charts.NewLine()
	line.SetGlobalOptions(
		charts.WithInitializationOpts(opts.Initialization{Theme: "white"}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Type: "plain", Top: "0", Left: "8"}),
		charts.WithToolboxOpts(toolbox("0")),
		charts.WithGridOpts(opts.Grid{Left: "8", Right: "40", Top: "56", Bottom: "8", ContainLabel: opts.Bool(true)}),
		charts.WithXAxisOpts(opts.XAxis{Type: "category"}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value"}),
	)
	line.SetXAxis(periods)
	o := generic(line.JSON())
	var series []any
	var legend []string
	for _, s := range ss {
		col := ColorOf(s.Name)
		low := make([]any, len(periods))
		band := make([]any, len(periods))
		data := make([]any, len(periods))
		for i := range periods {
			if i >= len(s.Values) || s.Values[i] == nil {
				low[i], band[i], data[i] = nil, nil, nil
				continue
			}
			low[i], band[i] = round(s.Low[i], false), round(s.High[i]-s.Low[i], false)
			point := map[string]any{"value": round(*s.Values[i], false)}
			if s.Weak[i] {
				point["symbol"] = "emptyCircle"
				point["symbolSize"] = 8
			}
			data[i] = point
		}
		stack := "band " + s.Name
		series = append(series,
			map[string]any{"type": "line", "name": s.Name + " 95 % low", "data": low, "stack": stack, "symbol": "none",
				"lineStyle": map[string]any{"opacity": 0}, "tooltip": map[string]any{"show": false}, "silent": true},
			map[string]any{"type": "line", "name": s.Name + " 95 % interval", "data": band, "stack": stack, "symbol": "none",
				"lineStyle": map[string]any{"opacity": 0}, "areaStyle": map[string]any{"color": col, "opacity": 0.15},
				"tooltip": map[string]any{"show": false}, "silent": true},
			map[string]any{"type": "line", "name": s.Name, "data": data, "showSymbol": true, "symbolSize": 4, "connectNulls": false,
				"itemStyle": map[string]any{"color": col}, "lineStyle": map[string]any{"color": col, "width": 2}},
		)
		legend = append(legend, s.Name)
	}
	o["series"] = series
	o["xAxis"] = []any{map[string]any{"type": "category", "data": periods, "boundaryGap": false}}
	if l, ok := asMap(o["legend"]); ok {
		l["data"] = legend
	}
	return o
}

// HistogramOptions draws counts per bucket as bars.
func HistogramOptions(buckets []string, counts []int, xName string) map[string]any {
	bar := charts.NewBar()
	bar.SetGlobalOptions(
		charts.WithInitializationOpts(opts.Initialization{Theme: "white"}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithToolboxOpts(toolbox("0")),
		charts.WithGridOpts(opts.Grid{Left: "8", Right: "24", Top: "32", Bottom: "8", ContainLabel: opts.Bool(true)}),
		charts.WithXAxisOpts(opts.XAxis{Type: "category", Name: xName, NameLocation: "middle", NameGap: 28}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "members"}),
	)
	data := make([]opts.BarData, len(counts))
	for i, c := range counts {
		data[i] = opts.BarData{Value: c}
	}
	bar.SetXAxis(buckets).AddSeries("members", data, charts.WithItemStyleOpts(opts.ItemStyle{Color: "#64748b"}))
	o := generic(bar.JSON())
	o["xAxis"] = []any{map[string]any{"type": "category", "data": buckets, "name": xName, "nameLocation": "middle", "nameGap": 28}}
	return o
}
