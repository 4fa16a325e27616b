// Package internal_test keeps the layout of ARCHITECTURE.md true: imports
// only go down, adapters never import each other, and every package sits in
// a known layer.
package internal_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/adoptscope/adoptscope/"

// layers, from the top: a package may import packages of a lower layer
// (a larger number), and within its own layer only along sameLayer.
var layers = []struct {
	rank     int
	prefixes []string
}{
	{0, []string{"cmd/"}},
	{1, []string{"internal/cli"}},
	{2, []string{"internal/bench"}},
	{3, []string{"internal/app"}},
	{4, []string{"internal/config"}},
	{5, []string{"internal/adapters/"}},
	{6, []string{"views"}},
	{7, domain},
	{8, []string{"catalog"}},
	{9, []string{"internal/platform/"}},
}

// domain are the domain's service packages.
var domain = []string{"ingest", "rollup", "query", "annotation", "export", "demo", "schema", "breaks", "panel", "alert"}

// viewsRefuses are what the views layer may not import although they sit
// below it: components render a view model and never reach for the
// request (echo), a store or a domain service; handlers convert.
var viewsRefuses = append([]string{"github.com/labstack/echo", "internal/platform/store"}, domain...)

// sameLayer lists the imports allowed within one layer. Adapters have none:
// each talks to the domain, never to another adapter.
var sameLayer = map[string]bool{
	"demo -> ingest":       true, // the demo is loaded through the ingest pipeline
	"demo -> query":        true,
	"demo -> annotation":   true, // the demo's story annotations
	"export -> query":      true, // an export is a stored query
	"breaks -> query":      true, // the detector reads the daily series
	"breaks -> annotation": true, // and keeps breaks as suggested annotations
	"alert -> query":       true, // a rule watches a chart's metric
	"alert -> annotation":  true, // break rules read the detected breaks
	"alert -> export":      true, // notifications obey the webhook address rules and claim like export runs
}

// layerOf returns the layer rank and the unit (a folder under a prefix
// ending in '/', else the prefix) of a package path relative to the module.
func layerOf(rel string) (rank int, unit string, ok bool) {
	for _, l := range layers {
		for _, p := range l.prefixes {
			if strings.HasSuffix(p, "/") {
				if strings.HasPrefix(rel, p) {
					rest := strings.TrimPrefix(rel, p)
					if i := strings.Index(rest, "/"); i >= 0 {
						rest = rest[:i]
					}
					return l.rank, p + rest, true
				}
				continue
			}
			if rel == p || strings.HasPrefix(rel, p+"/") {
				return l.rank, p, true
			}
		}
	}
	return 0, "", false
}

// refusedByViews reports whether the views layer may not import path
// (relative to the module, or a full path outside it).
func refusedByViews(path string) bool {
	for _, r := range viewsRefuses {
		if path == r || strings.HasPrefix(path, r+"/") {
			return true
		}
	}
	return false
}

// checkViews says why from may not import to when from is in the views
// layer, or "". to is relative to the module, or a full path outside it.
func checkViews(from, to string) string {
	if _, fu, ok := layerOf(from); ok && fu == "views" && refusedByViews(to) {
		return fmt.Sprintf("%s imports %s: views render view models and never read the request, a store or a domain service; the dashboard's handlers do, and convert", from, to)
	}
	return ""
}

// checkImport says why from may not import to (relative to the module;
// for the views rule, a full path outside it too), or "" when it may.
func checkImport(from, to string) string {
	fr, fu, ok := layerOf(from)
	if !ok {
		return fmt.Sprintf("%s is in no layer: place it in ARCHITECTURE.md and in internal/layers_test.go", from)
	}
	if why := checkViews(from, to); why != "" {
		return why
	}
	tr, tu, ok := layerOf(to)
	if !ok {
		return fmt.Sprintf("%s is in no layer: place it in ARCHITECTURE.md and in internal/layers_test.go", to)
	}
	switch {
	case fu == tu:
		return "" // inside one unit (a package and its subpackages)
	case tr > fr:
		return ""
	case tr < fr:
		return fmt.Sprintf("%s imports %s: an import up a layer (see ARCHITECTURE.md)", from, to)
	case sameLayer[fu+" -> "+tu]:
		return ""
	case fr == 5:
		return fmt.Sprintf("%s imports %s: adapters never import each other; move what they share into the domain or the platform", from, to)
	case fr == 9:
		return "" // the platform's packages build on each other
	}
	return fmt.Sprintf("%s imports %s: a sideways import not listed in sameLayer (internal/layers_test.go)", from, to)
}

func TestCheckImport(t *testing.T) {
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"cmd/adoptscope", "internal/cli", true},
		{"internal/cli", "internal/app", true},
		{"internal/app", "internal/adapters/dashboard", true},
		{"internal/adapters/dashboard", "query", true},
		{"internal/adapters/dashboard", "internal/adapters/queryapi", false},
		{"internal/adapters/queryapi", "internal/app", false},
		{"query", "internal/adapters/queryapi", false},
		{"query", "ingest", false},
		{"demo", "ingest", true},
		{"ingest", "catalog", true},
		{"catalog", "query", false},
		{"internal/platform/store", "schema", false},
		{"internal/platform/chtest", "internal/platform/chserver", true},
		{"internal/platform/store", "catalog", false},
		{"newthing", "query", false},
		{"internal/adapters/dashboard", "views", true},
		{"views", "catalog", true},
		{"views", "internal/platform/store", false},
		{"views", "internal/platform/httperr", true},
		{"views", "query", false},
		{"views", "annotation", false},
		{"views", "ingest", false},
		{"views", "export", false},
		{"views", "rollup", false},
		{"views", "demo", false},
		{"views", "schema", false},
		{"views", "breaks", false},
		{"views", "github.com/labstack/echo/v4", false},
		{"views", "internal/adapters/dashboard", false},
		{"query", "views", false},
		{"catalog", "views", false},
	} {
		why := checkImport(c.from, c.to)
		if (why == "") != c.ok {
			t.Errorf("%s -> %s: allowed %v, want %v (%s)", c.from, c.to, why == "", c.ok, why)
		}
	}
}

// TestImportsGoDown reads every package's imports (of the code that ships,
// not its tests: tests may import what they test with) and checks each
// edge.
func TestImportsGoDown(t *testing.T) {
	cmd := exec.Command("go", "list", "-json", module+"...")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	dec := json.NewDecoder(&out)
	n := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		from := strings.TrimPrefix(p.ImportPath, module)
		if from == "internal" { // this test's own package
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				if why := checkViews(from, imp); why != "" {
					t.Error(why)
				}
				continue
			}
			n++
			if why := checkImport(from, strings.TrimPrefix(imp, module)); why != "" {
				t.Error(why)
			}
		}
	}
	if n < 50 {
		t.Fatalf("only %d imports between the product's packages were read: go list did not see the tree", n)
	}
}

// TestViewsDeps checks the views rule on everything views builds on, not
// only its own imports: a platform package that pulled in echo or the
// store would bring them into the components.
func TestViewsDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+"views").Output()
	if err != nil {
		t.Fatalf("go list -deps views: %v", err)
	}
	n := 0
	for _, dep := range strings.Fields(string(out)) {
		n++
		if refusedByViews(strings.TrimPrefix(dep, module)) {
			t.Errorf("views depends on %s (go list -deps ./views): views render view models and never read the request, a store or a domain service", dep)
		}
	}
	if n < 10 {
		t.Fatalf("only %d dependencies of views were read: go list did not see the tree", n)
	}
}
