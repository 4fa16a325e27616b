package app

import "context"

// startAPI mounts the query API (/api/v1/) when the mode runs the web side.
func startAPI(ctx context.Context, d *Deps, mode Mode) (part, error) {
	return nil, nil
}
