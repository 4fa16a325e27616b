package ingestapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/adapters/ingestapi"
	"github.com/adoptscope/adoptscope/internal/platform/auth"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

// BenchmarkHandler: the whole path of one NDJSON request of 1000 events
// (decode, validate, hash, dedup lookup, insert into real ClickHouse),
// requests in parallel so that they share batches. Not the product
// benchmark (that is `adoptscope bench ingest`): a profile target.
func BenchmarkHandler(b *testing.B) {
	s := chtest.NewStore(b)
	p, err := ingest.NewPipeline(s, ingest.Config{Secret: testSecret, FlushInterval: 50 * time.Millisecond}, quiet())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(b.Context())
	h, err := ingestapi.New(ingestapi.Deps{Pipeline: p, Tokens: auth.NewTokens([]string{token}), Log: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	b.SetParallelism(4)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var buf bytes.Buffer
		for pb.Next() {
			buf.Reset()
			base := seq.Add(1) * 1000
			for i := int64(0); i < 1000; i++ {
				fmt.Fprintf(&buf, `{"event_id":"bench-%d","time":"2026-01-14T10:%02d:00Z","assistant":"chatgpt","channel":"whatsapp","user_id":"+1555%07d","event_type":"message","modality":"text","country":"US","count":1,"linked":false,"source":"bench"}`+"\n", base+i, i%60, i)
			}
			req := httptest.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader(buf.Bytes()))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/x-ndjson")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("status %d: %s", w.Code, w.Body.String())
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}
