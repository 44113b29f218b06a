"""Open a page in headless Chromium and watch it through the DevTools protocol.

Chromium (Debian's package; `make test` installs it) is started with a fresh profile
and `--remote-debugging-port=0`; the port it picked is read from the profile's
`DevToolsActivePort` file, and the protocol is spoken over a WebSocket with aiohttp.
`open_page` loads a file and returns what a test asserts on: console errors, uncaught
exceptions, log errors (CSP violations and failed loads among them), every network
request the page made, the value of a JavaScript expression evaluated in it, and,
if asked, a full-page PNG screenshot.

    python -m tests.runtime.browser out/report.html docs/report.png
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
)


class BrowserMissing(Exception):
    pass


def chromium() -> str:
    """The Chromium binary: $TASKSEED_CHROMIUM (a path or a name), else `chromium`."""
    name = os.environ.get("TASKSEED_CHROMIUM") or "chromium"
    found = shutil.which(name)
    if found is None:
        raise BrowserMissing(
            f"Chromium (`{name}`) not found: `make test` installs it (Debian's chromium "
            "package), or set TASKSEED_CHROMIUM to a Chrome or Chromium binary"
        )
    return found


@dataclass
class PageResult:
    value: Any  # the evaluated expression's value
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    log_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    screenshot: bytes | None = None

    @property
    def errors(self) -> list[str]:
        return self.console_errors + self.exceptions + self.log_errors


class _Session:
    """Commands and events over one DevTools WebSocket (flattened target sessions)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data:
                future = self.pending.pop(data["id"])
                if "error" in data:
                    future.set_exception(RuntimeError(f"DevTools error: {data['error']}"))
                else:
                    future.set_result(data.get("result", {}))
            else:
                self.events.append(data)
                self.arrived.set()

    async def send(self, method: str, session: str | None = None, **params: Any) -> Any:
        ident = next(self.ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[ident] = future
        await self.ws.send_str(json.dumps(message))
        return await asyncio.wait_for(future, 30)

    async def wait_for(self, method: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {method} event within {timeout} s")
            try:
                await asyncio.wait_for(self.arrived.wait(), left)
            except TimeoutError:
                continue


def _port(profile: Path, proc: subprocess.Popen[bytes], log: Path) -> tuple[int, str]:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if marker.is_file():
            lines = marker.read_text().splitlines()
            if len(lines) >= 2:
                return int(lines[0]), lines[1]
        if proc.poll() is not None:
            raise RuntimeError(f"Chromium exited ({proc.returncode}): {log.read_text()[-2000:]}")
        time.sleep(0.05)
    raise TimeoutError("Chromium did not open its DevTools port within 60 s")


async def _drive(
    port: int, path: str, url: str, expression: str, screenshot_width: int | None
) -> PageResult:
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0) as ws,
    ):
        cdp = _Session(ws)
        target = await cdp.send("Target.createTarget", url="about:blank")
        attached = await cdp.send(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            await cdp.send(f"{domain}.enable", session)
        await cdp.send("Page.navigate", session, url=url)
        await cdp.wait_for("Page.loadEventFired")
        await asyncio.sleep(0.3)  # late console messages and requests
        evaluated = await cdp.send(
            "Runtime.evaluate", session, expression=expression, returnByValue=True
        )
        if "exceptionDetails" in evaluated:
            raise RuntimeError(f"the expression failed: {evaluated['exceptionDetails']}")
        result = PageResult(value=evaluated["result"].get("value"))
        if screenshot_width is not None:
            # the width first: the page's height depends on it
            await cdp.send(
                "Emulation.setDeviceMetricsOverride",
                session,
                width=screenshot_width,
                height=800,
                deviceScaleFactor=1,
                mobile=False,
            )
            size = await cdp.send(
                "Runtime.evaluate",
                session,
                expression="document.documentElement.scrollHeight",
                returnByValue=True,
            )
            await cdp.send(
                "Emulation.setDeviceMetricsOverride",
                session,
                width=screenshot_width,
                height=int(size["result"]["value"]),
                deviceScaleFactor=1,
                mobile=False,
            )
            shot = await cdp.send("Page.captureScreenshot", session, format="png")
            result.screenshot = base64.b64decode(shot["data"])
        for event in cdp.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                args = params.get("args", [])
                result.console_errors.append(" ".join(str(a.get("value", a)) for a in args))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                described = details.get("exception", {}).get("description")
                result.exceptions.append(str(described or details.get("text")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                result.log_errors.append(str(params["entry"].get("text")))
            elif method == "Network.requestWillBeSent":
                result.requests.append(params["request"]["url"])
        cdp.reader.cancel()
        return result


def open_page(
    page: Path, expression: str = "document.title", *, screenshot_width: int | None = None
) -> PageResult:
    """Load `page` in a fresh headless Chromium; see the module's docstring."""
    binary = chromium()
    with tempfile.TemporaryDirectory(prefix="taskseed-chromium-") as tmp:
        profile = Path(tmp) / "profile"
        log = Path(tmp) / "chromium.log"
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdout=sink,
                stderr=sink,
                start_new_session=True,  # its helper processes share one group
            )
        try:
            port, path = _port(profile, proc, log)
            url = page.resolve().as_uri()
            return asyncio.run(_drive(port, path, url, expression, screenshot_width))
        finally:
            _stop_group(proc)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop Chromium and every helper process it started, and wait until all are gone.

    The renderer and utility processes outlive the browser process by a moment and
    keep writing into the profile; removing the profile before they exit fails."""
    group = proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        proc.poll()  # reap the leader, or the group never empties
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    proc.wait()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tests.runtime.browser REPORT.html SCREENSHOT.png", file=sys.stderr)
        return 2
    result = open_page(Path(argv[0]), screenshot_width=1280)
    if result.errors:
        print("\n".join(result.errors), file=sys.stderr)
        return 1
    assert result.screenshot is not None
    Path(argv[1]).write_bytes(result.screenshot)
    print(f"wrote {argv[1]} ({len(result.screenshot)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
