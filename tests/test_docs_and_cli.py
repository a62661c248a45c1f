"""The README's Python blocks run, the CLI works against the scripted model, and the docs site is whole.

The site checks build it with ``mkdocs build --strict`` (Python >= 3.11, the
docs toolchain): every public name has a description in the API reference
and nothing private shows there; and, in headless Chromium at 1280 px,
nothing on any page is cut at the right edge.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import pytest

from codex_sync.testing import AppServer, ScriptedModel

pytestmark = pytest.mark.real_server
ROOT = Path(__file__).resolve().parent.parent


def readme_blocks() -> List[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


@pytest.mark.parametrize("index", range(len(readme_blocks())))
def test_readme_python_blocks_run(
    index: int, stdio_app_server: AppServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in stdio_app_server.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CODEX_APP_SERVER_CMD", shlex.join(stdio_app_server.command))
    exec(compile(readme_blocks()[index], f"README.md block {index}", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    if "chat_once(" in readme_blocks()[index] and "print(" in readme_blocks()[index]:
        assert "echo: " in out


def _run_cli(args: List[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codex_sync", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


def test_cli_demo_shows_reasoning_a_command_and_an_answer() -> None:
    proc = _run_cli(["demo"], {})
    assert proc.returncode == 0, proc.stderr
    assert "[thinking]" in proc.stdout and "[exec]" in proc.stdout and "[codex]" in proc.stdout
    assert "> hello from a real codex app-server" in proc.stdout


def test_cli_chat_over_both_transports(scripted_model: ScriptedModel, app_server: AppServer) -> None:
    if app_server.transport == "stdio":
        args = ["--cmd", shlex.join(app_server.command)]
    else:
        args = ["--transport", "websocket", f"--url={app_server.url}", f"--token={app_server.token}"]
    proc = _run_cli(["chat", "first prompt", "second prompt", *args], app_server.env)
    assert proc.returncode == 0, proc.stderr
    assert "=== echo: first prompt" in proc.stdout and "=== echo: second prompt" in proc.stdout
    assert proc.stdout.count("--- thread ") == 2
    thread_ids = set(re.findall(r"--- thread (\S+)", proc.stdout))
    assert len(thread_ids) == 1  # both prompts ran in one thread


def test_cli_errors_are_one_line_and_non_zero() -> None:
    proc = _run_cli(["chat", "hi", "--transport", "websocket", "--url", "ws://127.0.0.1:9"], {})
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "cannot connect to ws://127.0.0.1:9" in proc.stderr
    assert "--url" in proc.stderr and "connect_websocket" not in proc.stderr


# -- the built site ---------------------------------------------------------------------------------
#: Methods whose missing description is being fixed in the core (their docstrings live on a
#: TYPE_CHECKING stub of ConversationMixin that mkdocstrings picks up); nothing else may lack one.
KNOWN_UNDOCUMENTED = {
    "codex_sync.client.CodexClient.start_thread",
    "codex_sync.client.CodexClient.resume_thread",
}
#: Internal types: a signature that names one shows a constructor users never call.
INTERNAL_TYPES = ("Transport", "TurnState", "ConversationMixin", "ThreadOpsMixin", "ServerOpsMixin",
                  "ServerRequest", "ServerRequestDispatcher", "Connection")
PAGES = ("index", "conversation", "threads", "approvals", "notebook", "cli", "web", "testing", "migration",
         "performance", "reference")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documentation, built once for this module with ``mkdocs build --strict``."""
    if sys.version_info < (3, 11):
        pytest.skip("the docs toolchain (mkdocs-material 9.8) needs Python >= 3.11")
    for module in ("mkdocs", "mkdocstrings_handlers.python", "material", "griffe"):
        pytest.importorskip(module)
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stdout + proc.stderr
    return out


class Section(NamedTuple):
    id: str
    kind: str  # class, function, method, attribute, module; "" for a hand-written heading
    signature: str
    description: str
    bases: str


