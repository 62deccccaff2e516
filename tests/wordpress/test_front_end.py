"""What every front-end page gets: js/attribution.js, deferred, after an inline script with its configuration."""

from __future__ import annotations

import hashlib
import zipfile

import pytest

from .conftest import PLUGIN, PLUGIN_DIR, PLUGINS_URL, config, package_zip, plugin_version, scripts

BASE = f"{PLUGINS_URL}/connector-attribution/js/"
CONFIGURED = {
    "pixel_id": "px_1234567890",
    "endpoint": "https://connector.example.com",
    "consent": "optional",
    "root_domain": "example.com",
}
HOSTILE = [
    "</script><script>alert(1)</script>",
    "</SCRIPT ><img src=x onerror=alert(1)>",
    "<!--<script>",
    "' onload='alert(1)",
    '" onload="alert(1)',
    "\u2028alert(1)\u2029//",
    "&lt;/script&gt;",
    "]]></script>\\",
]


def page(wordpress, node, options=None):
    """(config object, inline script attributes, script tag attributes) of a front-end page."""
    found = scripts(wordpress("head") if options is None else wordpress("head", options))
    assert len(found) == 2, found  # the configuration, then the script: nothing else, nothing broken open
    (inline_attrs, inline), (tag, body) = found
    assert "src" not in inline_attrs and body == ""
    return config(node, inline), inline_attrs, tag


def test_a_fresh_install_prints_the_script_with_consent_auto_and_no_pixel(wordpress, node):
    cfg, _, tag = page(wordpress, node)
    assert cfg == {"base": BASE, "consent": "auto"}  # captures at once on a site without a consent banner
    html = wordpress("head")
    assert "pixelId" not in html and "endpoint" not in html


def test_the_settings_reach_the_script(wordpress, node):
    cfg, _, _ = page(wordpress, node, CONFIGURED)
    assert cfg == {
        "base": BASE,
        "pixelId": "px_1234567890",
        "endpoint": "https://connector.example.com",
        "consent": "optional",
        "rootDomain": "example.com",
    }


def test_the_script_is_deferred_versioned_and_loads_its_parts_from_its_own_folder(wordpress, node):
    cfg, inline_attrs, tag = page(wordpress, node, CONFIGURED)
    assert tag["src"] == f"{BASE}attribution.js?ver={plugin_version()}"
    assert "defer" in tag and "async" not in tag
    assert tag["src"].startswith(cfg["base"])
    assert inline_attrs["id"] == f"{tag['id']}-before"


def test_the_version_is_the_same_everywhere():
    """Written once, in the header (the code reads it with get_file_data), and as readme.txt's Stable tag."""
    version = plugin_version()
    assert version.count(".") == 2
    sources = [PLUGIN.read_text()] + [p.read_text() for p in (PLUGIN_DIR / "includes").rglob("*.php")]
    assert sum(source.count(version) for source in sources) == 1
    assert f"Stable tag: {version}\n" in (PLUGIN_DIR / "readme.txt").read_text()


def test_the_installed_script_is_versioned_with_a_hash_of_its_content(wordpress, tmp_path):
    with zipfile.ZipFile(package_zip(tmp_path / "plugin.zip")) as archive:
        archive.extractall(tmp_path)
    installed = tmp_path / "connector-attribution"
    digest = hashlib.md5((installed / "js" / "attribution.js").read_bytes()).hexdigest()[:8]
    (tag,) = [
        attrs
        for attrs, _ in scripts(wordpress("head", {}, plugin=installed / "connector-attribution.php"))
        if attrs.get("src")
    ]
    assert tag["src"].endswith(f"/js/attribution.js?ver={digest}")


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_setting_values_stay_data(wordpress, node, value):
    """Whatever reached the option (a compromised admin, a bad import): one inline script, the value as a string."""
    options = {"pixel_id": value, "endpoint": value, "consent": value, "root_domain": value}
    html = wordpress("head", options)
    cfg, _, tag = page(wordpress, node, options)
    assert cfg == {"base": BASE, "pixelId": value, "endpoint": value, "consent": value, "rootDomain": value}
    assert tag["src"] == f"{BASE}attribution.js?ver={plugin_version()}"
    inline = scripts(html)[0][1]
    assert not set("<>&'") & set(inline), inline
    assert "\u2028" not in inline and "\u2029" not in inline


def test_a_theme_s_own_configuration_still_wins(wordpress, node):
    inline = scripts(wordpress("head", CONFIGURED))[0][1]
    cfg = config(node, inline, theme={"pixelId": "px_theme", "debug": True})
    assert cfg["pixelId"] == "px_theme" and cfg["debug"] is True
    assert cfg["endpoint"] == "https://connector.example.com" and cfg["base"] == BASE


@pytest.mark.parametrize(
    "options",
    [
        {"pixel_id": ["px"], "endpoint": {"a": 1}, "consent": None, "root_domain": 7},
        "not an array",
        None,
    ],
    ids=["non-strings", "a-string", "null"],
)
def test_a_malformed_option_prints_no_pixel_and_no_warning(wordpress, node, options):
    cfg, _, _ = page(wordpress, node, options)
    assert "pixelId" not in cfg and "endpoint" not in cfg and cfg["base"] == BASE
