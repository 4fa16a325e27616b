package views

import (
	"strings"
	"testing"
)

// TestMarkersAreExplained: annotations grouped on one period say "(+N
// more)", a legend under the chart explains the markers, and detected
// breaks are drawn in a colour no assistant has.
func TestMarkersAreExplained(t *testing.T) {
	periods := []string{"2026-01-12", "2026-01-19", "2026-01-26"}
	marks := []Mark{
		{Start: "2026-01-15", End: "2026-01-15", Title: "ChatGPT leaves WhatsApp"},
		{Start: "2026-01-15", End: "2026-01-15", Title: "Copilot leaves WhatsApp"},
		{Start: "2026-01-16", End: "2026-01-16", Title: "Copilot also"},
		{Start: "2026-01-27", End: "2026-01-27", Title: "level change", Detected: true},
	}
	o := TimeChart{Periods: periods, Series: []Series{{Name: "chatgpt", Values: []float64{1, 2, 3}}}, Marks: marks, Interval: "week"}.Options()
	ml, _ := asMap(AsSlice(o["series"])[0].(map[string]any)["markLine"])
	var labels, colours []string
	for _, d := range AsSlice(ml["data"]) {
		m := d.(map[string]any)
		l, _ := asMap(m["label"])
		f, _ := l["formatter"].(string)
		labels = append(labels, f)
		if ls, ok := asMap(m["lineStyle"]); ok {
			colours = append(colours, ls["color"].(string))
		}
	}
	if len(labels) != 2 || labels[0] != "ChatGPT leaves WhatsApp (+2 more)" || !strings.Contains(labels[1], "detected") {
		t.Errorf("labels %q", labels)
	}
	for _, a := range []string{"chatgpt", "meta_ai", "copilot", "perplexity"} {
		if len(colours) != 1 || strings.EqualFold(colours[0], ColorOf(a)) {
			t.Errorf("detected colour %v against %s's %s", colours, a, ColorOf(a))
		}
	}
	doc := render(t, ChartCard(Chart{ID: "c", Title: "t", Options: o}))
	legend := doc.Find(testid("mark-legend")).Text()
	for _, w := range []string{"Annotation", "(+N more)", "Break detected"} {
		if !strings.Contains(legend, w) {
			t.Errorf("legend %q lacks %q", legend, w)
		}
	}
}
