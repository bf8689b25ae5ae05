"""Load: 20 simulated users ask questions for 60 s while a rebuild adds a document.

Starts the real app on loopback, measures the warm single-question latency over
the same HTTP API first (the baseline), then runs locust headless. Midway, `qa add`
adds a document and rebuilds the index under the running app, which must keep
answering and then answer from the new index without a restart.

    python bench/load.py [--users 20] [--seconds 60]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from common import QUESTIONS, ROOT, parse_result, pct

NEW_DOC = ("# Harbour Museum\n\nThe Harbour Museum keeps 340 ship models; the oldest dates from 1602.\n"
           "It opens at nine in the morning and closes at five in the evening.\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(client: httpx.Client, question: str) -> dict:
    r = client.post("/gradio_api/call/ask", json={"data": [question, 3, [], None]})
    event_id = r.json()["event_id"]
    return parse_result(client.get(f"/gradio_api/call/ask/{event_id}").text) or {}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qa-load-"))
    shutil.copytree(ROOT / "corpus", work / "corpus")
    qa = str(Path(sys.executable).parent / "qa")
    subprocess.run([qa, "build", "--corpus", str(work / "corpus"), "--index", str(work / "index")], check=True,
                   capture_output=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--corpus",
                            str(work / "corpus"), "--index", str(work / "index"), "--admin-password", "load",
                            # All simulated users share one loopback address here, where real users have
                            # one each: lift the per-client limit so that it measures the server, not the limit.
                            "--rate-limit", "100000/minute"],
                           stdout=open(work / "app.log", "w"), stderr=subprocess.STDOUT)
    try:
        client = httpx.Client(base_url=url, timeout=60)
        for _ in range(240):
            try:
                client.get("/")
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        questions = [json.loads(x)["question"] for x in QUESTIONS.read_text().splitlines() if x.strip()]
        for q in questions[:5]:
            ask(client, q)  # warm up
        single = []
        for q in questions * 2:
            t = time.perf_counter()
            reply = ask(client, q)
            assert "found" in reply and not reply.get("error"), (q, reply)
            single.append(time.perf_counter() - t)

        rebuild: dict = {}

        def add_document() -> None:
            time.sleep(args.seconds / 3)
            doc = work / "harbour.md"
            doc.write_text(NEW_DOC)
            t = time.perf_counter()
            out = subprocess.run([qa, "add", str(doc), "--corpus", str(work / "corpus"), "--index", str(work / "index")],
                                 capture_output=True, text=True)
            rebuild["seconds"] = round(time.perf_counter() - t, 1)
            rebuild["ok"] = out.returncode == 0
            rebuild["output"] = out.stdout.strip().splitlines()[-1:] or out.stderr.strip().splitlines()[-1:]
            time.sleep(2)
            hit = ask(client, "How many ship models does the Harbour Museum keep?")
            rebuild["new document answered"] = bool(hit.get("found")) and hit["hits"][0]["source"] == "harbour.md"

        adder = threading.Thread(target=add_document)
        adder.start()
        prefix = work / "locust"
        env = {**os.environ, "QA_LOAD_QUESTIONS": str(QUESTIONS)}
        subprocess.run([str(Path(sys.executable).parent / "locust"), "-f", str(Path(__file__).parent / "locustfile.py"),
                        "--headless", "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s",
                        "--host", url, "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"],
                       env=env, check=False, capture_output=True)
        adder.join()
        with open(f"{prefix}_stats.csv") as fh:
            rows = {r["Name"]: r for r in csv.DictReader(fh)}
        rt = rows["answer (round trip)"]
        single_p50 = pct(single, 50) * 1000
        out = {
            "users": args.users, "seconds": args.seconds,
            "single question p50 ms (baseline, same HTTP API)": round(single_p50, 1),
            "requests": int(rt["Request Count"]), "failed answers": int(rt["Failure Count"]),
            "p50 ms": float(rt["50%"]), "p95 ms": float(rt["95%"]), "p99 ms": float(rt["99%"]),
            "p95 / single p50": round(float(rt["95%"]) / single_p50, 2),
            "requests/s": round(float(rt["Requests/s"]), 1),
            "http errors": sum(int(r["Failure Count"]) for n, r in rows.items() if n.startswith("/ask")),
            "rebuild during load": rebuild,
            "tracebacks in app log": (work / "app.log").read_text().count("Traceback"),
        }
        print(json.dumps(out, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2))
    finally:
        app.terminate()
        app.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
