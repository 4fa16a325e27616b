package app

import "context"

// startWeb mounts the dashboard and the query API when the mode runs them.
func startWeb(ctx context.Context, d *Deps, mode Mode) (part, error) {
	return nil, nil
}
