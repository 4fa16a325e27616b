package schema

import "testing"

// A migration's fill (INSERT … SELECT) gets the long deadline, whatever
// comments precede it; DDL keeps the short one.
func TestIsFill(t *testing.T) {
	for q, want := range map[string]bool{
		"-- What was stored before\n-- this migration.\nINSERT INTO t SELECT 1": true,
		"insert into t select 1":                                              true,
		"CREATE TABLE IF NOT EXISTS t (x UInt8) ENGINE = Log":                 false,
		"-- INSERT in a comment\nCREATE MATERIALIZED VIEW v TO t AS SELECT 1": false,
		"": false,
	} {
		if got := isFill(q); got != want {
			t.Errorf("isFill(%q) = %v, want %v", q, got, want)
		}
	}
}
