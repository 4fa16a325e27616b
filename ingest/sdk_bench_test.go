package ingest

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// The batches of these benchmarks are shaped as the SDKs send them
// (posthog-node: uuid, distinct_id, $lib; @segment/analytics-node:
// messageId, userId, context.library, integrations), 1,000 events each,
// as `adoptscope bench ingest --api` sends them. Compare
// BenchmarkDecodeNDJSON for POST /v1/events.
const sdkBenchEvents = 1000

// BenchmarkParsePostHog: parse and mapping cost per PostHog batch.
func BenchmarkParsePostHog(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(`{"api_key":"k","sent_at":"2026-01-14T11:00:00.000Z","batch":[`)
	for i := 0; i < sdkBenchEvents; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"event":"message","distinct_id":"+155510%05d","uuid":"0f3a9c2e-%08d-4b1d-9e6f-5a7c8d9e0f1a","timestamp":"2026-01-14T10:%02d:00.000Z","type":"capture","library":"posthog-node","properties":{"assistant":"chatgpt","channel":"whatsapp","modality":"text","country":"US","count":1,"linked":false,"$lib":"posthog-node","$lib_version":"5.70.0"}}`, i, i, i%60)
	}
	buf.WriteString(`]}`)
	benchParse(b, buf.Bytes(), func(m *SDKMapper, body []byte, now time.Time) (*SDKBatch, error) {
		return m.ParsePostHog(body, now)
	})
}

// BenchmarkParseSegment: parse and mapping cost per Segment batch.
func BenchmarkParseSegment(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(`{"sentAt":"2026-01-14T11:00:00.000Z","batch":[`)
	for i := 0; i < sdkBenchEvents; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"type":"track","event":"message","userId":"+155510%05d","messageId":"node-next-%08d-4b1d-9e6f-5a7c8d9e0f1a","timestamp":"2026-01-14T10:%02d:00.000Z","properties":{"assistant":"chatgpt","channel":"whatsapp","modality":"text","country":"US","count":1,"linked":false},"context":{"library":{"name":"@segment/analytics-node","version":"3.1.0"}},"integrations":{}}`, i, i, i%60)
	}
	buf.WriteString(`]}`)
	benchParse(b, buf.Bytes(), func(m *SDKMapper, body []byte, now time.Time) (*SDKBatch, error) {
		return m.ParseSegment(body, "", now)
	})
}

func benchParse(b *testing.B, body []byte, parse func(*SDKMapper, []byte, time.Time) (*SDKBatch, error)) {
	m, err := NewSDKMapper(SDKConfig{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 1, 14, 11, 0, 1, 0, time.UTC)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		bt, err := parse(m, body, now)
		if err != nil || len(bt.Inputs) != sdkBenchEvents {
			b.Fatalf("%v inputs, %v", bt, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/sdkBenchEvents, "ns/event")
}
