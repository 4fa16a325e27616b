package ingest

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// BenchmarkParsePostHog: parse and mapping cost per event of a PostHog
// batch shaped as posthog-node sends it (compare BenchmarkDecodeNDJSON).
func BenchmarkParsePostHog(b *testing.B) {
	var buf bytes.Buffer
	const n = 1000
	buf.WriteString(`{"api_key":"k","sent_at":"2026-01-14T11:00:00.000Z","batch":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"event":"message","distinct_id":"+155510%05d","uuid":"0f3a9c2e-%08d-4b1d-9e6f-5a7c8d9e0f1a","timestamp":"2026-01-14T10:%02d:00.000Z","type":"capture","library":"posthog-node","properties":{"assistant":"chatgpt","channel":"whatsapp","modality":"text","country":"US","count":1,"linked":false,"$lib":"posthog-node","$lib_version":"5.70.0"}}`, i, i, i%60)
	}
	buf.WriteString(`]}`)
	body := buf.Bytes()
	m, err := NewSDKMapper(SDKConfig{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 1, 14, 11, 0, 1, 0, time.UTC)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		bt, err := m.ParsePostHog(body, now)
		if err != nil || len(bt.Inputs) != n {
			b.Fatalf("%v inputs, %v", bt, err)
		}
	}
}
