"""The documentation site: it lists every public name, builds with warnings as errors, and renders.

The build runs the documented command (``sphinx-build -W -b html docs
docs/_build/html``, incremental: after ``.ci/run``'s docs step it only checks
that nothing changed). The browser test opens the landing page, a lesson and
the ``Dense`` reference page in headless Chromium (Debian's ``chromium`` and
``chromium-driver``), served from localhost, and checks that MathJax rendered
every formula, that every image loaded and that every local link resolves.
External links are listed, never fetched. Set ``NPAE_DOCS_SCREENSHOTS`` to a
folder to keep a screenshot of each page.
"""

import functools
import html.parser
import http.server
import importlib
import inspect
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HTML = DOCS / "_build" / "html"

# The modules whose public names the API reference must list.
API_MODULES = [
    "npae", "npae.backend", "npae.layers", "npae.layers.initializers", "npae.network",
    "npae.losses", "npae.regularizers", "npae.optim", "npae.train", "npae.checkpoint",
    "npae.models", "npae.decomposition", "npae.metrics", "npae.noise", "npae.datasets",
    "npae.exercises", "npae.gradcheck", "npae.io", "npae.plot", "npae.utils", "npae.cli",
    "npae.anomaly", "npae.convergence", "npae.streaming", "npae.reproduce",
]

PAGES = {
    "landing": "index.html",
    "lesson": "notebooks/02_linear_autoencoders_are_pca.html",
    "dense": "api/generated/npae.layers.Dense.html",
}


def public_names(module):
    """``__all__`` if the module has one, else what it defines without a leading underscore."""
    if hasattr(module, "__all__"):
        names = module.__all__
    else:
        names = [name for name, obj in vars(module).items()
                 if getattr(obj, "__module__", None) == module.__name__]
    return [name for name in names if not name.startswith("_")
            and not inspect.ismodule(getattr(module, name))]


def documented_objects():
    """Every object an ``autosummary`` entry in ``docs/api/*.rst`` names, by module and name."""
    documented = {}
    for page in sorted((DOCS / "api").glob("*.rst")):
        module = None
        for line in page.read_text().splitlines():
            match = re.match(r"\.\. currentmodule:: (\S+)$", line)
            if match:
                module = importlib.import_module(match.group(1))
                continue
            match = re.match(r" {3}(\w+)$", line)
            if match and module is not None:
                name = match.group(1)
                assert hasattr(module, name), f"{page.name} lists {module.__name__}.{name}"
                documented[f"{module.__name__}.{name}"] = getattr(module, name)
    return documented


def test_api_reference_lists_every_public_name():
    documented = documented_objects()
    by_identity = {id(obj) for obj in documented.values()}
    missing = []
    for module_name in API_MODULES:
        module = importlib.import_module(module_name)
        for name in public_names(module):
            qualified = f"{module_name}.{name}"
            obj = getattr(module, name)
            if qualified in documented:
                continue
            if (inspect.isclass(obj) or inspect.isroutine(obj)) and id(obj) in by_identity:
                continue
            missing.append(qualified)
    assert not missing, f"public names missing from docs/api/*.rst: {missing}"


@pytest.fixture(scope="module")
def site():
    """The built site, from the documented command (skips when the docs extra is absent)."""
    for package in ("sphinx", "myst_nb", "numpydoc", "pydata_sphinx_theme", "sphinxarg",
                    "mathjax"):
        pytest.importorskip(package, reason=f"{package} missing: pip install -e '.[docs]'")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    # The documented command runs without conftest's MPLBACKEND=Agg, under which a
    # notebook executed from an empty cache would record no inline figures.
    env.pop("MPLBACKEND", None)
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-E", "-b", "html", "docs", "docs/_build/html"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"docs build failed:\n{result.stdout[-3000:]}\n" \
                                   f"{result.stderr[-6000:]}"
    return HTML


@pytest.mark.slow
@pytest.mark.docs
def test_site_builds_with_every_page(site):
    for page in PAGES.values():
        assert (site / page).is_file(), page
    lessons = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9]*.ipynb"))
    built = sorted(p.stem for p in (site / "notebooks").glob("[0-9]*.html"))
    assert built == lessons
    for page in ("guarantees.html", "benchmarks/index.html", "cli.html", "api/index.html"):
        assert (site / page).is_file(), page
    # The guarantees page is the README's section, included, not a copy.
    text = (site / "guarantees.html").read_text()
    assert "Pickle-free" in text and "Divergence guard" in text
    # The command-line page is generated from the parser: every subcommand has its section.
    from npae.cli import build_parser
    subcommands = next(action for action in build_parser()._actions
                       if action.dest == "command").choices
    cli_page = (site / "cli.html").read_text()
    assert subcommands and all(f'id="npae-{command}"' in cli_page for command in subcommands)


