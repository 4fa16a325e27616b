package views

import (
	"fmt"
	"math"
)

// The charts of one page each: their ECharts options from plain values
// the handler computed (the numbers, the tooltip sentences).

// MatrixCell is one cell of the overlap matrix: column X, row Y, the
// share in percent and the sentence its tooltip shows.
type MatrixCell struct {
	X, Y int
	Pct  float64
	Tip  string
	// Lift is the pair's lift (query.Lift); NaN when undefined.
	Lift float64
}

// OverlapMatrixOptions is a heatmap of labels × labels: each cell named by
// its sentence (the tooltip) and labelled with its percentage; the axis
// names say how to read a cell.
func OverlapMatrixOptions(labels []string, cells []MatrixCell) map[string]any {
	raw := make([][3]float64, len(cells))
	for i, c := range cells {
		raw[i] = [3]float64{float64(c.X), float64(c.Y), c.Pct}
	}
	o := heatmapOptions(labels, labels, raw)
	name := func(key, n, loc string, gap int) {
		ax, ok := asMap(o[key])
		if !ok {
			if xs := AsSlice(o[key]); len(xs) > 0 {
				ax, ok = asMap(xs[0])
			}
		}
		if ok {
			ax["name"], ax["nameLocation"], ax["nameGap"] = n, loc, gap
			// Every assistant named, also on a phone, where a cell is
			// about 60 px wide.
			ax["axisLabel"] = map[string]any{"interval": 0, "fontSize": 11, "width": 64, "overflow": "truncate"}
		}
	}
	name("xAxis", "also active on →", "middle", 28)
	name("yAxis", "people of ↓", "start", 12)
	o["tooltip"] = map[string]any{"show": true, "confine": true, "formatter": "{b}"}
	// Room under the plot for the x axis' name above the colour scale.
	setGridBottom(o, 92)
	if ss := AsSlice(o["series"]); len(ss) == 1 {
		if sr, ok := asMap(ss[0]); ok {
			sr["name"] = "Also active on (%)"
			data := make([]any, len(cells))
			for k, c := range cells {
				data[k] = map[string]any{"name": c.Tip, "value": []any{c.X, c.Y, round(c.Pct, true)}}
			}
			sr["data"] = data
			sr["label"] = map[string]any{"show": true, "formatter": "{@[2]} %"}
		}
	}
	return o
}

// OverlapLiftOptions is the overlap matrix coloured by lift: a diverging
// scale centred on 1 (chance), blue below, red above, each cell labelled
// with its lift.
func OverlapLiftOptions(labels []string, cells []MatrixCell) map[string]any {
	o := OverlapMatrixOptions(labels, cells)
	top := 2.0
	for _, c := range cells {
		if !math.IsNaN(c.Lift) && c.Lift > top {
			top = math.Ceil(c.Lift)
		}
	}
	if vm, ok := asMap(o["visualMap"]); ok {
		setLiftScale(vm, top)
	} else if vms := AsSlice(o["visualMap"]); len(vms) > 0 {
		if vm, ok := asMap(vms[0]); ok {
			setLiftScale(vm, top)
		}
	}
	if ss := AsSlice(o["series"]); len(ss) == 1 {
		if sr, ok := asMap(ss[0]); ok {
			sr["name"] = "Lift"
			data := make([]any, 0, len(cells))
			for _, c := range cells {
				if math.IsNaN(c.Lift) {
					continue
				}
				data = append(data, map[string]any{"name": c.Tip, "value": []any{c.X, c.Y, math.Round(c.Lift*100) / 100}})
			}
			sr["data"] = data
			sr["label"] = map[string]any{"show": true, "formatter": "{@[2]}×"}
		}
	}
	return o
}

func setLiftScale(vm map[string]any, top float64) {
	vm["min"], vm["max"] = 0, top
	vm["inRange"] = map[string]any{"color": []string{"#1d4ed8", "#f8fafc", "#b91c1c"}}
	vm["text"] = []string{fmt.Sprintf("%g×", top), "0×"}
}

func setGridBottom(o map[string]any, bottom int) {
	if g, ok := asMap(o["grid"]); ok {
		g["bottom"] = bottom
	} else if gs := AsSlice(o["grid"]); len(gs) > 0 {
		if g, ok := asMap(gs[0]); ok {
			g["bottom"] = bottom
		}
	}
}

