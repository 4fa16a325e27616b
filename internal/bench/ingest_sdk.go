package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/app"
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
	// rates are the events/s of each phase of the alternating run, A
	// (/v1/events) and B (the SDK API) in the order sent.
	ratesA, ratesB []float64
}

// phaseOrder is the order of the alternating run: each letter sends a
// quarter of one side's bodies, A the /v1/events ones and B the SDK
// API's. Sending one side after the other gave the second the first one's
// merges and rollup builds to compete with (the SDK side measured 0.56 to
// 0.77 of /v1/events that way, run to run); in this order a trend over the
// run (a fuller store, a bigger dedup window) falls on both sides alike.
const phaseOrder = "ABBAABBA"

// sendAlternating sends the /v1/events bodies and the SDK API's in the
// phases of phaseOrder, the store settled before each (merges done,
// rollups caught up), and returns both sides' totals.
func sendAlternating(ctx context.Context, t ingestTarget, srv *app.Server, db string, bodies, sdkB [][]byte, o IngestOptions, w io.Writer) (httpRun, *sdkRun, error) {
	b, err := srv.OpenDatabase(ctx, db, o.Log)
	if err != nil {
		return httpRun{}, nil, fmt.Errorf("bench ingest --api %s: open the database to settle it between phases: %w", o.API, err)
	}
	defer b.Close()
	var sizeA, sizeB int
	for _, x := range bodies {
		sizeA += len(x)
	}
	for _, x := range sdkB {
		sizeB += len(x)
	}
	qa, qb := quarters(bodies), quarters(sdkB)
	fmt.Fprintf(w, "sending %d events to /v1/events (%.1f MiB of NDJSON) and the same %d to %s %s (%.1f MiB of JSON) in phases %s (A /v1/events, B %s; a quarter of one side each, the store settled before each): %d clients, %d events per request\n",
		o.Events, float64(sizeA)/(1<<20), o.Events, o.API, targetOf(o.API, "").path, float64(sizeB)/(1<<20), phaseOrder, o.API, o.Clients, o.RequestEvents)
	run := httpRun{pid: t.pid}
	sdk := &sdkRun{}
	before, _ := scrapeBatches(ctx, t.url)
	stopSample := sampleRSS(t.pid)
	for i, p := range phaseOrder {
		if err := quiesce(ctx, b); err != nil {
			stopSample()
			return run, nil, fmt.Errorf("bench ingest --api %s: settle the store before phase %d: %w", o.API, i+1, err)
		}
		settle()
		part, tg, side := qa[0], targetOf("", t.token), "/v1/events"
		if p == 'B' {
			part, tg, side = qb[0], targetOf(o.API, t.token), o.API
			qb = qb[1:]
		} else {
			qa = qa[1:]
		}
		res, took, err := benchSendTo(ctx, t.url, tg, part, o.Clients)
		if err != nil {
			stopSample()
			return run, nil, fmt.Errorf("bench ingest, phase %d (%s): %w", i+1, side, err)
		}
		n := res.Accepted + res.Duplicates + res.Rejected
		rate := float64(n) / took.Seconds()
		fmt.Fprintf(w, "  phase %d %c %-10s %7d events in %8s = %7.0f events/s\n", i+1, p, side, n, took.Round(time.Millisecond), rate)
		acc := &run.res
		if p == 'B' {
			acc = &sdk.res
			sdk.took += took
			sdk.ratesB = append(sdk.ratesB, rate)
		} else {
			run.took += took
			sdk.ratesA = append(sdk.ratesA, rate)
		}
		acc.Accepted += res.Accepted
		acc.Duplicates += res.Duplicates
		acc.Rejected += res.Rejected
		acc.retries += res.retries
	}
	run.sent = time.Now()
	run.rssMaxKB = stopSample()
	if after, err := scrapeBatches(ctx, t.url); err == nil {
		run.batches = "both APIs' " + after.since(before)
	}
	if got := sdk.res.Accepted + sdk.res.Duplicates; got != o.Events {
		return run, nil, fmt.Errorf("bench ingest --api %s: %d of %d events accepted (%d rejected)", o.API, got, o.Events, sdk.res.Rejected)
	}
	return run, sdk, nil
}

// quarters splits bodies into four runs of (nearly) equal length.
func quarters(bodies [][]byte) [][][]byte {
	q := make([][][]byte, 4)
	for i := range q {
		q[i] = bodies[i*len(bodies)/4 : (i+1)*len(bodies)/4]
	}
	return q
}

// quiesce waits until the rollups hold every committed event and no merge
// runs in the database, so that a phase does not pay for the one before.
// Merges that go on for over a minute are left running.
func quiesce(ctx context.Context, b *app.Backend) error {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if r := b.Rollups; r.Enabled() {
		if _, err := r.CatchUp(qctx); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var n uint64
		if err := b.Store.Conn.QueryRow(qctx, "SELECT count() FROM system.merges WHERE database = currentDatabase()").Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-qctx.Done():
			return qctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// writeSDKReport prints the SDK API's rate next to /v1/events' and the
// ratio the issue holds it to (at least 0.75).
func writeSDKReport(w io.Writer, o IngestOptions, run httpRun, r *sdkRun) {
	base := float64(o.Events) / run.took.Seconds()
	rate := float64(o.Events) / r.took.Seconds()
	fmt.Fprintf(w, "ingest over %s %s: %d events in %s = %.0f events/s (accepted %d, duplicates %d, rejected %d, 503 retries %d)\n",
		o.API, targetOf(o.API, "").path, o.Events, r.took.Round(time.Millisecond), rate, r.res.Accepted, r.res.Duplicates, r.res.Rejected, r.res.retries)
	// Each B phase is paired with the A phase beside it (AB BA AB BA).
	var pairs []float64
	for i := range min(len(r.ratesA), len(r.ratesB)) {
		pairs = append(pairs, r.ratesB[i]/r.ratesA[i])
	}
	slices.Sort(pairs)
	spread := ""
	if len(pairs) > 0 {
		spread = fmt.Sprintf("; phase pairs %.2f to %.2f, median %.2f", pairs[0], pairs[len(pairs)-1], median(pairs))
	}
	fmt.Fprintf(w, "%s / v1-events ratio: %.2f (/v1/events %.0f events/s in the same run, phases alternated%s; target at least 0.75)\n", o.API, rate/base, base, spread)
}

// median of sorted xs.
func median(xs []float64) float64 {
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
