package app

import (
	"context"
	"fmt"
	"time"

	"github.com/adoptscope/adoptscope/rollup"
)

// rollupsPart builds the rollups behind ingest. It starts first so that it
// stops last: its final build comes after ingest and the demo load have
// flushed what they accepted.
type rollupsPart struct {
	stop func(context.Context) (rollup.Result, error)
}

func (p rollupsPart) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if _, err := p.stop(ctx); err != nil {
		return fmt.Errorf("rollups: final build (the next start builds the rest): %w", err)
	}
	return nil
}

// startRollups runs the builder in the processes that write events. Its
// loop has its own context: the process's ends when shutdown begins,
// before the writers have flushed.
func (a *App) startRollups(_ context.Context, mode Mode) error {
	b := a.Backend.Rollups
	if !(mode.Ingest || mode.Demo) || b == nil || !b.Enabled() {
		return nil
	}
	a.started(rollupsPart{stop: b.Behind()})
	return nil
}
