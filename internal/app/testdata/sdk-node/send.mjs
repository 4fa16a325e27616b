// Sends a few calls with the real SDK named by argv[2] (posthog | segment)
// to the AdoptScope instance at $ADOPTSCOPE_URL, key $ADOPTSCOPE_KEY, then
// flushes and prints one JSON line: the errors the SDK reported.
// Driven by internal/app/sdk_node_test.go.
import { PostHog } from 'posthog-node'
import { Analytics } from '@segment/analytics-node'

const sdk = process.argv[2]
const url = process.env.ADOPTSCOPE_URL
const key = process.env.ADOPTSCOPE_KEY
const run = process.env.ADOPTSCOPE_RUN || 'r'
const errors = []

if (sdk === 'posthog') {
  const ph = new PostHog(key, {
    host: url, flushAt: 50, flushInterval: 0, fetchRetryCount: 5, fetchRetryDelay: 200, requestTimeout: 20000,
  })
  ph.on('error', (e) => errors.push(String(e && e.message ? e.message : e)))
  // usage events
  ph.capture({ distinctId: `ph-user-1-${run}`, event: 'Message Sent', properties: { ai_product: 'chatgpt', channel: 'whatsapp', modality: 'voice', count: 3, $geoip_country_code: 'FR' } })
  ph.capture({ distinctId: `ph-user-2-${run}`, event: 'message', properties: { ai_product: 'meta_ai', channel: 'web', linked: true } })
  // not usage events: skipped
  ph.capture({ distinctId: `ph-user-1-${run}`, event: '$pageview', properties: { $current_url: 'https://example.com/' } })
  ph.identify({ distinctId: `ph-user-1-${run}`, properties: { plan: 'pro' } })
  ph.capture({ distinctId: `ph-user-1-${run}`, event: 'Button Clicked', properties: {} })
  // a usage event without an assistant: rejected
  ph.capture({ distinctId: `ph-user-3-${run}`, event: 'message', properties: { channel: 'ios' } })
  await ph.shutdown(30000)
} else if (sdk === 'segment') {
  const an = new Analytics({ writeKey: key, host: url, flushAt: 50, flushInterval: 200, maxRetries: 5, httpRequestTimeout: 20000 })
  an.on('error', (e) => errors.push(String(e && e.reason ? e.reason : e && e.message ? e.message : e)))
  an.track({ userId: `sg-user-1-${run}`, event: 'Message Sent', properties: { ai_product: 'copilot', channel: 'android', count: 2 }, context: { location: { country: 'DE' } } })
  an.track({ anonymousId: `sg-anon-2-${run}`, event: 'message', properties: { ai_product: 'perplexity', channel: 'desktop', modality: 'image' } })
  an.identify({ userId: `sg-user-1-${run}`, traits: { plan: 'pro' } })
  an.page({ userId: `sg-user-1-${run}`, name: 'Home' })
  an.track({ userId: `sg-user-3-${run}`, event: 'message', properties: { ai_product: 'chatgpt' } })
  await an.closeAndFlush({ timeout: 30000 })
} else {
  console.error('usage: node send.mjs posthog|segment')
  process.exit(2)
}
console.log(JSON.stringify({ sdk, errors }))
