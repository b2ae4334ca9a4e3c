"""Screenshots of the dashboard for the README, with the browser tests' tooling.

``python dashboard/screenshots.py [--artifacts artifacts] [--out dashboard/assets]`` starts
``streamlit run dashboard/Home.py`` on a free localhost port, opens pages in Debian's headless
Chromium through Playwright and saves one PNG per page.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: url path → (file name, heading to wait for)
SHOTS = {
    "": ("home", "EBSD phase mapping"),
    "confusion": ("confusion", "Confusion matrix"),
    "phase_maps": ("phase_maps", "Phase maps"),
    "embeddings": ("embeddings", "Embeddings"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(artifacts: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, EBSDLIB_ARTIFACTS=str(artifacts))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO / "dashboard" / "Home.py"),
            "--server.port",
            str(port),
            "--server.address",
            "localhost",
            "--server.headless",
            "true",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2)
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("streamlit did not start") from None
            time.sleep(0.3)


def take(url: str, out: Path, width: int = 1800, height: int = 1050) -> list[Path]:
    """Open each page of :data:`SHOTS` and save a screenshot of the visible window."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(120_000)
        for path, (name, heading) in SHOTS.items():
            page.goto(f"{url}/{path}")
            page.get_by_role("heading", name=heading).first.wait_for()
            page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
            page.wait_for_timeout(2500)  # let Plotly draw
            target = out / f"{name}.png"
            page.screenshot(path=str(target))
            saved.append(target)
        browser.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", default=str(REPO / "artifacts"))
    parser.add_argument("--out", default=str(REPO / "dashboard" / "assets"))
    args = parser.parse_args(argv)
    port = free_port()
    proc = start_server(Path(args.artifacts).resolve(), port)
    try:
        for path in take(f"http://localhost:{port}", Path(args.out)):
            print(path)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
