package ingest

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkDecodeNDJSON: decode cost per event of a realistic line.
func BenchmarkDecodeNDJSON(b *testing.B) {
	var buf bytes.Buffer
	const n = 1000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&buf, `{"event_id":"0f3a9c2e-%08d-4b1d-9e6f-5a7c8d9e0f1a","time":"2026-01-14T10:%02d:00Z","assistant":"chatgpt","channel":"whatsapp","user_id":"+155510%05d","event_type":"message","modality":"text","country":"US","count":1,"linked":false,"source":"bench"}`+"\n", i, i%60, i)
	}
	body := buf.Bytes()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		in, _, errs, err := DecodeAll(NDJSON, bytes.NewReader(body), DefaultMaxLine)
		if err != nil || len(in) != n || len(errs) != 0 {
			b.Fatalf("%d inputs, %v, %v", len(in), errs, err)
		}
	}
}
