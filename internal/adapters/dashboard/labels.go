package dashboard

import "strings"

var labels = map[string]string{
	"chatgpt": "ChatGPT", "meta_ai": "Meta AI", "copilot": "Copilot", "perplexity": "Perplexity",
	"whatsapp": "WhatsApp", "ios": "iOS", "android": "Android", "web": "Web", "desktop": "Desktop",
	"messenger": "Messenger", "instagram": "Instagram", "telegram": "Telegram", "phone": "Phone",
	"sms": "SMS", "api": "API", "text": "Text", "voice": "Voice", "image": "Image input",
	"image_generation": "Image generation", "file": "File", "stayed": "Stayed", "inactive": "Inactive",
}

// Label is the display name of a slug (assistant, channel, modality).
func Label(slug string) string {
	if l, ok := labels[slug]; ok {
		return l
	}
	if slug == "" {
		return "(none)"
	}
	return strings.ToUpper(slug[:1]) + strings.ReplaceAll(slug[1:], "_", " ")
}

func joinComma(xs []string) string { return strings.Join(xs, ",") }

// thirdParty are the channels an assistant does not control: the
// platform-dependency view of the Channel page adds them up.
var thirdParty = map[string]bool{"whatsapp": true, "messenger": true, "instagram": true, "telegram": true}
