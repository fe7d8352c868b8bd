#!/usr/bin/python3
"""Regenerate viz's embedded CJK font subset.

Run from the repository with Debian's fonts-noto-cjk and python3-fonttools
installed (apt-get install fonts-noto-cjk python3-fonttools):

    go generate ./viz          # runs /usr/bin/python3 cjkfont/gen.py

It reads Noto Sans CJK SC Regular (face 2 of NotoSansCJK-Regular.ttc),
keeps the characters listed below, converts the CFF (cubic) outlines to
TrueType (quadratic) outlines and writes, next to this script:

    NotoSansCJKsc-subset.ttf   the font viz embeds
    chars.txt                  every character it covers, in code-point order

The character set is
  - ASCII and the Latin-1 Supplement (U+0020-007E, U+00A0-00FF),
  - Greek letters (U+0391-03A9, U+03B1-03C9) and a fixed list of symbols
    used in chart text (math operators, arrows, dashes, quotes, super- and
    subscripts),
  - CJK punctuation (U+3000-303F) and fullwidth forms (U+FF01-FF5E),
  - GB2312 rows 1-3 and 6 (symbols, numerals, fullwidth ASCII, Greek),
  - GB2312's 6,763 hanzi, decoded with Python's 'gb2312' codec: level 1,
    the 3,755 most common (rows 16-55), and level 2 (rows 56-87),
  - every other hanzi (CJK Unified Ideographs and Extension A) that occurs
    in the repository's text files (*.go, *.templ, *.md, *.js, *.html,
    *.json, *.txt) and that the source font has, so that every hanzi the
    lessons use is covered even when it is outside GB2312.
The last part depends on the repository at generation time (chars.txt
itself is not read); chars.txt records the exact result.
"""

import os
import subprocess
import sys

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable

SOURCE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FACE = 2  # Noto Sans CJK SC in the collection
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "NotoSansCJKsc-subset.ttf")
CHARS = os.path.join(HERE, "chars.txt")

# Cubic-to-quadratic conversion tolerance, in font units (1000 per em):
# at 13 pt and 96 dpi one unit is 0.017 px, far below what shows.
MAX_ERR = 1.0

SYMBOLS = (
    "×÷±∓−·⋅…⋯—–‖‘’“”•′″‰"
    "≤≥≈≠≡∼∝∞√∂∇∈∉⊂∩∪∏∑∗∘⊗⊙⌈⌉⌊⌋⟨⟩"
    "ℓ←↑→↓↔↦⇒▶◀■□●○"
    "ϑϕϵ"
    "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿ₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ᵀᵗ"
)


def ranges(*pairs):
    out = set()
    for lo, hi in pairs:
        out.update(chr(c) for c in range(lo, hi + 1))
    return out


def gb2312_rows(rows):
    out = set()
    for row in rows:
        for col in range(1, 95):
            try:
                out.add(bytes([0xA0 + row, 0xA0 + col]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return out


def is_hanzi(c):
    return 0x4E00 <= ord(c) <= 0x9FFF or 0x3400 <= ord(c) <= 0x4DBF


def repo_chars(root):
    exts = (".go", ".templ", ".md", ".js", ".html", ".json", ".txt")
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "node_modules")
        for name in filenames:
            if not name.endswith(exts) or os.path.join(dirpath, name) == CHARS:
                continue
            try:
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    out.update(c for c in f.read() if is_hanzi(c))
            except (UnicodeDecodeError, OSError):
                pass
    return out


def to_truetype(font):
    """Replace the CFF table by glyf/loca with quadratic outlines."""
    order = font.getGlyphOrder()
    gs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(gs)
        gs[name].draw(Cu2QuPen(pen, MAX_ERR, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    font["maxp"] = newTable("maxp")
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for k in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs",
              "maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions",
              "maxComponentElements", "maxPoints", "maxContours",
              "maxCompositePoints", "maxCompositeContours", "maxComponentDepth"):
        setattr(maxp, k, 0)
    maxp.maxZones = 1
    maxp.numGlyphs = len(order)
    font["head"].glyphDataFormat = 0
    post = font["post"]
    post.formatType = 3.0  # no glyph names: CID names would only add bytes
    post.extraNames = []
    post.mapping = {}
    font.sfntVersion = "\x00\x01\x00\x00"
    # glyf/loca recompute their bounds and maxp its counts on save.


def fit_gonum_metrics(font):
    """Give hhea the proportions gonum/plot's text layout expects.

    gonum/plot (text.Plain) puts a line's baseline Size - Ascent above the
    bottom of its box, which assumes an ascent a little under one em, as
    Liberation Sans has (0.905 em). Noto's hhea ascent of 1.16 em would
    drop every label a quarter em, onto bars and axes. hhea gets the
    ideographic em box's top (the OS/2 typo ascender, 0.88 em) and a
    descent of 0.25 em, deep enough for Latin descenders (g, p, y) and
    CJK commas and brackets; the glyphs are unchanged.
    """
    hhea = font["hhea"]
    hhea.ascent = font["OS/2"].sTypoAscender
    hhea.descent = -250
    hhea.lineGap = 0


def main():
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=HERE,
                          capture_output=True, text=True, check=True).stdout.strip()
    want = set()
    want |= ranges((0x20, 0x7E), (0xA0, 0xFF), (0x391, 0x3A1), (0x3A3, 0x3A9), (0x3B1, 0x3C9),
                   (0x3000, 0x303F), (0xFF01, 0xFF5E))
    want |= set(SYMBOLS)
    want |= gb2312_rows([1, 2, 3, 6])
    level1, level2 = gb2312_rows(range(16, 56)), gb2312_rows(range(56, 88))
    assert (len(level1), len(level2)) == (3755, 3008), (len(level1), len(level2))
    want |= level1 | level2
    want |= repo_chars(root)

    src = TTFont(SOURCE, fontNumber=FACE, recalcTimestamp=False)
    cmap = src.getBestCmap()
    missing = sorted(c for c in want if ord(c) not in cmap)
    keep = sorted(c for c in want if ord(c) in cmap)
    if missing:
        print("not in the source font, left out:", "".join(missing), file=sys.stderr)

    opts = subset.Options()
    opts.layout_features = []  # gonum/plot does no shaping: no GSUB/GPOS
    opts.hinting = False
    opts.desubroutinize = True
    opts.name_IDs = [0, 1, 2, 3, 4, 5, 6, 7, 13, 14]
    opts.name_languages = [0x409]
    opts.notdef_outline = True
    opts.drop_tables += ["vhea", "vmtx", "VORG", "BASE", "GDEF", "GSUB", "GPOS", "DSIG"]
    s = subset.Subsetter(opts)
    s.populate(unicodes=[ord(c) for c in keep])
    s.subset(src)
    to_truetype(src)
    fit_gonum_metrics(src)
    src.save(OUT)

    with open(CHARS, "w", encoding="utf-8") as f:
        f.write("".join(keep) + "\n")
    print("%s: %d characters, %d glyphs, %d bytes" % (
        os.path.relpath(OUT, root), len(keep), len(src.getGlyphOrder()), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
