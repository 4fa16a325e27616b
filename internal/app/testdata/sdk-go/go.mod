module adoptscope.test/sdk-go

go 1.26

require (
	github.com/google/uuid v1.6.0
	github.com/posthog/posthog-go v1.23.1
)

require (
	github.com/andybalholm/brotli v1.1.1 // indirect
	github.com/goccy/go-json v0.10.6 // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
	github.com/klauspost/compress v1.17.11 // indirect
	golang.org/x/sys v0.21.0 // indirect
)
