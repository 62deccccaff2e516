"""Build the installable WordPress plugin zip: the plugin folder plus the built script under js/.

Usage: python3 plugin-js/wordpress/package.py [OUTPUT.zip]
(default: plugin-js/build/connector-attribution-<version>.zip, git-ignored). Uses plugin-js/dist as committed;
run `npm run build --prefix plugin-js` first after changing plugin-js/src.
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLUGIN = HERE / "connector-attribution"
DIST = HERE.parent / "dist"
SCRIPTS = ("attribution.js", "classify.js", "convert.js", "booking.js")  # the script and the parts it loads from its folder
# fixed timestamps: the same sources give the same zip
STAMP = (1980, 1, 1, 0, 0, 0)


def version() -> str:
    """The Version: line of the plugin header."""
    found = re.search(r"^\s*\*\s*Version:\s*(\S+)", (PLUGIN / "connector-attribution.php").read_text(), re.M)
    if not found:
        raise SystemExit("connector-attribution.php has no Version: header")
    return found.group(1)


def entries() -> list[tuple[str, Path]]:
    """(name in the zip, source file) for every file the plugin ships."""
    missing = [name for name in SCRIPTS if not (DIST / name).is_file()]
    if missing:
        raise SystemExit(f"missing in {DIST}: {', '.join(missing)} (npm run build --prefix plugin-js)")
    # js/ comes from dist only: a stale copy left in the plugin folder never ships
    files = [
        (f"{PLUGIN.name}/{path.relative_to(PLUGIN).as_posix()}", path)
        for path in sorted(PLUGIN.rglob("*"))
        if path.is_file()
        and path.relative_to(PLUGIN).parts[0] != "js"
        and not any(part.startswith(".") for part in path.relative_to(PLUGIN).parts)
    ]
    return files + [(f"{PLUGIN.name}/js/{name}", DIST / name) for name in SCRIPTS]


def package(output: Path) -> Path:
    """Write the zip to output and return its path."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in entries():
            info = zipfile.ZipInfo(name, STAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return output


def main(argv: list[str]) -> int:
    default = HERE.parent / "build" / f"connector-attribution-{version()}.zip"
    output = Path(argv[0]) if argv else default
    print(package(output))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
