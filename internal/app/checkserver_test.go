package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

// check-server passes on 18.16, in a scratch database that is gone
// afterwards, and checks active users against the events it wrote.
func TestCheckServerOn1816(t *testing.T) {
	srv := chtest.Server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := CheckServer(ctx, chtest.Config(srv, "unused"), false, chtest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Steps) < 9 || !strings.HasPrefix(rep.Database, "adoptscope_check_") {
		t.Fatalf("report %+v", rep)
	}
	s := chtest.NewEmptyStore(t)
	var n uint64
	if err := s.Conn.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", rep.Database).Scan(&n); err != nil || n != 0 {
		t.Fatalf("scratch database %s left behind (%d, %v)", rep.Database, n, err)
	}
}
