package app

import (
	"context"
	"time"

	"github.com/adoptscope/adoptscope/alert"
	"github.com/adoptscope/adoptscope/annotation"
)

// startAlerts builds the alert service in the processes that serve the
// API and the dashboard or run the scheduler; the scheduler evaluates the
// rules after each complete day or week (it checks every minute), once
// across processes. Notifications obey the webhook address rules.
func (a *App) startAlerts(ctx context.Context, mode Mode) error {
	if !mode.Web && !mode.Scheduler {
		return nil
	}
	if a.Annotations == nil {
		a.Annotations = annotation.New(a.Backend.Store, a.Cfg.Registry())
	}
	svc := alert.NewService(a.Backend.Store, a.Annotations, a.Cfg.Registry(), a.Log.With("part", "alerts"))
	svc.MaxPerDay = a.Cfg.Alerts.MaxPerDay
	svc.Owners = a.Cfg.OwnersOrDefault()
	svc.Settle = a.Cfg.Exports.ClaimSettle
	svc.Send = alert.Sender{To: WebhookDestinations(ctx, &a.Cfg), PublicURL: a.Cfg.AlertPublicURL(),
		SMTP: alert.SMTP{Host: a.Cfg.Alerts.SMTPHost, Port: a.Cfg.Alerts.SMTPPort, User: a.Cfg.Alerts.SMTPUser,
			Password: a.Cfg.Alerts.SMTPPassword, From: a.Cfg.Alerts.SMTPFrom}}
	a.Alerts = svc
	if mode.Scheduler {
		a.started(alertsPart{svc.Start(time.Minute), a.Cfg.ShutdownTimeout})
		a.Log.Info("alert rules evaluated after each complete day and week", "max_per_day", svc.MaxPerDay, "public_url", svc.Send.PublicURL)
	}
	return nil
}

type alertsPart struct {
	l       *alert.Loop
	timeout time.Duration
}

func (p alertsPart) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, orDefault(p.timeout, 30*time.Second))
	defer cancel()
	return p.l.Stop(ctx)
}
