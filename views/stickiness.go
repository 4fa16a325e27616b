package views

import "fmt"

// StickinessCurve is one assistant's distribution of days active in a
// 7-day window: SharePct[i] is the percent of its People active on i+1 of
// the days; PowerPct the percent active on at least the power days.
type StickinessCurve struct {
	Name     string
	People   uint64
	SharePct []float64
	PowerPct float64
}

// StickinessOptions draws one line per assistant over the days active (1 …
// n) and lays the same numbers out as a table, with each assistant's people
// and power users.
func StickinessOptions(curves []StickinessCurve, powerDays int) (map[string]any, Table) {
	var xs []string
	if len(curves) > 0 {
		for i := range curves[0].SharePct {
			xs = append(xs, fmt.Sprint(i+1))
		}
	}
	var series []any
	t := Table{Head: append(append([]string{"Assistant", "People"}, prefixed("days ", xs)...), fmt.Sprintf("≥ %d days", powerDays))}
	for _, c := range curves {
		data := make([]any, len(c.SharePct))
		row := []string{c.Name, FormatInt(float64(c.People))}
		for j, v := range c.SharePct {
			data[j] = round(v, true)
			row = append(row, FormatPercent(v))
		}
		row = append(row, FormatPercent(c.PowerPct))
		t.Rows = append(t.Rows, row)
		series = append(series, map[string]any{"name": fmt.Sprintf("%s (≥ %d days: %s)", c.Name, powerDays, FormatPercent(c.PowerPct)), "type": "line", "data": data,
			"itemStyle": map[string]any{"color": ColorOf(c.Name)}, "lineStyle": map[string]any{"width": 2}})
	}
	return map[string]any{
		"tooltip": map[string]any{"trigger": "axis", "confine": true},
		"legend":  map[string]any{"type": "plain", "top": 0},
		"grid":    map[string]any{"left": 8, "right": 24, "top": 36, "bottom": 28, "containLabel": true},
		"xAxis": map[string]any{"type": "category", "data": xs, "name": "days active of 7", "nameLocation": "middle", "nameGap": 24,
			"boundaryGap": false},
		"yAxis":      map[string]any{"type": "value", "min": 0, "axisLabel": map[string]any{"formatter": "{value} %"}},
		"series":     series,
		"adoptscope": map[string]any{"height": 280, "kind": "curve"},
	}, t
}

func prefixed(p string, xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = p + x
	}
	return out
}
