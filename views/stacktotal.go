package views

// DistinctTotalName names the line drawn over a stacked chart: the
// distinct people of the whole slice, which the stack's top is not.
const DistinctTotalName = "Distinct people, all channels"

// totalColor is the total line's colour: near-black, apart from every
// assistant's and channel's.
const totalColor = "#111827"

// AddTotalLine draws total over the stacked chart o (TimeChart options):
// an unstacked line, no area, dotted over the incomplete periods like the
// stack, and names it in the legend.
func AddTotalLine(o map[string]any, total Series, incomplete map[string]string, periods []string) {
	inc := map[int]bool{}
	for i, p := range periods {
		if _, ok := incomplete[p]; ok {
			inc[i] = true
		}
	}
	line := func(data []any, dotted bool) map[string]any {
		ls := map[string]any{"color": totalColor, "width": 2.5, "type": "solid"}
		if dotted {
			ls["type"] = "dotted"
		}
		return map[string]any{"type": "line", "name": total.Name, "data": data, "showSymbol": false, "connectNulls": false, "z": 5,
			"itemStyle": map[string]any{"color": totalColor}, "lineStyle": ls}
	}
	solid := make([]any, len(total.Values))
	dotted := make([]any, len(total.Values))
	for j, v := range total.Values {
		v = round(v, false)
		if !inc[j] {
			solid[j] = v
		}
		if inc[j] || inc[j-1] || inc[j+1] {
			dotted[j] = v
		}
	}
	ss := AsSlice(o["series"])
	ss = append(ss, line(solid, false))
	if len(inc) > 0 {
		ss = append(ss, line(dotted, true))
	}
	o["series"] = ss
	if lg, ok := asMap(o["legend"]); ok {
		if names, ok := lg["data"].([]string); ok {
			lg["data"] = append(names, total.Name)
		}
	}
}
