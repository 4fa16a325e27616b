package dashboard

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/demo"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

// BenchmarkOverviewRender is the server time to answer GET / (all its
// queries, the chart options and the HTML) on the default demo data set
// (demo.DefaultPeople people from 2024-06-01 to today), default filters.
// ADOPTSCOPE_BENCH_PEOPLE overrides the number of people (a quick run).
func BenchmarkOverviewRender(b *testing.B) {
	people := demo.DefaultPeople
	if s := os.Getenv("ADOPTSCOPE_BENCH_PEOPLE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("ADOPTSCOPE_BENCH_PEOPLE=%q: want a number", s)
		}
		people = n
	}
	s := chtest.NewStore(b)
	loadDemo(b, s, people)
	h := mustNew(b, testDeps(s, nil))
	e := echo.New()
	h.Register(e)
	get := func() int {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		return rec.Code
	}
	if code := get(); code != http.StatusOK { // warm the server's caches once
		b.Fatalf("GET / = %d", code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if code := get(); code != http.StatusOK {
			b.Fatalf("GET / = %d", code)
		}
	}
}
