"""What the hook publishes from the source folder: never what a link outside points at, never a name that cannot
be served safely, no dotfiles unless asked; fingerprinted what the pages load, rewritten through real parsers
(srcset, preload, <source>, CSS url() and @import); fixed names kept where people and browsers ask for them."""

from __future__ import annotations

import json
import os
import re

import pytest

from hooks.release import IMMUTABLE, REVALIDATE, SHORT_LIVED
from tests.publishing import SITE_CSP, body, invalidations, live_then_changed, make_site, objects, run


@pytest.fixture
def site(aws, tmp_path):
    return make_site(aws, tmp_path)


def published_keys(aws, site) -> set[str]:
    return set(objects(aws, site["bucket"]))


# --- links and names --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("outside", ["/etc/passwd", "/proc/self/environ"])
def test_a_link_to_a_file_outside_the_folder_is_refused_and_nothing_is_uploaded(aws, site, capsys, outside):
    os.symlink(outside, site["source"] / "leak.txt")
    code, _ = run(site)
    assert code == 1
    err = capsys.readouterr().err
    assert f"leak.txt is a link to {os.path.realpath(outside)}, outside" in err
    assert "nothing was published" in err
    assert published_keys(aws, site) == set()


def test_a_link_to_a_folder_outside_is_refused(aws, site, capsys, tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "key.pem").write_text("PRIVATE KEY")
    os.symlink(tmp_path / "secrets", site["source"] / "assets")
    assert run(site)[0] == 1
    assert "assets is a link to" in capsys.readouterr().err
    assert published_keys(aws, site) == set()


def test_a_link_inside_the_folder_is_published_as_the_file_it_names(aws, site):
    (site["source"] / "docs").mkdir()
    (site["source"] / "docs" / "guide.txt").write_text("the guide")
    os.symlink(site["source"] / "docs" / "guide.txt", site["source"] / "guide.txt")
    assert run(site)[0] == 0
    assert body(aws, site["bucket"], "guide.txt") == "the guide"


@pytest.mark.parametrize("name", ["bad\nname.txt", "tab\there.txt", "bell\x07.txt", "back\\slash.txt"])
def test_a_name_that_cannot_be_served_safely_is_refused(aws, site, capsys, name):
    (site["source"] / name).write_text("x")
    assert run(site)[0] == 1
    assert "rename it (nothing was published)" in capsys.readouterr().err
    assert published_keys(aws, site) == set()


def test_dotfiles_are_left_out_and_said_so(aws, site, capsys):
    (site["source"] / ".env").write_text("AWS_SECRET_ACCESS_KEY=do-not-publish")
    (site["source"] / ".git").mkdir()
    (site["source"] / ".git" / "config").write_text("[core]")
    code, summary = run(site, capsys=capsys)
    assert code == 0
    assert summary["left_out"] == [".env", ".git/config"]
    assert not any(key.startswith(".") for key in published_keys(aws, site))


def test_dotfiles_are_published_when_asked_for(aws, site):
    (site["source"] / ".nojekyll").write_text("")
    assert run(site, "--allow-dotfiles")[0] == 0
    assert ".nojekyll" in published_keys(aws, site)


def test_well_known_files_are_published_under_their_own_names(aws, site):
    (site["source"] / ".well-known").mkdir()
    (site["source"] / ".well-known" / "security.txt").write_text("Contact: mailto:security@example.com\n")
    assert run(site)[0] == 0
    stored = objects(aws, site["bucket"])
    assert stored[".well-known/security.txt"]["CacheControl"] == SHORT_LIVED


def test_a_page_that_is_not_utf8_is_one_clear_error(aws, site, capsys):
    (site["source"] / "latin1.html").write_bytes("<p>café</p>".encode("latin-1"))
    assert run(site, "--csp", SITE_CSP)[0] == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "latin1.html: not UTF-8 text" in err
    assert published_keys(aws, site) == set()


# --- fixed names and fingerprints -------------------------------------------------------------------------------