// ExclusiveSharedOptions are horizontal bars, one per label, stacking the
// people active on it only and those also active on another.
func ExclusiveSharedOptions(labels []string, exclusive, shared []float64) map[string]any {
	return map[string]any{
		"tooltip": map[string]any{"trigger": "axis", "axisPointer": map[string]any{"type": "shadow"}},
		"legend":  map[string]any{"data": []string{"exclusive", "shared"}, "top": 0},
		"grid":    map[string]any{"left": 8, "right": 16, "top": 32, "bottom": 8, "containLabel": true},
		"xAxis":   map[string]any{"type": "value", "name": "people"},
		"yAxis":   map[string]any{"type": "category", "data": labels, "inverse": true},
		"series": []any{
			map[string]any{"name": "exclusive", "type": "bar", "stack": "people", "data": exclusive, "itemStyle": map[string]any{"color": "#1d4ed8"}},
			map[string]any{"name": "shared", "type": "bar", "stack": "people", "data": shared, "itemStyle": map[string]any{"color": "#93c5fd"}},
		},
	}
}

// CohortRow is one row of the retention heatmap: its label (a small or
// left-censored cohort carries its mark in it). Rows are never muted: the
// colour of a cell is its rate alone.
type CohortRow struct {
	Label string
}

// RetentionCell is one cell of the retention heatmap: X periods after
// the first of cohort row Y, the share of the cohort active again, and
// what its tooltip says.
type RetentionCell struct {
	X, Y int
	Pct  float64
	// Incomplete: the period is not over (dashed amber border); Small:
	// the cohort is small (dotted grey outline). Neither changes the
	// cell's colour, which is the rate.
	Incomplete, Small    bool
	Cohort, Size, Offset string
	Users, Note          string
}

// RetentionOptions is the cohort heatmap: xs are the periods since
// (unit, e.g. "weeks"), one row per cohort, the cells in rows' order.
func RetentionOptions(xs []string, unit string, rows []CohortRow, cells []RetentionCell) map[string]any {
	var ys []any
	for _, r := range rows {
		ys = append(ys, r.Label)
	}
	var data []any
	meta := map[string]any{}
	for _, c := range cells {
		item := map[string]any{"value": []any{c.X, c.Y, round(c.Pct, true)}}
		// Marks are borders only: the fill stays the rate's colour.
		switch {
		case c.Incomplete:
			item["itemStyle"] = map[string]any{"borderColor": "#b45309", "borderWidth": 2, "borderType": "dashed"}
		case c.Small:
			item["itemStyle"] = map[string]any{"borderColor": "#4b5563", "borderWidth": 1, "borderType": "dotted"}
		}
		data = append(data, item)
		meta[fmt.Sprintf("%d,%d", c.X, c.Y)] = map[string]any{"cohort": c.Cohort, "size": c.Size,
			"offset": c.Offset, "rate": round(c.Pct, true), "users": c.Users, "note": c.Note}
	}
	o := heatmapOptions(xs, nil, nil)
	o["yAxis"] = []any{map[string]any{"type": "category", "data": ys, "inverse": true,
		"axisLabel": map[string]any{"interval": 0, "fontSize": 11}}}
	xl := map[string]any{}
	if len(xs) <= 26 {
		xl["interval"] = 0
	}
	o["xAxis"] = []any{map[string]any{"type": "category", "data": xs, "name": unit + " since", "nameLocation": "middle", "nameGap": 24,
		"axisLabel": xl}}
	if ss, _ := o["series"].([]any); len(ss) == 1 {
		if m, ok := asMap(ss[0]); ok {
			m["data"] = data
			m["label"] = map[string]any{"show": len(xs) <= 14, "fontSize": 10, "formatter": "{@[2]}", "color": "#111827", "textBorderWidth": 0}
		}
	}
	// One row of about 20 px per cohort: every label has room.
	// Room under the plot for the axis name and the colour scale.
	setGridBottom(o, 84)
	o["adoptscope"] = map[string]any{"kind": "heatmap", "cells": meta, "height": max(340, 20*len(rows)+120)}
	return o
}

// MigrationSankeyOptions are the flows of a cohort to its outcomes, each
// node in its colour, with the lines of its tooltip.
func MigrationSankeyOptions(nodes []string, links []SankeyLink, colors map[string]string, tips map[string][]string) map[string]any {
	o := sankeyOptions(nodes, links)
	if ss, _ := o["series"].([]any); len(ss) == 1 {
		if s, ok := asMap(ss[0]); ok {
			for _, d := range AsSlice(s["data"]) {
				if n, ok := asMap(d); ok {
					name, _ := n["name"].(string)
					n["itemStyle"] = map[string]any{"color": colors[name]}
				}
			}
		}
	}
	o["adoptscope"] = map[string]any{"kind": "sankey", "tips": tips}
	return o
}
