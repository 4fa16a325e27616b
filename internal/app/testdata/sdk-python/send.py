"""Sends 30 events (10 people) with posthog-python in capture_mode="v1" to
the AdoptScope instance at $ADOPTSCOPE_URL, key $ADOPTSCOPE_KEY, then the
same 30 events again (same uuids), and prints one JSON line: the errors the
SDK reported. Driven by internal/app/sdk_capturev1_test.go."""

import json
import os
import uuid

from posthog import Posthog

url = os.environ["ADOPTSCOPE_URL"]
key = os.environ["ADOPTSCOPE_KEY"]
run = os.environ.get("ADOPTSCOPE_RUN", "r")
errors = []


def on_error(e, batch):
    errors.append(f"{e} drops={getattr(e, 'drops', None)}")


ph = Posthog(
    key,
    host=url,
    capture_mode="v1",
    capture_compression="gzip",
    on_error=on_error,
    flush_at=100,
    flush_interval=0.2,
    max_retries=3,
    timeout=20,
)
assistants = ["chatgpt", "copilot", "meta_ai", "perplexity"]
channels = ["web", "ios", "whatsapp"]
for send in range(2):
    for i in range(30):
        ph.capture(
            "Message Sent",
            distinct_id=f"py-person-{i % 10}-{run}",
            uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"adoptscope-test/{run}/{i}")),
            properties={"ai_product": assistants[i % 4], "channel": channels[i % 3], "count": i % 5 + 1},
        )
    ph.flush()
ph.shutdown()
print(json.dumps({"sdk": "posthog-python", "errors": errors}))
