package rollup

import (
	"context"
	"time"
)

// The internals the tests of package rollup_test drive directly (that
// package imports chtest, which imports this one).

var ErrLeaseHeld = errLeaseHeld

func (b *Builder) Horizon(ctx context.Context) (time.Time, error) {
	h, _, err := b.horizon(ctx)
	return h, err
}
func (b *Builder) ServerNow(ctx context.Context) (time.Time, error) { return b.serverNow(ctx) }

// BuildOnce is one build up to the horizon.
func (b *Builder) BuildOnce(ctx context.Context) (Result, error) {
	r, err := b.build(ctx, time.Time{}, false)
	return r.Result, err
}

// TakeLease takes the lease and keeps it, as a builder that crashed would.
func (b *Builder) TakeLease(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, err := b.lease(ctx)
	return err
}

// Heartbeat checks the lease as a builder does before each window.
func (b *Builder) Heartbeat(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.heartbeat(ctx, false)
}

// Tick is one build of the background loop, which defers under load.
func (b *Builder) Tick(ctx context.Context) (Result, error) {
	r, err := b.build(ctx, time.Time{}, true)
	return r.Result, err
}
