package views

import "math"

// MapValue is one country on the world map: its ISO alpha-2 code (the map
// data's feature name), its name, and the value it is coloured by.
type MapValue struct {
	Code, Name string
	Value      float64
}

// WorldMapName is the name the world map's borders are registered under
// (views/static/world.json, fetched by app.js before the chart is drawn).
const WorldMapName = "world"

// WorldMapOptions colours the world map by values: a sequential scale from
// 0 for counts and shares, a diverging one centred on 0 for a change
// (diverging); unit is "%" for percentages. Clicking a country opens
// click with {name} replaced by its code.
func WorldMapOptions(values []MapValue, seriesName, unit string, diverging bool, click string) map[string]any {
	lo, hi := 0.0, 0.0
	nameMap := map[string]string{}
	data := make([]any, 0, len(values))
	for _, v := range values {
		hi = math.Max(hi, v.Value)
		lo = math.Min(lo, v.Value)
		nameMap[v.Code] = v.Name
		data = append(data, map[string]any{"name": v.Name, "value": round(v.Value, unit == "%"), "code": v.Code})
	}
	colors := []string{"#eff6ff", "#1d4ed8"}
	if diverging {
		m := math.Max(math.Max(-lo, hi), 1)
		lo, hi = -m, m
		colors = []string{"#b91c1c", "#f8fafc", "#15803d"}
	}
	if hi <= lo {
		hi = lo + 1
	}
	formatter := "{b}: {c}"
	if unit != "" {
		formatter += " " + unit
	}
	return map[string]any{
		"tooltip": map[string]any{"trigger": "item", "confine": true, "formatter": formatter},
		"visualMap": map[string]any{"type": "continuous", "min": lo, "max": hi, "calculable": true, "orient": "horizontal", "left": "center", "bottom": 0,
			"inRange": map[string]any{"color": colors}},
		"series": []any{map[string]any{"name": seriesName, "type": "map", "map": WorldMapName, "roam": false, "nameMap": nameMap,
			"itemStyle": map[string]any{"areaColor": "#e5e7eb", "borderColor": "#ffffff", "borderWidth": 0.5},
			"emphasis":  map[string]any{"label": map[string]any{"show": false}, "itemStyle": map[string]any{"areaColor": "#f59e0b"}},
			"select":    map[string]any{"disabled": true},
			"top":       8, "bottom": 48, "data": data}},
		"adoptscope": map[string]any{"kind": "map", "map": WorldMapName, "geo": StaticURL("world.json"), "click": click, "height": 420},
	}
}