def test_files_asked_for_by_url_keep_their_names_with_a_short_cache_lifetime(aws, site):
    (site["source"] / "favicon.ico").write_bytes(b"\x00\x00\x01\x00")
    (site["source"] / "robots.txt").write_text("User-agent: *\n")
    (site["source"] / "report.pdf").write_bytes(b"%PDF-1.4")
    index = site["source"] / "index.html"
    index.write_text(index.read_text().replace("</main>", '<a href="report.pdf">Report</a></main>'))
    assert run(site)[0] == 0
    stored = objects(aws, site["bucket"])
    for key in ("favicon.ico", "robots.txt", "report.pdf"):
        assert stored[key]["CacheControl"] == SHORT_LIVED, key
    assert 'href="report.pdf"' in body(aws, site["bucket"], "index.html")


def test_a_changed_fixed_name_file_is_invalidated(aws, site, capsys):
    (site["source"] / "robots.txt").write_text("User-agent: *\n")
    run(site, capsys=capsys)
    (site["source"] / "robots.txt").write_text("User-agent: *\nDisallow: /private\n")
    _, summary = run(site, capsys=capsys)
    assert summary["uploaded"] == ["robots.txt"]
    assert summary["invalidation"]["paths"] == ["/robots.txt"]


def test_what_the_page_loads_through_srcset_preload_and_source_is_fingerprinted(aws, site):
    for name in ("small.png", "large.png", "hero.webp", "font.woff2", "clip.mp4"):
        (site["source"] / name).write_bytes(name.encode())
    index = site["source"] / "index.html"
    index.write_text(
        index.read_text()
        .replace("</head>", ('<link rel="preload" href="font.woff2" as="font" crossorigin></head>'))
        .replace(
            "</main>",
            (
                '<img src="small.png" srcset="small.png 1x, large.png 2x" alt="">'
                '<picture><source srcset="hero.webp" type="image/webp"><img src="small.png" alt=""></picture>'
                '<video><source src="clip.mp4" type="video/mp4"></video></main>'
            ),
        )
    )
    assert run(site)[0] == 0
    stored = objects(aws, site["bucket"])
    html = body(aws, site["bucket"], "index.html")
    for name in ("small", "large", "hero", "font", "clip"):
        (key,) = [k for k in stored if re.fullmatch(rf"{name}\.[0-9a-f]{{12}}\.\w+", k)]
        assert stored[key]["CacheControl"] == IMMUTABLE
        assert key in html, name
    assert re.search(r'srcset="small\.[0-9a-f]{12}\.png 1x, large\.[0-9a-f]{12}\.png 2x"', html)
    assert not {"small.png", "large.png", "hero.webp", "font.woff2", "clip.mp4"} & set(stored)


def test_what_stylesheets_load_is_fingerprinted_and_rewritten_inside_the_css(aws, site):
    (site["source"] / "img").mkdir()
    (site["source"] / "img" / "bg.png").write_bytes(b"png")
    (site["source"] / "fonts").mkdir()
    (site["source"] / "fonts" / "body.woff2").write_bytes(b"woff2")
    (site["source"] / "base.css").write_text("html { color: #111; }\n")
    css = site["source"] / "style.css"
    css.write_text(
        '@import "base.css";\n'
        "@font-face { font-family: Body; src: url(fonts/body.woff2) format('woff2'); }\n"
        + css.read_text()
        + "\nbody { background: url('img/bg.png'); }\n"
    )
    assert run(site)[0] == 0
    stored = objects(aws, site["bucket"])
    (css_key,) = [k for k in stored if re.fullmatch(r"style\.[0-9a-f]{12}\.css", k)]
    css_text = body(aws, site["bucket"], css_key)
    for name in (r"base\.[0-9a-f]{12}\.css", r"fonts/body\.[0-9a-f]{12}\.woff2", r"img/bg\.[0-9a-f]{12}\.png"):
        (key,) = [k for k in stored if re.fullmatch(name, k)]
        assert f'"{key}"' in css_text
        assert stored[key]["CacheControl"] == IMMUTABLE
    assert "img/bg.png'" not in css_text
    assert ".message.error { background: #fee2e2; }" in css_text  # the rest is as written


