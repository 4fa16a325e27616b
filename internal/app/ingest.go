package app

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/adapters/ingestapi"
	"github.com/adoptscope/adoptscope/internal/adapters/sdkapi"
	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/auth"
)

// ingestPart flushes what was accepted when the process stops.
type ingestPart struct {
	p       *ingest.Pipeline
	timeout time.Duration
}

func (ip ingestPart) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, ip.timeout)
	defer cancel()
	return ip.p.Close(ctx)
}

// startIngest mounts POST /v1/events and /metrics when the mode runs ingest.
func (d *App) startIngest(ctx context.Context, mode Mode) error {
	if !mode.Ingest {
		return nil
	}
	icfg, err := IngestConfig(d.Cfg)
	if err != nil {
		return err
	}
	tokens, generated, err := IngestTokens(d.Cfg)
	if err != nil {
		return err
	}
	p, err := ingest.NewPipeline(d.Backend.Store, icfg, d.Log)
	if err != nil {
		return err
	}
	// Stopped (flushed) with the rest, even when a step below fails.
	timeout := d.Cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	d.started(ingestPart{p: p, timeout: timeout})
	if generated != "" {
		fmt.Fprintf(d.Stdout, "Ingest token (kept in %s): %s\n  curl -H 'Authorization: Bearer %s' -H 'Content-Type: application/x-ndjson' --data-binary @events.ndjson http://%s/v1/events\n",
			filepath.Join(d.Cfg.DataDir, "ingest-token"), generated, generated, d.Cfg.Addr)
	}
	d.Ingest = p
	events, err := ingestapi.New(ingestapi.Deps{Pipeline: p, Tokens: auth.NewTokens(tokens), Log: d.Log})
	if err != nil {
		return err
	}
	events.Register(d.Server.Echo)
	// PostHog- and Segment-compatible endpoints, through the same pipeline.
	sdk, err := ingest.NewSDK(p, d.Cfg.SDKMapping())
	if err != nil {
		return err
	}
	d.SDK = sdk
	sdkEndpoints, err := sdkapi.New(sdkapi.Deps{SDK: sdk, Tokens: auth.NewTokens(tokens), Log: d.Log})
	if err != nil {
		return err
	}
	sdkEndpoints.Register(d.Server.Echo)
	reg := p.Metrics().Registry
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if d.Backend.Rollups != nil {
		d.Backend.Rollups.Register(reg)
	}
	d.Server.Echo.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	go func() {
		// Shutdown begins: answer the requests in flight now, not at the
		// end of the flush interval.
		<-ctx.Done()
		p.Flush()
	}()
	d.Log.Info("ingest ready", "batch_rows", icfg.BatchRows, "flush_interval", icfg.FlushInterval, "dedup_window", icfg.DedupWindow)
	return nil
}

// IngestConfig builds the pipeline configuration from the bound config,
// loading or generating the user key secret.
func IngestConfig(cfg config.Config) (ingest.Config, error) {
	in := cfg.Ingest
	secret := []byte(in.UserKeySecret)
	if len(secret) == 0 {
		s, _, err := loadOrCreate(filepath.Join(cfg.DataDir, "user-key-secret"))
		if err != nil {
			return ingest.Config{}, fmt.Errorf("user key secret: %w (or set ADOPTSCOPE_USER_KEY_SECRET)", err)
		}
		secret = []byte(s)
	}
	c := ingest.Config{
		Secret: secret, Assistants: in.Assistants, Channels: in.Channels, EventTypes: in.EventTypes,
		BatchRows: in.BatchRows, FlushInterval: in.FlushInterval, Writes: in.Writes, MaxBody: int64(in.MaxBody), MaxLine: in.MaxLine,
		DedupWindow:   in.DedupWindow,
		NoDedupFilter: !in.DedupFilter, DedupFilterBits: in.DedupFilterBits, DedupFilterMemory: int64(in.DedupFilterMiB) << 20,
	}
	return c, c.Validate()
}

// IngestTokens returns the accepted ingest tokens: the configured ones plus
// those of the tokens file; with none, a local token generated once into
// the data folder, also returned as generated so that it can be shown.
func IngestTokens(cfg config.Config) (tokens []string, generated string, err error) {
	tokens = append(tokens, cfg.IngestTokens...)
	if f := cfg.Ingest.TokensFile; f != "" {
		file, err := os.Open(f)
		if err != nil {
			return nil, "", fmt.Errorf("--ingest-tokens-file / ADOPTSCOPE_INGEST_TOKENS_FILE: %w", err)
		}
		defer file.Close()
		sc := bufio.NewScanner(file)
		for sc.Scan() {
			if t := strings.TrimSpace(sc.Text()); t != "" && !strings.HasPrefix(t, "#") {
				tokens = append(tokens, t)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, "", fmt.Errorf("--ingest-tokens-file %s: %w", f, err)
		}
	}
	if len(tokens) > 0 {
		return tokens, "", nil
	}
	tok, _, err := loadOrCreate(filepath.Join(cfg.DataDir, "ingest-token"))
	if err != nil {
		return nil, "", fmt.Errorf("local ingest token: %w (or set ADOPTSCOPE_INGEST_TOKENS)", err)
	}
	return []string{tok}, tok, nil
}

// loadOrCreate reads a secret file, or creates it (0600) with 32 random
// bytes in hex. Creation is exclusive, so two processes starting at once
// end up with the same value (auth.LoadOrCreateSecret).
func loadOrCreate(path string) (string, bool, error) {
	v, created, err := auth.LoadOrCreateSecret(path, auth.HexSecret(32))
	if err != nil {
		return "", false, err
	}
	if len(v) < 16 {
		return "", false, fmt.Errorf("%s holds fewer than 16 characters; delete it to generate a new one", path)
	}
	return string(v), created, nil
}
