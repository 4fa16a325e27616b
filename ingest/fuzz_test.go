package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// The decoders face untrusted bodies. Each fuzz target checks that its
// decoder never panics, never loops, numbers lines upward, and (NDJSON,
// JSON) agrees with encoding/json on what is valid JSON and on the string
// values it reads. Seeds: the f.Add lines below plus testdata/fuzz/<Target>.

var fuzzSeeds = []string{
	`{"event_id":"a","time":"2026-01-10T09:30:00Z","assistant":"chatgpt","channel":"whatsapp","user_id":"u1"}`,
	`{"event_id":"b","time":1768469400000,"assistant":"meta_ai","channel":"ios","user_id":"\u00e9\ud83d\ude00","count":3,"linked":true,"country":"FR","x":[1,{"y":null}]}`,
	`{"event_id":"c\"\\\/\b\f\n\r\t","user_id":"\ud800x","count":1.5,"linked":"no"}`,
	`[1,2]`, `{"a":}`, `{}`, ` {"event_id" : "d" } `, `{"count":-0.0e+1}`, "{\"k\":\"\xff\xfe\"}",
}

func FuzzNDJSON(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(strings.Join(fuzzSeeds, "\n")))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Differential check line by line against encoding/json.
		for _, ln := range bytes.Split(data, []byte("\n")) {
			var sc scanner
			got := map[string]string{}
			notObject, err := sc.object(ln, func(k []byte, kind jsonKind, v []byte) {
				if kind == kindString {
					got[string(k)] = string(v)
				} else {
					delete(got, string(k))
				}
			})
			valid := json.Valid(ln)
			if (err == nil) != valid {
				t.Fatalf("scanner err=%v, encoding/json valid=%v for %q", err, valid, ln)
			}
			if err != nil || notObject {
				continue
			}
			// UseNumber: a number out of float64's range (1E700) is valid
			// JSON, and the scanner rightly takes it.
			var want map[string]any
			dec := json.NewDecoder(bytes.NewReader(ln))
			dec.UseNumber()
			if err := dec.Decode(&want); err != nil {
				t.Fatalf("encoding/json refuses an object the scanner took: %q: %v", ln, err)
			}
			for k, v := range want {
				if s, ok := v.(string); ok && got[k] != s {
					t.Fatalf("key %q: scanner read %q, encoding/json %q (input %q)", k, got[k], s, ln)
				}
			}
		}
		drain(t, NDJSON, data)
	})
}

func FuzzJSON(f *testing.F) {
	f.Add([]byte("[" + strings.Join(fuzzSeeds[:3], ",") + "]"))
	f.Add([]byte(fuzzSeeds[0]))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"event_id":"a"},]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := drain(t, JSON, data)
		var arr []json.RawMessage
		if json.Unmarshal(data, &arr) == nil && err != nil {
			t.Fatalf("valid JSON array of %d refused: %v", len(arr), err)
		}
		if err == nil && json.Unmarshal(data, &arr) == nil && n != len(arr) {
			t.Fatalf("%d records from an array of %d", n, len(arr))
		}
	})
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte("event_id,time,assistant,channel,user_id,count,linked\na,2026-01-10T09:30:00Z,chatgpt,web,u,2,true\n"))
	f.Add([]byte("event_id,time\n\"a\nb\",1768469400000\nc\n\"bad\"x,1\n"))
	f.Add([]byte("\ufeffuser_id,count\r\nu,0\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		drain(t, CSV, data)
	})
}

// drain decodes data to the end and checks the records' invariants.
func drain(t *testing.T, f Format, data []byte) (int, error) {
	d := NewDecoder(f, bytes.NewReader(data), 1024, true)
	defer Release(d)
	var rec Record
	last, n := 0, 0
	for i := 0; ; i++ {
		if i > len(data)+2 {
			t.Fatalf("more records than bytes: the decoder loops")
		}
		err := d.Next(&rec)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error neither malformed nor too large: %v", err)
			}
			return n, err
		}
		n++
		if rec.Line < last {
			t.Fatalf("line %d after line %d", rec.Line, last)
		}
		last = rec.Line
		if rec.Err != nil && rec.Err.Line != rec.Line {
			t.Fatalf("error line %d on record line %d", rec.Err.Line, rec.Line)
		}
	}
}

func TestFastTimeAgreesWithTimeParse(t *testing.T) {
	for _, s := range []string{
		"2026-01-15T09:30:00Z", "2026-01-15T09:30:00+01:00", "2026-01-15T09:30:00-05:30", "2024-02-29T23:59:59Z",
		"2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-15T24:00:00Z", "2026-01-15T09:60:00Z", "2026-01-15T09:30:60Z",
		"2026-01-15t09:30:00Z", "2026-01-15T09:30:00z", "2026-01-15T09:30:00+24:00", "2026-01-15T09:30:00+01:60", "2026-01-15 09:30:00Z",
		"2026-01-15T09:30:00.5Z", "2026-01-15T09:30:00.000Z", "2026-01-15T09:30:00.123456789Z", "2026-01-15T09:30:00.1234567891Z",
		"2026-01-15T09:30:00.Z", "2026-01-15T09:30:00.250+01:00", "2026-01-15T09:30:00.07-05:30", "2026-01-15T09:30:00.5",
		"2026-01-15T09:30:00.5ZZ", "2026-01-15T09:30:00+01:00Z", "2026-01-15T09:30:00", "2026-1-15T09:30:00Z", "+026-01-15T09:30:00Z", "2026-00-10T00:00:00Z",
	} {
		want, werr := time.Parse(time.RFC3339Nano, s)
		got, gerr := parseTime([]byte(s))
		if (werr == nil) != (gerr == nil) || !got.Equal(want) {
			t.Errorf("%s: parseTime %v %v, time.Parse %v %v", s, got, gerr, want, werr)
		}
	}
}
