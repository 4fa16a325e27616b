package store_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m, chtest.Schema{})) }

func TestEffectiveCompression(t *testing.T) {
	for _, c := range []struct {
		setting, addr, want string
	}{
		{"", "127.0.0.1:9000", "none"},
		{"auto", "127.0.0.1:9000", "none"},
		{"auto", "127.8.9.10:9000", "none"},
		{"auto", "localhost:9000", "none"},
		{"auto", "[::1]:9000", "none"},
		{"auto", "127.0.0.1:9000, [::1]:9001", "none"},
		{"auto", "127.0.0.1:9000,ch2.internal:9000", "lz4"},
		{"auto", "10.0.0.5:9000", "lz4"},
		{"auto", "clickhouse.example.com:9440", "lz4"},
		{"auto", "", "lz4"},
		{"lz4", "127.0.0.1:9000", "lz4"},
		{"none", "clickhouse.example.com:9000", "none"},
	} {
		got := store.Config{Compression: c.setting, Addr: c.addr}.EffectiveCompression()
		if got != c.want {
			t.Errorf("compression %q to %q = %s, want %s", c.setting, c.addr, got, c.want)
		}
	}
}

func TestOpenRejectsUnknownCompression(t *testing.T) {
	_, err := store.Open(context.Background(), store.Config{Addr: "127.0.0.1:1", Compression: "gzip"}, nil)
	if err == nil || !strings.Contains(err.Error(), "ADOPTSCOPE_CLICKHOUSE_COMPRESSION") {
		t.Fatalf("Open with compression gzip = %v, want an error naming ADOPTSCOPE_CLICKHOUSE_COMPRESSION", err)
	}
}

// Blocks travel both ways under either setting: an insert large enough to
// span several compressed blocks, read back and checked against the sums
// of what was sent.
func TestEachCompressionRoundTrips(t *testing.T) {
	srv := chtest.Server(t)
	base := chtest.NewEmptyStore(t)
	for _, method := range []string{store.CompressionLZ4, store.CompressionNone} {
		t.Run(method, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := chtest.Config(srv, base.Database)
			cfg.Compression = method
			s, err := store.Open(ctx, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			table := "roundtrip_" + method
			if err := s.Conn.Exec(ctx, "CREATE TABLE "+table+" (n UInt64, s String) ENGINE = MergeTree ORDER BY n"); err != nil {
				t.Fatal(err)
			}
			const rows = 200_000
			b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+table+" (n, s)")
			if err != nil {
				t.Fatal(err)
			}
			var wantSum, wantLen uint64
			for i := uint64(0); i < rows; i++ {
				v := fmt.Sprintf("event-%d-%s", i*7919%rows, method)
				wantSum += i * 3
				wantLen += uint64(len(v))
				if err := b.Append(i*3, v); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Send(); err != nil {
				t.Fatal(err)
			}
			var n, sum, length uint64
			if err := s.Conn.QueryRow(ctx, "SELECT count(), sum(n), sum(length(s)) FROM "+table).Scan(&n, &sum, &length); err != nil {
				t.Fatal(err)
			}
			if n != rows || sum != wantSum || length != wantLen {
				t.Fatalf("read back count %d sum %d length %d, want %d %d %d", n, sum, length, rows, wantSum, wantLen)
			}
			// And rows streamed back, not just an aggregate.
			got, err := s.Conn.Query(ctx, "SELECT s FROM "+table+" ORDER BY n")
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			var i uint64
			for got.Next() {
				var v string
				if err := got.Scan(&v); err != nil {
					t.Fatal(err)
				}
				if want := fmt.Sprintf("event-%d-%s", i*7919%rows, method); v != want {
					t.Fatalf("row %d = %q, want %q", i, v, want)
				}
				i++
			}
			if err := got.Err(); err != nil || i != rows {
				t.Fatalf("streamed %d rows (error %v), want %d", i, err, rows)
			}
		})
	}
}
