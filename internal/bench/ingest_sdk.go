package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
)

// An SDK API of `bench ingest --api`: the same events, sent in the wire
// format of PostHog's capture API or Segment's HTTP Tracking API, after
// the /v1/events run and into the same instance, so that both rates come
// from one run.
const (
	apiPostHog = "posthog"
	apiSegment = "segment"
)

// sdkTarget is where and how one API is sent.
type sdkTarget struct {
	path   string
	header http.Header
}

func targetOf(api, token string) sdkTarget {
	h := http.Header{}
	switch api {
	case apiPostHog:
		h.Set("Content-Type", "application/json")
		return sdkTarget{path: "/batch/", header: h}
	case apiSegment:
		h.Set("Content-Type", "application/json")
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(token+":")))
		return sdkTarget{path: "/v1/batch", header: h}
	}
	h.Set("Authorization", "Bearer "+token)
	h.Set("Content-Type", "application/x-ndjson")
	return sdkTarget{path: "/v1/events", header: h}
}

// sdkBodies are the events as batches of the SDK API, with ids of their
// own (prefix sdk-): they go into the database the /v1/events run filled.
// The fields are what the SDKs send (posthog-node: uuid, distinct_id,
// timestamp, properties with $lib; analytics-node: messageId, userId,
// context.library).
func sdkBodies(api string, inputs []ingest.Input, perReq int, token string) [][]byte {
	var bodies [][]byte
	sent := time.Now().UTC().Format(time.RFC3339Nano)
	for i := 0; i < len(inputs); i += perReq {
		var b bytes.Buffer
		if api == apiPostHog {
			fmt.Fprintf(&b, `{"api_key":%q,"sent_at":%q,"batch":[`, token, sent)
		} else {
			fmt.Fprintf(&b, `{"sentAt":%q,"batch":[`, sent)
		}
		for j, in := range inputs[i:min(i+perReq, len(inputs))] {
			if j > 0 {
				b.WriteByte(',')
			}
			ts := in.Time.UTC().Format("2006-01-02T15:04:05.000Z")
			if api == apiPostHog {
				fmt.Fprintf(&b, `{"event":%q,"distinct_id":%q,"uuid":"sdk-%s","timestamp":%q,"type":"capture","library":"posthog-node","properties":{"assistant":%q,"channel":%q,"modality":%q,"country":%q,"count":%d,"linked":%t,"$lib":"posthog-node","$lib_version":"5.70.0"}}`,
					in.EventType, in.UserID, in.EventID, ts, in.Assistant, in.Channel, in.Modality, in.Country, in.Count, in.Linked)
			} else {
				fmt.Fprintf(&b, `{"type":"track","event":%q,"userId":%q,"messageId":"sdk-%s","timestamp":%q,"properties":{"assistant":%q,"channel":%q,"modality":%q,"country":%q,"count":%d,"linked":%t},"context":{"library":{"name":"@segment/analytics-node","version":"3.1.0"}},"integrations":{}}`,
					in.EventType, in.UserID, in.EventID, ts, in.Assistant, in.Channel, in.Modality, in.Country, in.Count, in.Linked)
			}
		}
		b.WriteString("]}")
		bodies = append(bodies, b.Bytes())
	}
	return bodies
}

// sdkRun is the measured SDK API run.
type sdkRun struct {
	res  sendResult
	took time.Duration
	sent time.Time
	size int
}

func sendSDK(ctx context.Context, t ingestTarget, bodies [][]byte, o IngestOptions, w io.Writer) (*sdkRun, error) {
	r := &sdkRun{}
	for _, b := range bodies {
		r.size += len(b)
	}
	settle()
	tg := targetOf(o.API, t.token)
	fmt.Fprintf(w, "sending the same %d events to %s %s: %d clients, %d events per request, %.1f MiB of JSON\n", o.Events, o.API, tg.path, o.Clients, o.RequestEvents, float64(r.size)/(1<<20))
	res, took, err := benchSendTo(ctx, t.url, tg, bodies, o.Clients)
	r.sent = time.Now()
	if err != nil {
		return nil, fmt.Errorf("bench ingest --api %s: %w", o.API, err)
	}
	if res.Accepted+res.Duplicates != o.Events {
		return nil, fmt.Errorf("bench ingest --api %s: %d of %d events accepted (%d rejected)", o.API, res.Accepted+res.Duplicates, o.Events, res.Rejected)
	}
	r.res, r.took = res, took
	return r, nil
}

// writeSDKReport prints the SDK API's rate next to /v1/events' and the
// ratio the issue holds it to (at least 0.75).
func writeSDKReport(w io.Writer, o IngestOptions, run httpRun, r *sdkRun) {
	base := float64(o.Events) / run.took.Seconds()
	rate := float64(o.Events) / r.took.Seconds()
	fmt.Fprintf(w, "ingest over %s %s: %d events in %s = %.0f events/s (accepted %d, duplicates %d, rejected %d, 503 retries %d)\n",
		o.API, targetOf(o.API, "").path, o.Events, r.took.Round(time.Millisecond), rate, r.res.Accepted, r.res.Duplicates, r.res.Rejected, r.res.retries)
	fmt.Fprintf(w, "%s / v1-events ratio: %.2f (/v1/events %.0f events/s in the same run; target at least 0.75)\n", o.API, rate/base, base)
}
