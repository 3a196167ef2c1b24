"""Headless Chromium driven over the Chrome DevTools Protocol, for the UI checks that need a
person's hands: `--dump-dom` renders a page but cannot fill in a form. A test types and clicks
as Input events at the place an element is drawn (so a control hidden or covered cannot be
used), and reads what the page shows. The `websockets` package (Prefect's dependency, so no new
one) carries the protocol; one connection, one page session."""

from __future__ import annotations

import base64
import itertools
import json
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from websockets.sync.client import ClientConnection, connect

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000"]  # fmt: skip
_IDS = itertools.count(1)  # message ids, unique on the one connection
LISTENING = re.compile(r"DevTools listening on (ws://\S+)")

# The element a test means, found as a person finds it: by CSS selector, or the smallest
# visible element whose text (or aria-label) is `text`. Its centre in viewport pixels, or null.
_LOCATE = """(([selector, text]) => {
  const shown = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const label = (e) => (e.innerText || e.getAttribute('aria-label') || e.value || '').trim();
  const all = [...document.querySelectorAll(selector || '*')].filter(shown);
  const hits = text === null ? all : all.filter((e) => label(e) === text);
  const el = hits.find((e) => !hits.some((o) => o !== e && e.contains(o)));
  if (!el) return null;
  el.scrollIntoView({block: 'center', inline: 'center'});
  const r = el.getBoundingClientRect();
  return {x: r.left + r.width / 2, y: r.top + r.height / 2};
})"""


class BrowserError(RuntimeError):
    """The page threw, or did not show what a wait asked for in time."""


class Page:
    """One tab: navigate, read, click, type, screenshot."""

    def __init__(self, ws: ClientConnection, session: str = "") -> None:
        self._ws = ws
        self._session = session  # "": commands to the browser itself (Target.*)

    def send(self, method: str, **params: object) -> dict:
        """One protocol command on this tab; its result (events that arrive meanwhile are not
        needed: the tests wait on what the page shows, not on events)."""
        message_id = next(_IDS)
        message = {"id": message_id, "method": method, "params": params}
        if self._session:
            message["sessionId"] = self._session
        self._ws.send(json.dumps(message))
        while True:
            reply = json.loads(self._ws.recv(timeout=60))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression: str) -> object:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)  # fmt: skip
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30, what: str = "") -> object:
        """Poll `expression` until it is truthy; its value. A bounded wait, not a sleep: the UI
        renders after its API calls, whose time varies with the machine."""
        deadline = time.monotonic() + timeout
        while not (value := self.evaluate(expression)):
            if time.monotonic() > deadline:
                shown = self.text()[:1500]
                raise BrowserError(f"waited {timeout} s for {what or expression}; page: {shown}")
            time.sleep(0.2)
        return value

    def navigate(self, url: str, timeout: float = 60) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'", timeout, f"{url} to load")

    def text(self) -> str:
        """What the page shows, as a person reads it."""
        return str(self.evaluate("document.body ? document.body.innerText : ''"))

    def wait_for_text(self, text: str, timeout: float = 30) -> None:
        self.wait_for(f"document.body.innerText.includes({json.dumps(text)})", timeout, repr(text))

    def click(self, selector: str | None = None, text: str | None = None) -> None:
        """Click the centre of the element (see _LOCATE) with the mouse, as a person would."""
        point = self.evaluate(f"{_LOCATE}({json.dumps([selector, text])})")
        if not isinstance(point, dict):
            raise BrowserError(f"nothing shown matches selector={selector!r} text={text!r}")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=point["x"], y=point["y"],
                      button="left" if kind != "mouseMoved" else "none", clickCount=1)  # fmt: skip

    def press(self, key: str, code: str, key_code: int, modifiers: int = 0) -> None:
        """One key down and up (`modifiers`: 2 is Ctrl), e.g. Backspace or Ctrl+A."""
        common = {"key": key, "code": code, "windowsVirtualKeyCode": key_code,
                  "modifiers": modifiers}  # fmt: skip
        self.send("Input.dispatchKeyEvent", type="rawKeyDown", **common)
        self.send("Input.dispatchKeyEvent", type="keyUp", **common)

    def type_text(self, text: str) -> None:
        """Type into whatever has the focus, as a keyboard's text (an IME commit)."""
        self.send("Input.insertText", text=text)

    def screenshot(self, path: Path) -> Path:
        """A PNG of the viewport, for a person to look at when a check fails."""
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@contextmanager
def launch(chromium: str, workdir: Path, timeout: float = 60) -> Iterator[Page]:
    """Headless Chromium with a fresh profile under `workdir`, one tab; the browser is ended
    (and waited for) however the test ends. The DevTools address is read from Chromium's
    stderr, which goes to workdir/chromium.log, so a full pipe can never stall the browser."""
    log = workdir / "chromium.log"
    with log.open("wb") as handle:
        browser = subprocess.Popen(
            [chromium, *FLAGS, "--remote-debugging-port=0",
             f"--user-data-dir={workdir / 'profile'}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=handle,
        )  # fmt: skip
    try:
        url = _devtools_url(browser, log, timeout)
        with connect(url, max_size=None, open_timeout=timeout) as ws:
            yield _open_tab(ws)
    finally:
        browser.terminate()
        try:
            browser.wait(timeout=20)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait()


def _devtools_url(browser: subprocess.Popen[bytes], log: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while not (found := LISTENING.search(log.read_text(errors="replace"))):
        if browser.poll() is not None or time.monotonic() > deadline:
            raise BrowserError(f"Chromium did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    return found.group(1)


def _open_tab(ws: ClientConnection) -> Page:
    """A new tab, attached in flat mode (its messages carry a sessionId on this connection)."""
    browser = Page(ws)
    target = browser.send("Target.createTarget", url="about:blank")
    attached = browser.send("Target.attachToTarget", targetId=target["targetId"], flatten=True)
    page = Page(ws, attached["sessionId"])
    page.send("Page.enable")
    page.send("Runtime.enable")
    return page
