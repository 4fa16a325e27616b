package app

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/adapters/queryapi"
	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/query"
)

// openAPIDoc is the part of the description the test compares.
type openAPIDoc struct {
	OpenAPI string `json:"openapi"`
	Paths   map[string]map[string]struct {
		Parameters []struct {
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"parameters"`
		RequestBody *struct {
			Content map[string]struct {
				Schema struct {
					Ref string `json:"$ref"`
				} `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
		Responses map[string]any `json:"responses"`
	} `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]any `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(queryapi.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	return doc
}

// startFullApp mounts every route of `up` (ingest, web, scheduler) on a
// test database and serves them on httptest.
// With tokens false, no read or admin token is configured: the API is open
// to every request, as on a laptop.
func startFullApp(t *testing.T, tokens bool) (*App, string) {
	t.Helper()
	return startFullAppWith(t, tokens, nil)
}

// startFullAppWith is startFullApp with the configuration changed by edit.
func startFullAppWith(t *testing.T, tokens bool, edit func(*config.Config)) (*App, string) {
	t.Helper()
	s := chtest.NewStore(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), ShutdownTimeout: 5 * time.Second,
		IngestTokens: []string{"oas-ingest-token-0123456789"}}
	if tokens {
		cfg.AdminTokens = []string{"oas-admin-token-0123456789"}
	}
	cfg.Ingest.BatchRows = 1000
	cfg.Ingest.FlushInterval = 10 * time.Millisecond
	cfg.Ingest.Writes = 1
	cfg.Ingest.MaxBody = 1 << 20
	cfg.Ingest.MaxLine = 1 << 16
	cfg.Ingest.DedupWindow = time.Hour
	cfg.Exports.MaxAttempts = 1
	if edit != nil {
		edit(&cfg)
	}
	a, err := New(context.Background(), cfg, Mode{Name: "up", Ingest: true, Web: true, Scheduler: true}, &Backend{Store: s}, log, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.stop)
	srv := httptest.NewServer(a.Server.Handler())
	t.Cleanup(srv.Close)
	return a, srv.URL
}

var echoParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// TestOpenAPIMatchesRoutes holds the description to the handlers, both
// ways: every route mounted under /v1/ and /api/v1/ is described and
// every described operation is mounted (path parameters included, by the
// path templates); every query parameter the description names is read by
// its handler (a bad value is refused naming it) and no parameter the
// handler reads is missing from it (every parameter-like string of the
// query and API code is tried with a bad value); and the request bodies'
// fields are the fields of the handlers' body types.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	a, base := startFullApp(t, true)

	mounted := map[string]bool{}
	for _, r := range a.Server.Echo.Routes() {
		if !strings.HasPrefix(r.Path, "/v1/") && !strings.HasPrefix(r.Path, "/api/v1/") {
			continue
		}
		mounted[r.Method+" "+echoParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	described := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			described[strings.ToUpper(method)+" "+path] = true
			var inPath []string
			for _, p := range op.Parameters {
				if p.In == "path" {
					inPath = append(inPath, "{"+p.Name+"}")
				}
			}
			tmpl := regexp.MustCompile(`\{[a-z_]+\}`).FindAllString(path, -1)
			sort.Strings(inPath)
			sort.Strings(tmpl)
			if strings.Join(inPath, ",") != strings.Join(tmpl, ",") {
				t.Errorf("%s %s: path parameters %v, the template has %v", method, path, inPath, tmpl)
			}
			if len(op.Responses) == 0 {
				t.Errorf("%s %s: no responses described", method, path)
			}
		}
	}
	for r := range mounted {
		if !described[r] {
			t.Errorf("route %s is mounted but not in openapi.json", r)
		}
	}
	for r := range described {
		if !mounted[r] {
			t.Errorf("openapi.json describes %s, which is not mounted", r)
		}
	}

	// An export, so that its runs list answers.
	admin := "Bearer oas-admin-token-0123456789"
	req, _ := http.NewRequest("POST", base+"/api/v1/exports", strings.NewReader(`{"name":"oas_probe","query":"metric=events","range":"last_7_days","schedule":"0 6 1 1 *","timezone":"UTC"}`))
	req.Header.Set("Authorization", admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != 201 || created.ID == "" {
		t.Fatalf("create the probe export: %d %+v", resp.StatusCode, created)
	}
	runsPath := "/api/v1/exports/" + created.ID + "/runs"

	// A valid request per GET operation with query parameters; each
	// parameter is then added with a bad value.
	valid := map[string]string{
		"/api/v1/series":      "from=2026-01-01&to=2026-01-07",
		"/api/v1/migration":   "assistant=chatgpt&channel=ios&date=2026-01-10",
		"/api/v1/retention":   "from=2026-01-05&to=2026-02-01",
		"/api/v1/metrics":     "",
		"/api/v1/annotations": "",
		"/api/v1/exports":     "",
		"/api/v1/dependency":  "from=2026-01-01&to=2026-01-07",
		"/api/v1/kpis":        "",
		"/api/v1/freshness":   "",
		runsPath:              "",
	}
	specPath := map[string]string{runsPath: "/api/v1/exports/{id}/runs"}
	const bad = "!bad value!"
	get := func(path, q string) (int, string) {
		req, _ := http.NewRequest("GET", base+path+"?"+q, nil)
		req.Header.Set("Authorization", admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error
	}
	// reads reports whether the handler reads parameter name: a bad value
	// of it is refused naming it (not as an unknown parameter).
	reads := func(path, name string) bool {
		q := valid[path]
		if q != "" {
			q += "&"
		}
		code, msg := get(path, q+url.QueryEscape(name)+"="+url.QueryEscape(bad))
		return code == 400 && strings.Contains(msg, name) && !strings.Contains(msg, "unknown parameter")
	}
	candidates := parameterLikeStrings(t)
	for path := range valid {
		sp := path
		if p, ok := specPath[path]; ok {
			sp = p
		}
		if code, msg := get(path, valid[path]); code != 200 {
			t.Fatalf("GET %s?%s: %d %s", path, valid[path], code, msg)
		}
		documented := map[string]bool{}
		for _, p := range doc.Paths[sp]["get"].Parameters {
			if p.In != "query" {
				continue
			}
			documented[p.Name] = true
			// A parameter the description lists as refused still counts as
			// read: it is answered 400 naming it.
			if !reads(path, p.Name) {
				t.Errorf("GET %s: openapi.json lists parameter %q, but the handler does not read it (a bad value is not refused naming it)", sp, p.Name)
			}
		}
		for _, c := range candidates {
			if !documented[c] && reads(path, c) {
				t.Errorf("GET %s reads parameter %q, which openapi.json does not list", sp, c)
			}
		}
	}

	// Request bodies: the JSON fields of the handlers' body types.
	bodies := map[string]string{"exportBody": "ExportInput", "annotationBody": "AnnotationInput"}
	fields := bodyFields(t, filepath.Join("..", "adapters", "queryapi"), bodies)
	for goType, schema := range bodies {
		props := doc.Components.Schemas[schema].Properties
		for _, f := range fields[goType] {
			if _, ok := props[f]; !ok {
				t.Errorf("%s has field %q, schema %s does not", goType, f, schema)
			}
		}
		for p := range props {
			found := false
			for _, f := range fields[goType] {
				found = found || f == p
			}
			if !found {
				t.Errorf("schema %s has property %q, %s does not", schema, p, goType)
			}
		}
	}
	for _, op := range []struct{ path, method, schema string }{{"/api/v1/exports", "post", "ExportInput"}, {"/api/v1/annotations", "post", "AnnotationInput"}} {
		rb := doc.Paths[op.path][op.method].RequestBody
		if rb == nil || rb.Content["application/json"].Schema.Ref != "#/components/schemas/"+op.schema {
			t.Errorf("%s %s: request body is not %s", op.method, op.path, op.schema)
		}
	}
}

// parameterLikeStrings are the string literals of the query parsing and
// query API code that could name a parameter, with every dimension.
func parameterLikeStrings(t *testing.T) []string {
	t.Helper()
	ident := regexp.MustCompile(`^[a-z][a-z_]{1,30}$`)
	set := map[string]bool{}
	for _, d := range query.Dims {
		set[string(d)] = true
	}
	for _, dir := range []string{filepath.Join("..", "..", "query"), filepath.Join("..", "adapters", "queryapi")} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil && ident.MatchString(s) {
						set[s] = true
					}
				}
				return true
			})
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// bodyFields reads the json tags of the named struct types in dir.
func bodyFields(t *testing.T, dir string, types map[string]string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			if _, want := types[ts.Name.Name]; !want {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			for _, fl := range st.Fields.List {
				if fl.Tag == nil {
					continue
				}
				tag, _ := strconv.Unquote(fl.Tag.Value)
				name := strings.Split(reflect.StructTag(tag).Get("json"), ",")[0]
				if name != "" && name != "-" {
					out[ts.Name.Name] = append(out[ts.Name.Name], name)
				}
			}
			return false
		})
	}
	for typ := range types {
		if len(out[typ]) == 0 {
			t.Fatalf("no fields found for %s in %s", typ, dir)
		}
	}
	return out
}
