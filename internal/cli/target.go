package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/adoptscope/adoptscope/internal/app"
	"github.com/adoptscope/adoptscope/internal/config"
)

// target is where a management command (annotate, export) does its work:
// the API of a running instance when --api is given, else the store,
// opened the way the app opens it (which `up` holds locked).
type target struct {
	api     *apiClient   // with --api
	backend *app.Backend // without
}

// openTarget picks the command's target; close it when done.
func openTarget(ctx context.Context, cfg *config.Config, apiURL, token string, timeout time.Duration) (target, error) {
	if apiURL != "" {
		c, err := newAPIClient(apiURL, token, timeout)
		if err != nil {
			return target{}, err
		}
		return target{api: &c}, nil
	}
	b, err := app.OpenBackend(ctx, cfg, logger(*cfg, io.Discard))
	if err != nil {
		return target{}, fmt.Errorf("%w (or talk to the running instance with --api http://HOST:PORT)", err)
	}
	return target{backend: b}, nil
}

// openClient opens the command's target and returns the client built for
// it: viaAPI with --api, viaStore otherwise. Call done when finished.
func openClient[C any](ctx context.Context, cfg *config.Config, apiURL, token string, timeout time.Duration,
	viaAPI func(apiClient) C, viaStore func(*app.Backend) C) (c C, done func(), err error) {
	t, err := openTarget(ctx, cfg, apiURL, token, timeout)
	if err != nil {
		return c, nil, err
	}
	if t.api != nil {
		return viaAPI(*t.api), t.close, nil
	}
	return viaStore(t.backend), t.close, nil
}

func (t target) close() {
	if t.backend != nil {
		t.backend.Close()
	}
}