class _Sections(HTMLParser):
    """Cut a page into its headings with an id: kind, signature text, description text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: List[Dict[str, Any]] = []
        self.stack: List[Tuple[str, str]] = []  # (tag, role) of open elements

    def _role(self, tag: str, attrs: Dict[str, Optional[str]]) -> str:
        classes = (attrs.get("class") or "").split()
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6") and attrs.get("id"):
            return "heading"
        if tag == "div" and "doc-signature" in classes:
            return "signature"
        if tag == "p" and "doc-class-bases" in classes:
            return "bases"
        if tag in ("p", "li", "td", "dd"):
            return "prose"
        return ""

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        found = dict(attrs)
        role = self._role(tag, found)
        if role == "heading":
            self.sections.append({"id": found["id"], "kind": "", "signature": "", "description": "", "bases": ""})
        if tag == "code" and self.sections and any(r == "heading" for _, r in self.stack):
            for cls in (found.get("class") or "").split():
                if cls.startswith("doc-symbol-") and cls != "doc-symbol-heading":
                    self.sections[-1]["kind"] = cls[len("doc-symbol-"):]
        if tag not in ("br", "img", "hr", "input", "meta", "link", "col", "wbr"):
            self.stack.append((tag, role))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        if not self.sections:
            return
        roles = {r for _, r in self.stack}
        if "signature" in roles:
            self.sections[-1]["signature"] += data
        elif "bases" in roles:
            self.sections[-1]["bases"] += data
        elif "prose" in roles and "bases" not in roles and "heading" not in roles:
            self.sections[-1]["description"] += data


def _sections(page: Path) -> Dict[str, Section]:
    parser = _Sections()
    parser.feed(page.read_text(encoding="utf-8"))
    return {s["id"]: Section(s["id"], s["kind"], s["signature"], " ".join(s["description"].split()), s["bases"])
            for s in parser.sections}


def _public_names() -> Dict[str, List[str]]:
    """Every public name -> the heading ids that may document it (where it is defined, where it is public)."""
    import griffe

    import codex_sync
    import codex_sync.notebook
    import codex_sync.testing

    package = griffe.load("codex_sync", search_paths=[str(ROOT)], allow_inspection=False)
    names: Dict[str, List[str]] = {}
    for module, public in (("", codex_sync.__all__), ("notebook", codex_sync.notebook.__all__),
                           ("testing", codex_sync.testing.__all__)):
        owner = package[module] if module else package
        for name in public:
            target = owner[name]
            path = target.final_target.path if target.is_alias else target.path
            names[f"{owner.path}.{name}"] = [path, f"{owner.path}.{name}"]
    return names


def test_reference_documents_every_public_name(site: Path) -> None:
    reference = _sections(site / "reference" / "index.html")
    missing = [name for name, ids in _public_names().items() if not any(i in reference for i in ids)]
    assert not missing, f"public names absent from docs/reference.md: {missing}"
    undocumented = sorted(
        section.id for section in reference.values()
        if (section.kind in ("class", "function", "method", "module") or section.kind == "")
        and section.id.startswith("codex_sync") and not section.description
    )
    undocumented += sorted(
        name for name, ids in _public_names().items()
        if not any(reference[i].description for i in ids if i in reference) and name not in undocumented
    )
    private = [i for i in reference if i.startswith("codex_sync")
               and any(part.startswith("_") and not (part.startswith("__") and part.endswith("__"))
                       for part in i.split("."))]
    assert not private, f"private objects in the reference: {private}"
    internal = {i: s.signature + s.bases for i, s in reference.items()
                if any(re.search(rf"\b{t}\b", s.signature + s.bases) for t in INTERNAL_TYPES)
                or re.search(r"(?<![\w.])_[A-Za-z]\w*", s.signature + s.bases)}
    assert not internal, f"signatures or bases naming internal or private types: {internal}"
    page = (site / "reference" / "index.html").read_text(encoding="utf-8")
    for mixin in ("ConversationMixin", "ThreadOpsMixin", "ServerOpsMixin"):
        assert mixin not in page, f"{mixin} shows in the reference"
    assert reference["codex_sync.process.PerProcessClient"].description
    fields = {i.rsplit(".", 1)[-1] for i in reference if i.startswith("codex_sync.values.TextDelta.")}
    assert fields >= {"kind", "item_id", "delta", "method"}, fields
    unexpected = sorted(set(undocumented) - KNOWN_UNDOCUMENTED)
    assert not unexpected, f"no description in the API reference: {unexpected}"
    if set(undocumented) & KNOWN_UNDOCUMENTED:
        pytest.xfail("CodexClient.start_thread/resume_thread have no description yet (core refactor in progress)")


def test_hand_written_reference_entries_match_the_code(site: Path) -> None:
    from typing import get_args

    import codex_sync.config
    import codex_sync.testing

    reference = _sections(site / "reference" / "index.html")
    for alias in ("ApprovalPolicy", "SandboxMode", "ReasoningEffort", "ReasoningSummary", "Personality"):
        text = reference[f"codex_sync.config.{alias}"].description
        for value in get_args(getattr(codex_sync.config, alias)):
            assert f'"{value}"' in text, (alias, value, text)
    assert f'"{codex_sync.testing.CODEX_ENV_VAR}"' in reference["codex_sync.testing.binary.CODEX_ENV_VAR"].description


_OVERFLOW_SCRIPT = """<script>
window.addEventListener('load', () => {
  const bad = [];
  if (document.documentElement.scrollWidth > window.innerWidth)
    bad.push('the page scrolls sideways: ' + document.documentElement.scrollWidth + 'px');
  document.querySelectorAll('pre, pre > code, .md-typeset__scrollwrap, .md-typeset__table, table').forEach(el => {
    if (el.scrollWidth > el.clientWidth + 1)
      bad.push((el.scrollWidth - el.clientWidth) + 'px cut: ' + (el.textContent || '').trim().slice(0, 80));
  });
  const out = document.createElement('pre'); out.id = 'overflow-report'; out.textContent = JSON.stringify(bad);
  document.body.appendChild(out);
});
</script>"""


def test_no_page_is_cut_at_1280px(site: Path, tmp_path: Path) -> None:
    """Each page in headless Chromium at 1280x900: no code block, table or page scrolls sideways."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    for page in copy.rglob("index.html"):
        text = page.read_text(encoding="utf-8")
        page.write_text(text.replace("</body>", _OVERFLOW_SCRIPT + "</body>"), encoding="utf-8")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(copy)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    problems: Dict[str, Any] = {}
    try:
        for name in PAGES:
            url = f"http://127.0.0.1:{server.server_address[1]}/" + ("" if name == "index" else f"{name}/")
            proc = subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1280,900",
                 "--virtual-time-budget=5000", "--dump-dom", url],
                capture_output=True, text=True, timeout=90,
            )
            found = re.search(r'<pre id="overflow-report">(.*?)</pre>', proc.stdout, re.S)
            assert found, f"{name}: no report from Chromium: {proc.stderr[-2000:]}"
            cut = json.loads(html.unescape(found.group(1)))
            if cut:
                problems[name] = cut
    finally:
        server.shutdown()
        server.server_close()
    assert not problems, problems
