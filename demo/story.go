// Package demo generates the synthetic demo data set: a consumer panel of
// people using four AI assistants over their channels, following the story
// of ChatGPT on WhatsApp (launch 2024-12-18, shutdown 2026-01-15). The
// generator is deterministic (same Config, same events), streams day by day
// in time order, and never holds more than one day of events in memory.
package demo

import (
	"time"

	"github.com/adoptscope/adoptscope/catalog"
)

func date(s string) time.Time {
	t, err := time.Parse(catalog.DateLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Dates of the story. The first three are real-world facts; the others are
// the scenario's own choices (annotated as synthetic).
var (
	ChatGPTWhatsAppLaunch = date("2024-12-18") // real
	PolicyText            = date("2025-10-18") // real: WhatsApp Business "AI providers" clause
	Shutdown              = date("2026-01-15") // real: ChatGPT and Copilot leave WhatsApp

	ImageInputDate       = date("2025-02-10") // synthetic
	VoiceInputDate       = date("2025-03-03") // synthetic
	ImageGenerationDate  = date("2025-06-16") // synthetic
	PerplexityWhatsApp   = date("2025-04-28") // synthetic: Perplexity's WhatsApp channel opens
	LinkingCampaignStart = date("2025-11-17") // synthetic: in-chat prompts to link an account
	DefaultFrom          = date("2024-06-01")
)

// Assistants and channels, by index. The generator uses indexes so a
// person's habits stay small.
var (
	assistants = []string{"chatgpt", "meta_ai", "copilot", "perplexity"}
	channels   = []string{"whatsapp", "ios", "android", "web", "desktop", "messenger", "instagram"}
)

const (
	aChatGPT = iota
	aMetaAI
	aCopilot
	aPerplexity
)

const (
	cWhatsApp = iota
	cIOS
	cAndroid
	cWeb
	cDesktop
	cMessenger
	cInstagram
)

type weighted struct {
	channel int
	weight  float64
}

// assistantWeights: a person's main assistant (ChatGPT on WhatsApp is
// assigned separately, see segments).
var assistantWeights = []float64{aChatGPT: 0.50, aMetaAI: 0.27, aCopilot: 0.12, aPerplexity: 0.11}

// channelWeights: plausible channel sets per assistant (without ChatGPT on
// WhatsApp, which comes from the segments).
var channelWeights = [][]weighted{
	aChatGPT:    {{cIOS, 0.30}, {cAndroid, 0.32}, {cWeb, 0.30}, {cDesktop, 0.08}},
	aMetaAI:     {{cWhatsApp, 0.50}, {cMessenger, 0.20}, {cInstagram, 0.20}, {cWeb, 0.10}},
	aCopilot:    {{cWeb, 0.40}, {cDesktop, 0.25}, {cAndroid, 0.13}, {cIOS, 0.10}, {cWhatsApp, 0.12}},
	aPerplexity: {{cWeb, 0.40}, {cIOS, 0.20}, {cAndroid, 0.20}, {cWhatsApp, 0.20}},
}

// countryWeights: where the panel's people live.
var countryWeights = []struct {
	code   string
	weight float64
}{
	{"IN", 18}, {"BR", 11}, {"US", 11}, {"ID", 7}, {"MX", 6}, {"NG", 5}, {"EG", 4},
	{"DE", 4}, {"GB", 4}, {"FR", 3.5}, {"ES", 3}, {"IT", 3}, {"TR", 3}, {"ZA", 3},
	{"PK", 3}, {"AR", 2.5}, {"CO", 2.5}, {"PH", 2.5}, {"KE", 2}, {"SA", 2},
}

// weekdayFactor: weekly seasonality of daily activity (Sunday first).
var weekdayFactor = [7]float64{0.74, 1.0, 1.02, 1.02, 1.0, 0.95, 0.80}

// Segments of the panel, by share of people. The cohort is everyone who
// still uses ChatGPT on WhatsApp in the weeks before the shutdown; triers
// used it for a while and stopped at least two months before.
const (
	CohortShare = 0.22
	TrierShare  = 0.08
	// LinkedShare of the cohort link their ChatGPT account before the shutdown.
	LinkedShare = 0.40
	// MetaAIBumpShare of the other people start on Meta AI on WhatsApp in the
	// six weeks after the shutdown.
	MetaAIBumpShare = 0.06
)

// Outcome is where a cohort member goes after the shutdown: an assistant and
// channel, or nowhere (Assistant and Channel empty: inactive).
type Outcome struct {
	Assistant, Channel string
	Linked, Unlinked   float64 // share among linked and unlinked cohort members
}

// Outcomes are the migration proportions the generator aims for. Cohort
// members use only their outcome's assistant and channel from the shutdown
// on, so query.Migration sees exactly these (the assignment is stratified,
// not sampled: the shares hold to a fraction of a percent at any size).
var Outcomes = []Outcome{
	{"chatgpt", "android", 0.28, 0.14},
	{"chatgpt", "ios", 0.24, 0.12},
	{"chatgpt", "web", 0.16, 0.08},
	{"meta_ai", "whatsapp", 0.12, 0.22},
	{"perplexity", "whatsapp", 0.05, 0.04},
	{"copilot", "web", 0.03, 0.03},
	{"", "", 0.12, 0.37},
}

// OutcomeShare is an outcome's expected share of the whole cohort.
func (o Outcome) Share() float64 { return LinkedShare*o.Linked + (1-LinkedShare)*o.Unlinked }

// modality shares per event, by channel kind, switched on at their dates on
// ChatGPT on WhatsApp.
type modalityMix struct{ voice, image, imageGen float64 }

func mixFor(a, c int, day int32) modalityMix {
	switch {
	case a == aChatGPT && c == cWhatsApp:
		var m modalityMix
		if day >= dayOf(ImageInputDate) {
			m.image = 0.09
		}
		if day >= dayOf(VoiceInputDate) {
			m.voice = 0.14
		}
		if day >= dayOf(ImageGenerationDate) {
			m.imageGen = 0.05
		}
		return m
	case a == aChatGPT:
		m := modalityMix{voice: 0.10, image: 0.07, imageGen: 0.02}
		if day >= dayOf(ImageGenerationDate) {
			m.imageGen = 0.06
		}
		return m
	case a == aMetaAI:
		return modalityMix{voice: 0.08, image: 0.06, imageGen: 0.05}
	case c == cWhatsApp:
		return modalityMix{voice: 0.06, image: 0.05}
	default:
		return modalityMix{voice: 0.05, image: 0.05, imageGen: 0.01}
	}
}

func dayOf(t time.Time) int32 { return int32(t.Unix() / 86400) }

func dayTime(d int32) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }
