package ingest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
)

// TestSpreadsheetCSV: files as spreadsheets write them: ; or tab
// separated, a UTF-8 BOM, CRLF line ends; a header without a required
// column names the columns it found; Unix seconds get a hint.
func TestSpreadsheetCSV(t *testing.T) {
	want := ingest.Input{EventID: "e-1", Time: time.Date(2026, 1, 15, 8, 30, 0, 0, time.UTC), Assistant: "chatgpt", Channel: "whatsapp", UserID: "+33612345678", Country: "FR", Count: 2}
	for name, body := range map[string]string{
		"semicolon, BOM, CRLF": "\ufeffevent_id;time;assistant;channel;user_id;country;count\r\ne-1;2026-01-15T09:30:00+01:00;chatgpt;whatsapp;+33612345678;FR;2\r\n",
		"tab":                  "event_id\ttime\tassistant\tchannel\tuser_id\tcountry\tcount\ne-1\t1768465800000\tchatgpt\twhatsapp\t+33612345678\tFR\t2\n",
		"comma, quoted ;":      "event_id,time,assistant,channel,user_id,country,count\n\"e-1\",2026-01-15T08:30:00Z,chatgpt,whatsapp,+33612345678,FR,2\n",
	} {
		in, _, errs, err := ingest.DecodeAll(ingest.CSV, strings.NewReader(body), 1<<20)
		if err != nil || len(errs) != 0 || len(in) != 1 {
			t.Fatalf("%s: %v %v %v", name, in, errs, err)
		}
		if !in[0].Time.Equal(want.Time) {
			t.Errorf("%s: time %s", name, in[0].Time)
		}
		in[0].Time = want.Time
		if in[0] != want {
			t.Errorf("%s:\n got %+v\nwant %+v", name, in[0], want)
		}
	}

	_, _, _, err := ingest.DecodeAll(ingest.CSV, strings.NewReader("id;when;assistant;channel;user\n1;2;3;4;5\n"), 1<<20)
	if !errors.Is(err, ingest.ErrMalformed) {
		t.Fatalf("missing columns: %v", err)
	}
	for _, part := range []string{"no event_id, time, user_id column", `separated by ';'`, `"id", "when", "assistant", "channel", "user"`} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("missing columns: %q lacks %q", err, part)
		}
	}

	_, _, errs, err := ingest.DecodeAll(ingest.CSV, strings.NewReader("event_id,time,assistant,channel,user_id\ne-1,1768465800,chatgpt,whatsapp,u\n"), 1<<20)
	if err != nil || len(errs) != 1 || errs[0].Field != "time" || !strings.Contains(errs[0].Error, "1768465800000") || errs[0].Line != 2 {
		t.Errorf("CSV seconds: %v %v", errs, err)
	}
	_, _, errs, err = ingest.DecodeAll(ingest.NDJSON, strings.NewReader(`{"event_id":"e-1","time":1768465800,"assistant":"chatgpt","channel":"whatsapp","user_id":"u"}`+"\n"), 1<<20)
	if err != nil || len(errs) != 1 || errs[0].Field != "time" || !strings.Contains(errs[0].Error, "Unix seconds") {
		t.Errorf("NDJSON seconds: %v %v", errs, err)
	}
}
