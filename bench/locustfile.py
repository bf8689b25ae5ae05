"""Simulated chat users for bench/load.py: each asks a development question through the
app's public `/ask` endpoint (Gradio's HTTP API) and checks that the answer was found."""
from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

from locust import HttpUser, between, task

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import parse_result  # noqa: E402

QUESTIONS = [json.loads(x)["question"] for x in
             Path(os.environ.get("QA_LOAD_QUESTIONS", "")).read_text().splitlines() if x.strip()]


class ChatUser(HttpUser):
    wait_time = between(0.2, 1.0)  # a person reads before asking again

    @task
    def ask(self) -> None:
        question = random.choice(QUESTIONS)
        start = time.perf_counter()
        error: Exception | None = None
        try:
            r = self.client.post("/gradio_api/call/ask", json={"data": [question, 3, [], None]}, name="/ask submit")
            r.raise_for_status()
            event_id = r.json()["event_id"]
            r = self.client.get(f"/gradio_api/call/ask/{event_id}", name="/ask result")
            r.raise_for_status()
            result = parse_result(r.text)
            if result is None:
                raise RuntimeError("no complete event")
            # A failure is a broken reply; whether the answer is confident is quality, measured elsewhere.
            if "found" not in result or result.get("error") or (result["found"] and not result.get("hits")):
                raise RuntimeError(f"no valid answer for a development question: {question}: {result}")
        except Exception as exc:  # counted as a failed answer
            error = exc
        self.environment.events.request.fire(
            request_type="ASK", name="answer (round trip)", response_time=(time.perf_counter() - start) * 1000,
            response_length=0, exception=error, context={})
