package app

import "context"

// startScheduler runs the export scheduler when the mode has it.
func startScheduler(ctx context.Context, d *Deps, mode Mode) (part, error) {
	return nil, nil
}
