package demo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// Annotations are the dated notes the demo pre-loads: the real-world dates
// of the story as real, the scenario's own dates as synthetic. Their ids are
// fixed, so loading again rewrites them instead of adding copies.
func Annotations() []annotation.Annotation {
	d := func(t time.Time) string { return t.Format(catalog.DateLayout) }
	return []annotation.Annotation{
		{ID: "demo-chatgpt-whatsapp-launch", Start: d(ChatGPTWhatsAppLaunch), Kind: "launch", RealWorld: true,
			Assistant: "chatgpt", Channel: "whatsapp", Title: "ChatGPT launches on WhatsApp",
			Text: "OpenAI opens ChatGPT inside WhatsApp through a dedicated phone number."},
		{ID: "demo-whatsapp-ai-providers-policy", Start: d(PolicyText), Kind: "policy", RealWorld: true,
			Channel: "whatsapp", Title: "WhatsApp Business API: AI providers clause",
			Text: "Meta's policy text restricting general-purpose LLM chatbots on the WhatsApp Business API (reported as dated 18 October 2025, effective 15 January 2026)."},
		{ID: "demo-chatgpt-whatsapp-shutdown", Start: d(Shutdown), Kind: "shutdown", RealWorld: true,
			Assistant: "chatgpt", Channel: "whatsapp", Title: "ChatGPT leaves WhatsApp",
			Text: "ChatGPT on WhatsApp stops; users are pointed to the official apps. History carries over only for linked accounts."},
		{ID: "demo-copilot-whatsapp-shutdown", Start: d(Shutdown), Kind: "shutdown", RealWorld: true,
			Assistant: "copilot", Channel: "whatsapp", Title: "Copilot leaves WhatsApp",
			Text: "Microsoft Copilot on WhatsApp ends the same day (reported); its chats were unauthenticated, so no history moves."},
		{ID: "demo-chatgpt-whatsapp-image-input", Start: d(ImageInputDate), Kind: "feature",
			Assistant: "chatgpt", Channel: "whatsapp", Title: "Image input on ChatGPT WhatsApp (demo scenario date)"},
		{ID: "demo-chatgpt-whatsapp-voice-input", Start: d(VoiceInputDate), Kind: "feature",
			Assistant: "chatgpt", Channel: "whatsapp", Title: "Voice messages on ChatGPT WhatsApp (demo scenario date)"},
		{ID: "demo-chatgpt-whatsapp-image-generation", Start: d(ImageGenerationDate), Kind: "feature",
			Assistant: "chatgpt", Channel: "whatsapp", Title: "Image generation on ChatGPT WhatsApp (demo scenario date)"},
		{ID: "demo-perplexity-whatsapp-launch", Start: d(PerplexityWhatsApp), Kind: "launch",
			Assistant: "perplexity", Channel: "whatsapp", Title: "Perplexity on WhatsApp (demo scenario date)"},
		{ID: "demo-chatgpt-account-linking", Start: d(LinkingCampaignStart), End: d(Shutdown.AddDate(0, 0, -1)), Kind: "other",
			Assistant: "chatgpt", Channel: "whatsapp", Title: "Account linking prompts (demo scenario)",
			Text: "In the demo, 40% of the people still using ChatGPT on WhatsApp link their account before the shutdown."},
		{ID: "demo-meta-ai-whatsapp-bump", Start: d(Shutdown), End: d(Shutdown.AddDate(0, 0, 59)), Kind: "other",
			Assistant: "meta_ai", Channel: "whatsapp", Title: "Meta AI on WhatsApp: attention after the shutdown (demo scenario)"},
	}
}

// Progress reports a load under way, and its result.
type Progress struct {
	Day        time.Time // the day being generated
	DayIndex   int       // 1-based
	Days       int
	Generated  int64 // events generated so far
	Accepted   int64
	Duplicates int64
	Skipped    int64 // before the resume point (already stored)
	Future     int64 // after LoadOptions.Until: not loaded
	Elapsed    time.Duration
}

// Rate is accepted plus duplicate events per second.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Accepted+p.Duplicates) / p.Elapsed.Seconds()
}

// LoadOptions tune Load.
type LoadOptions struct {
	// ChunkRows per Submit (default 50,000) and Workers submitting at once
	// (default 2): while the pipeline writes one batch, the next is being
	// validated and queued.
	ChunkRows int
	Workers   int
	// Progress is called about once a second and once at the end.
	Progress func(Progress)
	// Resume skips events older than the newest demo event already stored:
	// a load that was interrupted carries on, and loading again on a later
	// day adds only the new days. Events at the resume point go through
	// the pipeline's deduplication.
	Resume bool
	// Until drops events that would lie after it (default: now). The
	// generator makes whole days; real telemetry never reports the rest
	// of today ahead of time, so neither does the demo.
	Until time.Time
}

