"""PDF documents from Django templates (WeasyPrint), with the CJK font embedded.

    pdf: bytes = render_pdf("permits/print.html", {"permit": …})

The font is Noto Sans SC from the npm package @fontsource/noto-sans-sc, installed by the project's
own set-up (`make install` runs `npm ci`); no font of the machine is needed, and the PDF reads the
same everywhere. Fontsource splits the font into ~100 subset files per weight, each declared in
`<weight>.css` with its `unicode-range`. WeasyPrint loads every `@font-face` it is given when it
parses the stylesheet (all of them: ~8 s), so a document gets only the faces whose range covers one
of its characters, as WOFF files (WOFF2's Brotli costs ~45 ms a file to open, WOFF ~5 ms).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.template.loader import render_to_string

FONT_PACKAGE = Path("@fontsource") / "noto-sans-sc"
FONT_FAMILY = "Noto Sans SC"
WEIGHTS = (400, 700)

_FACE = re.compile(r"@font-face\s*\{(?P<body>[^}]*)\}", re.S)
_PROP = re.compile(r"(?P<name>[a-z-]+)\s*:\s*(?P<value>[^;]+);")
_WOFF = re.compile(r"url\((?P<url>[^)]+\.woff)\)\s*format\(['\"]woff['\"]\)")


class FontMissing(ImproperlyConfigured):
    """The CJK font package is not installed: `make install` installs it (npm ci)."""


@dataclass(frozen=True, slots=True)
class FontFace:
    weight: int
    style: str
    path: Path

    def css(self) -> str:
        return (
            f"@font-face {{ font-family: '{FONT_FAMILY}'; font-style: {self.style}; "
            f"font-weight: {self.weight}; src: url('{self.path.as_uri()}') format('woff'); }}"
        )


def font_dir() -> Path:
    return Path(settings.SAFEWORK_NODE_MODULES) / FONT_PACKAGE


def missing_font_message(directory: Path) -> str:
    return (
        f"The CJK font for PDFs is missing ({directory}): run `make install` (it installs the "
        "front-end packages with npm ci), or point SAFEWORK_NODE_MODULES at a node_modules folder "
        "that holds @fontsource/noto-sans-sc."
    )


def _ranges(value: str) -> Iterable[range]:
    for part in value.split(","):
        part = part.strip().upper().removeprefix("U+")
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
        elif "?" in part:  # U+4?? : a range written with wildcards
            lo, hi = part.replace("?", "0"), part.replace("?", "F")
        else:
            lo = hi = part
        yield range(int(lo, 16), int(hi, 16) + 1)


@functools.cache
def _index(directory: Path) -> Mapping[int, tuple[FontFace, ...]]:
    """Code point → the faces (one per weight) that cover it, read once per process."""
    by_char: dict[int, list[FontFace]] = {}
    for weight in WEIGHTS:
        css_file = directory / f"{weight}.css"
        if not css_file.is_file():
            raise FontMissing(missing_font_message(directory))
        for block in _FACE.finditer(css_file.read_text(encoding="utf-8")):
            props = {m["name"]: m["value"].strip() for m in _PROP.finditer(block["body"])}
            woff = _WOFF.search(props.get("src", ""))
            if woff is None or "unicode-range" not in props:
                continue
            path = (css_file.parent / woff["url"].strip("'\"")).resolve()
            face = FontFace(weight, props.get("font-style", "normal"), path)
            for span in _ranges(props["unicode-range"]):
                for code in span:
                    by_char.setdefault(code, []).append(face)
    if not by_char:
        raise FontMissing(missing_font_message(directory))
    return {code: tuple(faces) for code, faces in by_char.items()}


def font_css(text: str) -> str:
    """The `@font-face` rules a document with this text needs (every weight of each subset that
    covers one of its characters). FontMissing if the font is not installed."""
    index = _index(font_dir())
    faces: dict[Path, FontFace] = {}
    for char in set(text):
        for face in index.get(ord(char), ()):
            faces.setdefault(face.path, face)
    for face in faces.values():
        if not face.path.is_file():
            raise FontMissing(missing_font_message(font_dir()))
    return "\n".join(face.css() for face in sorted(faces.values(), key=lambda f: str(f.path)))


def html_to_document(html: str, *, base_url: str | None = None):
    """The laid-out WeasyPrint document of this HTML, with the CJK font (its `pages` hold the
    boxes and their text; `.write_pdf()` prints it)."""
    from weasyprint import CSS, HTML  # heavy: loaded on the first PDF, not at start-up
    from weasyprint.text.fonts import FontConfiguration

    font_config = FontConfiguration()
    fonts = CSS(string=font_css(html), font_config=font_config)
    document = HTML(string=html, base_url=base_url or settings.BASE_DIR.as_uri() + "/")
    return document.render(stylesheets=[fonts], font_config=font_config)


def render_document(template_name: str, context: Mapping, *, request=None):
    """A Django template laid out for print (the template's CSS sets the page size and uses
    `font-family: "Noto Sans SC"`)."""
    return html_to_document(render_to_string(template_name, context, request=request))


def render_pdf(template_name: str, context: Mapping, *, request=None) -> bytes:
    """A Django template printed to PDF, the CJK font embedded (subset to the glyphs used)."""
    return render_document(template_name, context, request=request).write_pdf()


@checks.register()
def cjk_font_installed(app_configs, **kwargs):
    """Warn at start-up, not at the first print, when the PDF font is missing."""
    directory = font_dir()
    if all((directory / f"{weight}.css").is_file() for weight in WEIGHTS):
        return []
    return [
        checks.Warning(
            missing_font_message(directory),
            hint="make install",
            id="safework.W201",
        )
    ]
