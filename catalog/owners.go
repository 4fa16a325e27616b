package catalog

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Owners says who makes each assistant and who owns each channel, so that
// "platform dependency" means what it says: the channels an assistant's
// maker does not control. A channel without an owner is an assistant's
// own app or site (iOS, Android, web, desktop, phone, SMS, API: each maker
// runs its own there); a channel with an owner (WhatsApp, Messenger,
// Instagram: Meta; Telegram) is controlled by that owner only, so it is
// Meta AI's own but a dependency for ChatGPT.
type Owners struct {
	Makers   map[string]string // assistant slug → maker
	Channels map[string]string // channel slug → owner
}

// DefaultOwnersSpec is the default table in the form of ADOPTSCOPE_OWNERS.
const DefaultOwnersSpec = "Meta=meta_ai,whatsapp,messenger,instagram;OpenAI=chatgpt;Microsoft=copilot;Perplexity=perplexity;Telegram=telegram"

// DefaultOwners: Meta makes Meta AI and owns WhatsApp, Messenger and
// Instagram; OpenAI makes ChatGPT, Microsoft Copilot, Perplexity
// Perplexity; Telegram owns Telegram.
func DefaultOwners() Owners {
	o, err := ParseOwners(DefaultOwnersSpec, Registry{})
	if err != nil {
		panic("catalog: default owners: " + err.Error())
	}
	return o
}

// ParseOwners reads the form of ADOPTSCOPE_OWNERS: owners separated by
// ';', each "Owner=slug,slug,…" where each slug is an assistant the owner
// makes or a channel it owns, told apart by the registry reg (a slug must
// be a known assistant or channel, not both). Owner names are what pages
// show ("Meta"): letters, digits, spaces, '.', '&' and '-'. An empty spec
// is the default table; a given spec replaces it whole.
//
// The default table is held to the registry leniently: its slugs that the
// registry does not list are left out (a registry of other assistants
// keeps the default owners of the channels it has).
func ParseOwners(spec string, reg Registry) (Owners, error) {
	lenient := strings.TrimSpace(spec) == ""
	if lenient {
		spec = DefaultOwnersSpec
	}
	o := Owners{Makers: map[string]string{}, Channels: map[string]string{}}
	assistants, channels := reg.Values(Assistant), reg.Values(Channel)
	var errs []error
	for _, part := range strings.Split(spec, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, list, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || !validOwner(name) {
			errs = append(errs, fmt.Errorf("owners %q: want Owner=slug,slug (for example Meta=meta_ai,whatsapp), owners separated by ';'", part))
			continue
		}
		for _, slug := range strings.Split(list, ",") {
			slug = strings.TrimSpace(slug)
			if slug == "" {
				continue
			}
			isA, isC := slices.Contains(assistants, slug), slices.Contains(channels, slug)
			switch {
			case isA && isC:
				errs = append(errs, fmt.Errorf("owners: %q is both an assistant and a channel", slug))
			case isA:
				if prev, dup := o.Makers[slug]; dup && prev != name {
					errs = append(errs, fmt.Errorf("owners: assistant %q is given two makers, %s and %s", slug, prev, name))
				}
				o.Makers[slug] = name
			case isC:
				if prev, dup := o.Channels[slug]; dup && prev != name {
					errs = append(errs, fmt.Errorf("owners: channel %q is given two owners, %s and %s", slug, prev, name))
				}
				o.Channels[slug] = name
			case lenient:
			default:
				errs = append(errs, fmt.Errorf("owners: %q is neither a known assistant (%s) nor a known channel (%s)",
					slug, strings.Join(assistants, ", "), strings.Join(channels, ", ")))
			}
		}
	}
	return o, errors.Join(errs...)
}

func validOwner(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ' || c == '.' || c == '&' || c == '-') {
			return false
		}
	}
	return true
}

// Maker is the maker of assistant; "" when unknown.
func (o Owners) Maker(assistant string) string { return o.Makers[assistant] }

// Owner is the owner of channel; "" for a channel each maker runs itself.
func (o Owners) Owner(channel string) string { return o.Channels[channel] }

// Controls reports whether the maker of assistant controls channel: the
// channel has no owner (the assistant's own app or site), or its owner is
// the maker. An assistant of unknown maker controls only channels without
// an owner.
func (o Owners) Controls(assistant, channel string) bool {
	owner := o.Channels[channel]
	if owner == "" {
		return true
	}
	m := o.Makers[assistant]
	return m != "" && m == owner
}

// Dependent lists, sorted, the channels of channels that assistant's
// maker does not control.
func (o Owners) Dependent(assistant string, channels []string) []string {
	var out []string
	for _, c := range channels {
		if !o.Controls(assistant, c) {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// OwnedChannels lists, sorted, every channel with an owner.
func (o Owners) OwnedChannels() []string {
	var out []string
	for c := range o.Channels {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}
