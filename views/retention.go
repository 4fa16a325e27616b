package views

import "math"

// RetentionAverageOptions is the average retention curve: xs are the
// periods since the first (unit, e.g. "weeks"), rates the average percent
// at each (NaN: no complete cell there, drawn as a gap), cohorts how many
// cohorts each point pools (in the tooltip's series name).
func RetentionAverageOptions(xs []string, unit string, rates []float64) map[string]any {
	data := make([]any, len(rates))
	for i, r := range rates {
		if math.IsNaN(r) {
			data[i] = nil
			continue
		}
		data[i] = round(r, true)
	}
	return map[string]any{
		"tooltip": map[string]any{"trigger": "axis", "confine": true},
		"grid":    map[string]any{"left": 8, "right": 24, "top": 16, "bottom": 28, "containLabel": true},
		"xAxis": map[string]any{"type": "category", "data": xs, "name": unit + " since", "nameLocation": "middle", "nameGap": 24,
			"boundaryGap": false},
		"yAxis": map[string]any{"type": "value", "min": 0, "max": 100, "axisLabel": map[string]any{"formatter": "{value} %"}},
		"series": []any{map[string]any{"name": "Average retention (%)", "type": "line", "data": data, "connectNulls": false,
			"showSymbol": len(xs) <= 30, "itemStyle": map[string]any{"color": "#1d4ed8"}, "lineStyle": map[string]any{"width": 2}}},
		"adoptscope": map[string]any{"height": 260},
	}
}
