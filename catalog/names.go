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

// defaultOwners is the default owners table (owners.go).
var defaultOwners = DefaultOwners()

// ThirdParty reports whether channel belongs to a platform (it has an
// owner in the default owners table) rather than being every assistant's
// own app or site. Whether it is a dependency depends on the assistant:
// see Owners.Controls.
func ThirdParty(channel string) bool { return defaultOwners.Owner(channel) != "" }
