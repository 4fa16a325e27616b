package rollup

import (
	"context"
	"log/slog"

	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// BuildAll builds the rollups of everything s's events table holds, in one
// catch-up: what a test does after writing events and before reading the
// rollups (a test binary's TestMain passes it to chtest.Main). On a
// cluster it does nothing (see Builder.Enabled): the views build the
// rollups inside the insert there.
func BuildAll(ctx context.Context, s *store.Store, log *slog.Logger) error {
	_, err := New(s, Config{}, log).CatchUp(ctx)
	return err
}
