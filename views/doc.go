// Package views is what the dashboard shows: templ components (the
// layout, chart cards, tables, KPI tiles, one file per page), the view
// models they render, and the presentation helpers they need (number and
// period formatting, labels, the palette, ECharts options built with
// go-echarts from plain series). A component takes a view model and
// nothing else: it never reads the request, the context or a store, and
// the package imports no domain service (internal/layers_test.go).
package views
