"""Sites a bundler built (Vite, webpack, Next) and hand-written ES modules: the hook renames a file only where it
rewrites every reference to it, keeps the names a bundler fingerprinted (cached as immutable, unless such a name
comes back with other bytes), and keeps query strings on references working (Sphinx's `style.css?v=…`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hooks.post_apply import main
from hooks.release import IMMUTABLE, SHORT_LIVED, Release, build_release, is_bundler_fingerprinted
from tests.publishing import API_URL, hook_argv, make_site, objects, run

ENTRY = "assets/index-CrXFY4L8.js"
LAZY = "assets/About-BV1Ka7xO.js"
STYLES = "assets/index-D8b4DHJx.css"


def vite_like(root: Path) -> Path:
    """What `vite build` writes for a React app with one lazy route: an entry chunk the lazy chunk imports back,
    a stylesheet, a source map, and an image only JavaScript names."""
    files = {
        "index.html": (
            '<!doctype html><html><head><script type="module" crossorigin src="/assets/index-CrXFY4L8.js"></script>'
            '<link rel="stylesheet" crossorigin href="/assets/index-D8b4DHJx.css"></head>'
            '<body><div id="root"></div></body></html>'
        ),
        ENTRY: (
            'const About=()=>import("./About-BV1Ka7xO.js");const logo=new URL("./logo-Bq2a9Xk1.svg",import.meta.url);'
            "export{About as A,logo as l};\n//# sourceMappingURL=index-CrXFY4L8.js.map\n"
        ),
        LAZY: 'import{l as o}from"./index-CrXFY4L8.js";export default function(){return o}',
        f"{ENTRY}.map": '{"version":3,"sources":["../src/main.tsx"],"mappings":""}',
        STYLES: "body{background:url(/img/paper.png)}",
        "assets/logo-Bq2a9Xk1.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>',
        "img/paper.png": "not really a png",
    }
    for key, text in files.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_text(text)
    return root


@pytest.fixture
def vite(tmp_path) -> Release:
    return build_release(vite_like(tmp_path / "dist"), API_URL)


def cache_control(release: Release) -> dict[str, str]:
    return {a.key: a.cache_control for a in release.assets + release.documents}


def page(release: Release) -> str:
    (index,) = [a for a in release.documents if a.key == "index.html"]
    return index.read().decode()


@pytest.mark.parametrize(
    ("name", "hashed"),
    [
        ("assets/index-CrXFY4L8.js", True),  # Vite
        ("assets/hero-CLDdwZDr.png", True),  # Vite, a hash without a digit
        ("assets/index-Boqb-Z2u.css", True),  # Vite, a hash with a "-"
        ("assets/logo-original.png", False),  # a word
        ("images/team-Portrait.png", False),  # a word, outside Vite's assets/
        ("static/css/main.5a7b0d79.min.css", True),  # webpack (create-react-app)
        ("_next/static/chunks/4bd1b696-67e30520d621c4dd.js", True),  # Next
        ("jquery-3.6.0.min.js", False),  # a version
        ("report-20240101.pdf", False),  # a date
        ("style.css", False),
    ],
)
def test_a_bundlers_content_hash_is_recognised_in_a_name(name, hashed):
    assert is_bundler_fingerprinted(name) is hashed


def test_a_module_that_javascript_imports_keeps_its_name(vite):
    assert {ENTRY, LAZY} <= set(cache_control(vite))
    assert 'src="/assets/index-CrXFY4L8.js"' in page(vite)  # the page still loads what the lazy chunk imports


def test_names_a_bundler_fingerprinted_are_cached_as_immutable(vite):
    controls = cache_control(vite)
    assert controls[ENTRY] == controls[LAZY] == controls[STYLES] == IMMUTABLE
    assert controls["assets/logo-Bq2a9Xk1.svg"] == IMMUTABLE  # named only by JavaScript


def test_a_source_map_keeps_its_name(vite):
    assert f"{ENTRY}.map" in cache_control(vite)


def test_what_a_kept_stylesheet_loads_keeps_its_name(vite):
    assert cache_control(vite)["img/paper.png"] == SHORT_LIVED  # the stylesheet is published as written
    (styles,) = [a for a in vite.assets if a.key == STYLES]
    assert styles.read() == b"body{background:url(/img/paper.png)}"


def test_a_hand_written_module_that_another_imports_keeps_its_name_with_a_short_lifetime(tmp_path):
    site = tmp_path / "web"
    site.mkdir()
    (site / "index.html").write_text('<script type="module" src="app.js"></script><link rel=stylesheet href=s.css>')
    (site / "app.js").write_text('import {greet} from "./util.js";\nconsole.log("see style.css for the looks");\n')
    (site / "util.js").write_text("export const greet = () => 'hi';\n")
    (site / "s.css").write_text("body{}")
    controls = cache_control(build_release(site, API_URL))
    assert controls["util.js"] == SHORT_LIVED  # "./util.js" in app.js: the hook cannot rewrite that
    renamed = {key.split(".")[0]: value for key, value in controls.items() if key.count(".") == 2}
    assert renamed == {"app": IMMUTABLE, "s": IMMUTABLE}  # only the page names them; s.css is named in prose only


def test_query_strings_on_references_keep_working(tmp_path):
    site = tmp_path / "html"
    (site / "_static").mkdir(parents=True)
    (site / "index.html").write_text('<link rel="stylesheet" href="_static/pygments.css?v=187304be">')
    (site / "_static" / "pygments.css").write_text(".hll{}")
    release = build_release(site, API_URL)
    (styles,) = [a.key for a in release.assets if a.key.startswith("_static/pygments.")]
    assert f'href="{styles}?v=187304be"' in page(release)


# --- through the hook -------------------------------------------------------------------------------------------


@pytest.fixture
def built(aws, tmp_path):
    site = make_site(aws, tmp_path)
    site["source"] = vite_like(tmp_path / "dist")
    return site


def test_a_bundled_site_is_published_under_the_bundlers_names(aws, built, capsys):
    code, _ = run(built, capsys=capsys)
    assert code == 0
    stored = objects(aws, built["bucket"])
    assert {ENTRY, LAZY, STYLES, f"{ENTRY}.map"} <= set(stored)
    assert stored[LAZY]["CacheControl"] == IMMUTABLE


def test_a_bundlers_name_that_comes_back_with_other_bytes_is_not_cached_as_immutable(aws, built, capsys):
    run(built, capsys=capsys)
    (built["source"] / LAZY).write_text('import{l as o}from"./index-CrXFY4L8.js";export default()=>o+1')
    code, summary = run(built, capsys=capsys)
    assert code == 0
    assert objects(aws, built["bucket"])[LAZY]["CacheControl"] == SHORT_LIVED
    (warning,) = summary["warnings"]
    assert warning.startswith(f"{LAZY}: published before with other content under the same name")
    assert summary["invalidation"]["paths"] == [f"/{LAZY}"]  # CloudFront may hold the old bytes


def test_the_warning_is_printed_for_people(aws, built, capsys):
    run(built, capsys=capsys)
    (built["source"] / LAZY).write_text("export default 2")
    assert main(hook_argv(built)) == 0
    assert f"warning: {LAZY}: published before with other content" in capsys.readouterr().out