class _Anchors(html.parser.HTMLParser):
    """The ids and names a page defines, which a ``#fragment`` may point at."""

    def __init__(self):
        super().__init__()
        self.anchors = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.anchors.add(value)


@functools.cache
def _anchors_of(path):
    parser = _Anchors()
    parser.feed(path.read_text(errors="replace"))
    return parser.anchors


def _local_target(root, url):
    """The file a same-site URL points at (a folder means its index.html)."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path).lstrip("/")
    target = root / path
    if path == "" or path.endswith("/") or target.is_dir():
        target = target / "index.html"
    return target


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("Chromium not installed (apt-get install -y chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="selenium missing: pip install -e '.[docs]'")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1400,1600"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path),
                              options=options)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def _wait_for_mathjax(driver):
    """Resolve once MathJax has typeset the page (false if the page has no MathJax)."""
    # MathJax loads asynchronously: the page's load event can come before it has even
    # defined MathJax.startup, so poll for it (up to 30 s) before awaiting its promise.
    return driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const deadline = Date.now() + 30000;
        (function wait() {
            const startup = window.MathJax && window.MathJax.startup;
            if (startup && startup.promise) {
                startup.promise.then(() => done(true), () => done(false));
            } else if (Date.now() > deadline) {
                done(false);
            } else {
                setTimeout(wait, 50);
            }
        })();
    """)


@pytest.mark.slow
@pytest.mark.docs
@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_in_chromium(name, site, server, browser):
    page = PAGES[name]
    browser.get(server + page)
    assert _wait_for_mathjax(browser), f"{page}: MathJax did not load"

    rendered = browser.execute_script("return document.querySelectorAll('mjx-container').length")
    assert rendered > 0, f"{page}: MathJax produced no mjx-container"
    unrendered = browser.execute_script("""
        return [...document.querySelectorAll('.math')]
            .filter(el => !el.querySelector('mjx-container')).map(el => el.textContent)""")
    assert not unrendered, f"{page}: formulas left as TeX: {unrendered[:3]}"
    errors = browser.execute_script("return document.querySelectorAll('mjx-merror').length")
    assert errors == 0, f"{page}: MathJax reports {errors} TeX errors"

    # Every image settled (loaded or failed) before it is judged, so a slow load is no failure.
    browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        Promise.all([...document.images].map(img => img.complete ? null : new Promise(
            settle => { img.onload = img.onerror = settle; }))).then(() => done(true));
    """)
    images = browser.execute_script("""
        return [...document.images].map(img => [img.currentSrc || img.src,
                                                img.complete && img.naturalWidth > 0,
                                                !!img.closest('.cell_output')])""")
    broken = [src for src, loaded, _ in images if not loaded]
    assert not broken, f"{page}: images that did not load: {broken}"
    if name == "lesson":
        figures = [src for src, _, in_output in images if in_output]
        assert len(figures) >= 2, f"{page}: expected the executed figures, found {figures}"
    if name == "landing":
        assert any(src.endswith("error_vs_code_size.png") for src, _, _ in images)

    hrefs = browser.execute_script(
        "return [...document.querySelectorAll('a[href]')].map(a => a.href)")
    external, dead = set(), []
    for href in hrefs:
        parts = urllib.parse.urlsplit(href)
        if parts.scheme in ("http", "https") and not href.startswith(server):
            external.add(href)
            continue
        if parts.scheme not in ("http", "https"):
            continue  # mailto:, javascript:
        target = _local_target(site, href[len(server) - 1:])
        if not target.is_file():
            dead.append(href)
        elif parts.fragment and target.suffix == ".html" and \
                urllib.parse.unquote(parts.fragment) not in _anchors_of(target):
            dead.append(href)
    assert not dead, f"{page}: broken links: {dead}"
    print(f"{page}: {len(hrefs)} links, external (not fetched): {sorted(external)}")

    screens = os.environ.get("NPAE_DOCS_SCREENSHOTS")
    if screens:
        pathlib.Path(screens).mkdir(parents=True, exist_ok=True)
        if name == "lesson":
            browser.execute_script(
                "document.querySelector('.cell_output img').scrollIntoView({block: 'center'})")
        if name == "landing":  # the whole page, down to the formula
            height = browser.execute_script("return document.documentElement.scrollHeight")
            browser.set_window_size(1400, height)
        browser.save_screenshot(str(pathlib.Path(screens) / f"{name}.png"))
        browser.set_window_size(1400, 1600)