def test_a_changed_image_gives_its_stylesheet_a_new_name_too(aws, site, capsys):
    (site["source"] / "bg.png").write_bytes(b"v1")
    css = site["source"] / "style.css"
    css.write_text(css.read_text() + "\nbody { background: url(bg.png); }\n")
    _, first = run(site, capsys=capsys)
    (site["source"] / "bg.png").write_bytes(b"v2")
    _, second = run(site, capsys=capsys)
    assert {k.split(".")[0] for k in second["uploaded"]} == {"bg", "style", "index"}
    assert [k for k in first["uploaded"] if k.startswith("style.")] != [
        k for k in second["uploaded"] if k.startswith("style.")
    ]


# --- awkward names ----------------------------------------------------------------------------------------------


def test_invalidation_paths_are_url_encoded(aws, site, capsys):
    names = ["my report.txt", "what?.txt", "hash#tag.txt", "100%.txt", "café.txt"]
    for name in names:
        (site["source"] / name).write_text(name)
    live_then_changed(site)
    for name in names:
        (site["source"] / name).write_text(f"{name}, changed")
    _, summary = run(site, capsys=capsys)
    assert set(summary["invalidation"]["paths"]) == {
        "/",
        "/index.html",
        "/my%20report.txt",
        "/what%3F.txt",
        "/hash%23tag.txt",
        "/100%25.txt",
        "/caf%C3%A9.txt",
    }
    (item,) = invalidations(aws, site["distribution"])
    assert item["Id"] == summary["invalidation"]["id"]
    assert set(names) <= set(objects(aws, site["bucket"]))


def test_a_page_links_to_an_awkward_name_by_its_encoded_url(aws, site):
    (site["source"] / "my report.pdf").write_bytes(b"%PDF")
    (site["source"] / "cover image.png").write_bytes(b"png")
    index = site["source"] / "index.html"
    index.write_text(index.read_text().replace("</main>", '<img src="cover%20image.png" alt=""></main>'))
    assert run(site)[0] == 0
    html = body(aws, site["bucket"], "index.html")
    (cover,) = re.findall(r'src="(cover%20image\.[0-9a-f]{12}\.png)"', html)
    assert cover.replace("%20", " ") in objects(aws, site["bucket"])


# --- metadata ---------------------------------------------------------------------------------------------------


def test_an_object_with_the_right_bytes_but_the_wrong_content_type_is_uploaded_again(aws, site, capsys):
    run(site, capsys=capsys)
    html = aws.client("s3").get_object(Bucket=site["bucket"], Key="index.html")["Body"].read()
    aws.client("s3").put_object(
        Bucket=site["bucket"],
        Key="index.html",
        Body=html,
        ContentType="application/octet-stream",
        CacheControl="max-age=86400",
    )
    _, summary = run(site, capsys=capsys)
    assert summary["uploaded"] == ["index.html"]
    stored = objects(aws, site["bucket"])["index.html"]
    assert (stored["ContentType"], stored["CacheControl"]) == ("text/html; charset=utf-8", REVALIDATE)


def test_a_new_cache_rule_reaches_the_bucket_though_the_bytes_did_not_change(aws, site, capsys):
    """An asset recorded with other headers (as an older hook wrote them) is uploaded with today's."""
    _, first = run(site, capsys=capsys)
    s3 = aws.client("s3")
    key = f".publish/releases/{first['release']}.json"
    record = json.loads(s3.get_object(Bucket=site["bucket"], Key=key)["Body"].read())
    (script,) = [k for k in record["objects"] if k.startswith("script.")]
    record["objects"][script]["cache_control"] = "max-age=86400"
    s3.put_object(Bucket=site["bucket"], Key=key, Body=json.dumps(record).encode())
    _, second = run(site, capsys=capsys)
    assert second["uploaded"] == [script]