// Load writes the demo annotations, then generates cfg's events and submits
// them to p (validation, pseudonymization, deduplication and batching are
// the pipeline's).
func Load(ctx context.Context, s *store.Store, p *ingest.Pipeline, cfg Config, opt LoadOptions) (Progress, error) {
	g, err := New(cfg)
	if err != nil {
		return Progress{}, err
	}
	// The demo's scopes are in the default registry, as its events are.
	notes := annotation.New(s, catalog.Registry{})
	for _, a := range Annotations() {
		if _, err := notes.Save(ctx, a); err != nil {
			return Progress{}, fmt.Errorf("demo annotation %s: %w", a.ID, err)
		}
	}
	var resume time.Time
	if opt.Resume {
		if resume, err = lastDemoEvent(ctx, s); err != nil {
			return Progress{}, err
		}
	}
	if opt.ChunkRows <= 0 {
		opt.ChunkRows = 50_000
	}
	if opt.Workers <= 0 {
		opt.Workers = 2
	}
	if opt.Until.IsZero() {
		opt.Until = time.Now()
	}
	start := time.Now()
	var (
		mu       sync.Mutex
		prog     = Progress{Days: g.NumDays()}
		firstErr error
	)
	report := func(final bool) {
		if opt.Progress == nil {
			return
		}
		mu.Lock()
		pr := prog
		mu.Unlock()
		pr.Elapsed = time.Since(start)
		opt.Progress(pr)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan []ingest.Input, 1)
	free := make(chan []ingest.Input, opt.Workers+2)
	for range opt.Workers + 1 {
		free <- make([]ingest.Input, 0, opt.ChunkRows)
	}
	var wg sync.WaitGroup
	for range opt.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range chunks {
				res, err := submit(ctx, p, c)
				mu.Lock()
				switch {
				case err != nil && firstErr == nil:
					firstErr = err
					cancel()
				case err == nil && res.Rejected > 0 && firstErr == nil:
					firstErr = fmt.Errorf("demo: ingest rejected %d generated events (first: %s: %s)", res.Rejected, res.Errors[0].Field, res.Errors[0].Error)
					cancel()
				}
				prog.Accepted += int64(res.Accepted)
				prog.Duplicates += int64(res.Duplicates)
				mu.Unlock()
				free <- c[:0]
			}
		}()
	}

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	cur := <-free
	di := 0
	var generated, skipped, future int64
gen:
	for day, evs := range g.Days() {
		di++
		for _, e := range evs {
			generated++
			if e.Time.Before(resume) {
				skipped++
				continue
			}
			if e.Time.After(opt.Until) {
				future++
				continue
			}
			cur = append(cur, e)
			if len(cur) == opt.ChunkRows {
				select {
				case chunks <- cur:
				case <-ctx.Done():
					break gen
				}
				select {
				case cur = <-free:
				case <-ctx.Done():
					break gen
				}
			}
		}
		mu.Lock()
		prog.Day, prog.DayIndex, prog.Generated, prog.Skipped, prog.Future = day, di, generated, skipped, future
		mu.Unlock()
		select {
		case <-tick.C:
			report(false)
		default:
		}
	}
	if len(cur) > 0 && ctx.Err() == nil {
		chunks <- cur
	}
	close(chunks)
	wg.Wait()
	report(true)
	mu.Lock()
	defer mu.Unlock()
	prog.Elapsed = time.Since(start)
	if firstErr != nil {
		return prog, firstErr
	}
	if err := ctx.Err(); err != nil {
		return prog, fmt.Errorf("demo load interrupted: %w", err)
	}
	return prog, nil
}

// submit retries while the pipeline's buffer is full.
func submit(ctx context.Context, p *ingest.Pipeline, c []ingest.Input) (ingest.Result, error) {
	wait := 20 * time.Millisecond
	for {
		res, err := p.Submit(ctx, c)
		if !errors.Is(err, ingest.ErrBusy) {
			return res, err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ingest.Result{}, ctx.Err()
		}
		wait = min(2*wait, time.Second)
	}
}

func lastDemoEvent(ctx context.Context, s *store.Store) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var n uint64
	var t time.Time
	if err := s.Conn.QueryRow(ctx, "SELECT count(), max(event_time) FROM events WHERE source = ?", Source).Scan(&n, &t); err != nil {
		return time.Time{}, fmt.Errorf("demo: find the newest demo event: %w", err)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}
