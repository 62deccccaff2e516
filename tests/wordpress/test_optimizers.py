"""Optimization plugins keep js/attribution.js and its configuration out of what they combine, minify or delay.

Each filter is applied on the stub with the value and arguments the optimizer's own code passes (its default
shape first), then its answer is used the way that optimizer matches it against the page's real script tags:
a regular expression on the URL path (WP Rocket's minify/combine), on the whole element (its Delay JS), a
substring (Autoptimize, LiteSpeed, the inline lists), a script handle (SiteGround). The optimizers themselves
are not installed in the real-WordPress fixture (tests/wordpress/real), so no test loads one for real.
"""

from __future__ import annotations

import json
import re

import pytest

from .conftest import PLUGINS_URL

SCRIPT_PATH = "/wp-content/plugins/connector-attribution/js/attribution.js"
OTHER_TAG = '<script src="https://example.test/wp-content/plugins/other/js/other.js" id="other-js"></script>'
OTHER_INLINE = '<script id="other-js-before">\nvar other = 1;\n</script>'


@pytest.fixture
def apply(wordpress):
    """apply(hook, value, *args) -> the filtered value, with only our plugin's callbacks registered."""
    return lambda hook, value, *args: json.loads(
        wordpress("call", {}, function="apply_filters", args=[hook, value, *args])
    )


@pytest.fixture
def page(wordpress):
    """(inline configuration element, script tag element) exactly as the front end prints them."""
    inline, tag = re.findall(r"<script\b.*?</script>", wordpress("head", {}), re.S)
    assert "window.attributionConfig" in inline and SCRIPT_PATH in tag
    return inline, tag


def test_the_script_path_is_the_tag_s(page):
    assert f'src="{PLUGINS_URL}/connector-attribution/js/attribution.js?' in page[1]


def test_wp_rocket_minify_and_combine_keeps_its_own_list_and_matches_our_path_only(apply):
    default = ["/wp-content/themes/x/(.*).js"]
    got = apply("rocket_exclude_js", default)
    assert got[: len(default)] == default and len(got) == 2
    # WP Rocket: '#(' . implode('|', $list) . ')#' against wp_parse_url( $url, PHP_URL_PATH )
    pattern = "(" + "|".join(got[len(default) :]) + ")"
    assert re.search(pattern, SCRIPT_PATH)
    assert not re.search(pattern, "/wp-content/plugins/other/js/other.js")
    assert apply("rocket_exclude_js", []) == got[len(default) :]


def test_wp_rocket_delay_js_leaves_the_script_and_its_configuration_alone(apply, page):
    default = ["/jquery-?[0-9.](.*)(.min|.slim|.slim.min)?.js"]
    got = apply("rocket_delay_js_exclusions", default)
    assert got[:1] == default
    ours = got[1:]
    # WP Rocket: preg_match( "#{$pattern}#i", $script_element ) for each pattern
    for element in page:
        assert any(re.search(p, element, re.I) for p in ours), element
    for element in (OTHER_TAG, OTHER_INLINE):
        assert not any(re.search(p, element, re.I) for p in ours), element


@pytest.mark.parametrize(
    "hook",
    ["rocket_excluded_inline_js_content", "sgo_javascript_combine_excluded_inline_content"],
)
def test_the_inline_configuration_is_not_moved_into_a_combined_file(apply, page, hook):
    default = ["CDATA", "nonce"]
    got = apply(hook, default)
    assert got[:2] == default and len(got) == 3
    assert got[2] in page[0] and got[2] not in OTHER_INLINE  # strpos( $content, $excluded )


def test_autoptimize_keeps_its_comma_separated_setting_and_appends_ours(apply, page):
    default = "wp-includes/js/dist/, wp-includes/js/tinymce/, js/jquery/jquery.js, js/jquery/jquery.min.js"
    got = apply("autoptimize_filter_js_exclude", default, "<html>...</html>")
    assert got.startswith(default + ", ")
    # Autoptimize: array_filter( array_map( 'trim', explode( ',', $exclude ) ) ), each a substring of the element
    entries = [entry.strip() for entry in got.split(",") if entry.strip()]
    ours = entries[4:]
    assert len(ours) == 2
    for element in page:
        assert any(entry in element for entry in ours), element
    assert not any(entry in OTHER_TAG or entry in OTHER_INLINE for entry in ours)
    assert apply("autoptimize_filter_js_exclude", got, "") == got  # applied twice: nothing repeated
    assert apply("autoptimize_filter_js_exclude", "", "") == ", ".join(ours)


def test_autoptimize_s_array_form_keeps_its_attributes(apply):
    """Its own Extra settings return {string: attribute}: 'async', or 'remove' to drop the script."""
    default = {"other.js": "async", "ads.js": "remove"}
    got = apply("autoptimize_filter_js_exclude", default, "")
    assert {k: got[k] for k in default} == default
    assert got[SCRIPT_PATH] == "" and got["window.attributionConfig"] == ""


def test_autoptimize_takes_the_script_as_minified_already(apply):
    got = apply("autoptimize_filter_js_consider_minified", False)  # its default: false, not a list
    assert got == [SCRIPT_PATH]
    assert apply("autoptimize_filter_js_consider_minified", ["x.min.js"]) == ["x.min.js", SCRIPT_PATH]


@pytest.mark.parametrize(
    "hook", ["litespeed_optimize_js_excludes", "litespeed_optm_js_defer_exc", "litespeed_optm_gm_js_exc"]
)
def test_litespeed_matches_the_script_src_and_the_inline_configuration(apply, page, hook):
    default = ["jquery.js", "jquery.min.js"]
    got = apply(hook, default)
    assert got[:2] == default
    ours = got[2:]
    src = re.search(r'src="([^"]+)"', page[1]).group(1)
    inline = re.search(r">(.*)</script>", page[0], re.S).group(1)
    # LiteSpeed: Utility::str_hit_array( $src or $inline_content, $list ), a substring for plain entries
    assert any(entry in src for entry in ours) and any(entry in inline for entry in ours)
    assert not any(entry in OTHER_TAG or entry in OTHER_INLINE for entry in ours)
    assert apply(hook, []) == ours


@pytest.mark.parametrize(
    "hook", ["sgo_javascript_combine_exclude", "sgo_js_minify_exclude", "sgo_js_async_exclude"]
)
def test_siteground_excludes_the_script_s_handle(apply, page, hook):
    default = ["jquery", "jquery-core"]
    got = apply(hook, default)
    handle = re.search(r'id="([^"]+)-js"', page[1]).group(1)  # WordPress prints id="{handle}-js"
    assert got == [*default, handle]
    assert apply(hook, got) == got


def test_w3_total_cache_leaves_our_tag_alone_and_decides_nothing_for_others(apply, page):
    file = "wp-content/plugins/connector-attribution/js/attribution.js"
    hook = "w3tc_minify_js_do_tag_minification"
    assert apply(hook, True, page[1], file) is False
    assert apply(hook, True, OTHER_TAG, "wp-content/plugins/other/js/other.js") is True
    assert apply(hook, False, OTHER_TAG, "wp-content/plugins/other/js/other.js") is False
