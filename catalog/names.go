package catalog

// names are the proper names of the known slugs: how the makers spell
// their assistants and the platforms their channels, and what each
// modality is.
var names = map[string]string{
	"chatgpt": "ChatGPT", "meta_ai": "Meta AI", "copilot": "Copilot", "perplexity": "Perplexity",
	"whatsapp": "WhatsApp", "ios": "iOS", "android": "Android", "web": "Web", "desktop": "Desktop",
	"messenger": "Messenger", "instagram": "Instagram", "telegram": "Telegram", "phone": "Phone",
	"sms": "SMS", "api": "API", "text": "Text", "voice": "Voice", "image": "Image input",
	"image_generation": "Image generation", "file": "File",
}

// Name returns the proper name of a known assistant, channel or modality
// slug ("whatsapp": "WhatsApp"), and false for any other value.
func Name(slug string) (string, bool) {
	n, ok := names[slug]
	return n, ok
}

// thirdParty are the channels owned by a platform rather than by an
// assistant's maker: an assistant reaches people there on the platform
// owner's terms.
var thirdParty = map[string]bool{"whatsapp": true, "messenger": true, "instagram": true, "telegram": true}

// ThirdParty reports whether channel belongs to a platform that no
// assistant maker controls.
func ThirdParty(channel string) bool { return thirdParty[channel] }
