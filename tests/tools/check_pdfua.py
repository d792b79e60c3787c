#!/usr/bin/env python3
"""Check a tagged PDF against the machine-checkable part of PDF/UA-1 (ISO 14289-1).

Usage:
    check_pdfua.py [--lang LANG] [--title TEXT] FILE.pdf

An independent reader: the PDF is opened with pikepdf (qpdf), not with the
library that wrote it, and the checks below are this script's own, each named
after the Matterhorn Protocol 1.1 failure condition it stands for (the
conditions a program can decide; those that need a person, such as "is the
reading order logical" or "is this alternative text right", are not here):

  06-001/06-002  XMP metadata in the catalogue, with pdfuaid:part = 1
  06-003/07-001  a dc:title in the XMP, and ViewerPreferences /DisplayDocTitle true
  01-001         MarkInfo /Marked true (and /Suspects not true)
  01-005/01-007  every piece of page content (text, paths, images, forms) is either
                 marked content referenced from the structure tree or an /Artifact,
                 and no artifact sits inside tagged content
  01-00x         every marked-content id (MCID) on a page is owned by exactly one
                 structure element, the one the page's /ParentTree entry names;
                 every MCID the tree refers to is on the page it names
  02-001/02-004  every structure type is a standard one or role-mapped to one
  11-006         the catalogue has a /Lang (equal to --lang when given)
  13-004         every Figure, Formula and Form has /Alt (or /ActualText)
  14-002/14-003  the first numbered heading is H1 and no level is skipped
  15-00x         TR only in Table/THead/TBody/TFoot, TH/TD only in TR, each table
                 has a header cell, every TH has a /Scope, rows are equally wide
  31-xxx         every font is embedded, with a ToUnicode map (text extractable)
  26-001         not encrypted (or the accessibility permission is granted)
  28-008         pages with annotations have /Tabs /S

On success prints a JSON summary (structure types counted, heading levels in
order, tables, MCIDs, fonts, pages, outline entries) and exits 0. On any
failure prints one line per failure to stderr, prefixed with its Matterhorn id,
and exits 1; exits 3 when pikepdf is missing and cannot be installed, 2 on bad
usage.
"""

import argparse
import json
import os
import re
import subprocess
import sys

try:
    import pikepdf
except ImportError:
    # First use on a fresh machine: install the pinned reader listed next to
    # this script, so that `cargo test` alone is enough.
    requirements = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requirements.txt")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirements],
        check=False,
    )
    try:
        import pikepdf
    except ImportError:
        print("pikepdf is missing: pip install -r tests/tools/requirements.txt", file=sys.stderr)
        sys.exit(3)

from pikepdf import Array, Dictionary, Name

# PDF 1.7 (ISO 32000-1, 14.8.4) standard structure types.
STANDARD = {
    "Document", "Part", "Art", "Sect", "Div", "BlockQuote", "Caption", "TOC", "TOCI",
    "Index", "NonStruct", "Private", "P", "H", "H1", "H2", "H3", "H4", "H5", "H6",
    "L", "LI", "Lbl", "LBody", "Table", "TR", "TH", "TD", "THead", "TBody", "TFoot",
    "Span", "Quote", "Note", "Reference", "BibEntry", "Code", "Link", "Annot", "Ruby",
    "RB", "RT", "RP", "Warichu", "WT", "WP", "Figure", "Formula", "Form",
}
# Operators that put something on the page.
TEXT_SHOW = {"Tj", "TJ", "'", '"'}
PAINT = {"S", "s", "f", "F", "f*", "B", "B*", "b", "b*", "sh", "BI"}
ROW_PARENTS = {"Table", "THead", "TBody", "TFoot"}


class Checker:
    def __init__(self, pdf, expect_lang=None, expect_title=None):
        self.pdf = pdf
        self.expect_lang = expect_lang
        self.expect_title = expect_title
        self.failures = []
        self.counts = {}
        self.headings = []
        self.tables = 0
        self.role_map = {}
        # (page objgen, mcid) -> structure elements that refer to it
        self.referenced = {}

    def fail(self, code, message):
        self.failures.append(f"{code}: {message}")

    # ------------------------------------------------------------ document

    def check_document(self):
        root = self.pdf.Root
        if self.pdf.is_encrypted:
            allowed = self.pdf.allow.accessibility if hasattr(self.pdf, "allow") else False
            if not allowed:
                self.fail("26-001", "encrypted without the accessibility permission")

        # XMP: PDF/UA identifier and title.
        title = None
        if "/Metadata" not in root:
            self.fail("06-001", "no XMP metadata stream in the catalogue")
        else:
            xmp = bytes(root.Metadata.read_bytes()).decode("utf-8", "replace")
            part = re.search(r"pdfuaid:part\s*=\s*[\"'](\d+)[\"']|<pdfuaid:part>\s*(\d+)\s*</pdfuaid:part>", xmp)
            if not part:
                self.fail("06-002", "the XMP has no pdfuaid:part (PDF/UA identifier)")
            elif (part.group(1) or part.group(2)) != "1":
                self.fail("06-002", f"pdfuaid:part is {part.group(1) or part.group(2)}, not 1")
            m = re.search(r"<dc:title>.*?<rdf:li[^>]*>(.*?)</rdf:li>", xmp, re.S)
            if not m or not m.group(1).strip():
                self.fail("06-003", "the XMP has no dc:title")
            else:
                title = unescape_xml(m.group(1).strip())
                if self.expect_title is not None and title != self.expect_title:
                    self.fail("06-003", f"dc:title is {title!r}, expected {self.expect_title!r}")
        prefs = root.get("/ViewerPreferences")
        if prefs is None or not bool(prefs.get("/DisplayDocTitle", False)):
            self.fail("07-001", "ViewerPreferences /DisplayDocTitle is not true")

        mark = root.get("/MarkInfo")
        if mark is None or not bool(mark.get("/Marked", False)):
            self.fail("01-001", "MarkInfo /Marked is not true")
        elif bool(mark.get("/Suspects", False)):
            self.fail("01-001", "MarkInfo /Suspects is true")

        lang = str(root.get("/Lang", "")).strip()
        if not lang:
            self.fail("11-006", "the catalogue has no /Lang")
        elif self.expect_lang is not None and lang.lower() != self.expect_lang.lower():
            self.fail("11-006", f"/Lang is {lang!r}, expected {self.expect_lang!r}")
        return {"title": title, "lang": lang or None}

    # ------------------------------------------------------------ structure

    def std_type(self, name):
        seen = set()
        while name not in STANDARD and name in self.role_map and name not in seen:
            seen.add(name)
            name = self.role_map[name]
        return name

    def check_structure(self):
        root = self.pdf.Root
        tree = root.get("/StructTreeRoot")
        if tree is None:
            self.fail("01-006", "no StructTreeRoot: the document is not tagged")
            return
        for k, v in (tree.get("/RoleMap") or Dictionary()).items():
            self.role_map[k[1:]] = str(v)[1:]
        if "/ParentTree" not in tree:
            self.fail("01-006", "the StructTreeRoot has no /ParentTree")
        kids = tree.get("/K")
        if kids is None:
            self.fail("01-006", "the structure tree is empty")
            return
        self.walk(kids, parent_type=None, page=None, depth=0)
        first = True
        previous = 0
        for level in self.headings:
            if first and level != 1:
                self.fail("14-002", f"the first heading is H{level}, not H1")
            elif not first and level > previous + 1:
                self.fail("14-003", f"heading level skipped: H{previous} followed by H{level}")
            first = False
            previous = level

    def walk(self, node, parent_type, page, depth):
        if depth > 200:
            self.fail("01-006", "the structure tree is nested deeper than 200 levels (a cycle?)")
            return
        if isinstance(node, Array):
            for kid in node:
                self.walk(kid, parent_type, page, depth)
            return
        if isinstance(node, int):
            self.mcid(parent_type, page, int(node))
            return
        if not isinstance(node, Dictionary):
            return
        node_type = node.get("/Type")
        if node_type == Name.MCR:
            self.mcid(parent_type, node.get("/Pg", page), int(node.MCID))
            return
        if node_type == Name.OBJR:
            return
        if "/S" not in node:
            self.fail("01-006", "a structure element without /S")
            return
        raw = str(node.S)[1:]
        kind = self.std_type(raw)
        if kind not in STANDARD:
            self.fail("02-004", f"structure type {raw!r} is neither standard nor role-mapped to one")
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if re.fullmatch(r"H[1-6]", kind):
            self.headings.append(int(kind[1]))
        if kind in ("Figure", "Formula", "Form") and "/Alt" not in node and "/ActualText" not in node:
            self.fail("13-004", f"a {kind} without /Alt")
        if kind == "TR" and parent_type not in ROW_PARENTS:
            self.fail("15-001", f"a TR inside {parent_type}, not a table")
        if kind in ("TH", "TD") and parent_type != "TR":
            self.fail("15-001", f"a {kind} inside {parent_type}, not a TR")
        if kind == "TH" and scope(node) is None:
            self.fail("15-003", "a TH without a /Scope attribute")
        if kind == "Table":
            self.tables += 1
            self.check_table(node)
        kids = node.get("/K")
        if kids is not None:
            self.walk_kids(kids, kind, node.get("/Pg", page), depth + 1, node)

    def walk_kids(self, kids, kind, page, depth, element):
        items = kids if isinstance(kids, Array) else [kids]
        for kid in items:
            if isinstance(kid, int):
                self.mcid(kind, page, int(kid), element)
            elif isinstance(kid, Dictionary) and kid.get("/Type") == Name.MCR:
                self.mcid(kind, kid.get("/Pg", page), int(kid.MCID), element)
            else:
                self.walk(kid, kind, page, depth)

    def mcid(self, parent_type, page, mcid, element=None):
        if page is None:
            self.fail("01-006", f"MCID {mcid} of a {parent_type} names no page (/Pg)")
            return
        key = (page.objgen, mcid)
        self.referenced.setdefault(key, []).append(element.objgen if element is not None else None)

    def check_table(self, table):
        rows = []

        def collect(node):
            for kid in as_list(node.get("/K")):
                if not isinstance(kid, Dictionary) or "/S" not in kid:
                    continue
                kind = self.std_type(str(kid.S)[1:])
                if kind == "TR":
                    cells = [c for c in as_list(kid.get("/K")) if isinstance(c, Dictionary) and "/S" in c]
                    rows.append([self.std_type(str(c.S)[1:]) for c in cells])
                elif kind in ("THead", "TBody", "TFoot"):
                    collect(kid)

        collect(table)
        if not rows:
            self.fail("15-00x", "a Table without rows")
            return
        if not any("TH" in r for r in rows):
            self.fail("15-005", "a Table without any header cell (TH)")
        widths = {len(r) for r in rows}
        if len(widths) > 1:
            self.fail("15-00x", f"a Table with rows of different widths {sorted(widths)}")

    # ------------------------------------------------------------ content

    def check_pages(self):
        tree = self.pdf.Root.get("/StructTreeRoot")
        parent_tree = number_tree(tree.get("/ParentTree")) if tree is not None else {}
        on_pages = set()
        for n, page in enumerate(self.pdf.pages, start=1):
            obj = page.obj
            annots = obj.get("/Annots")
            if annots is not None and len(annots) > 0 and obj.get("/Tabs") != Name.S:
                self.fail("28-008", f"page {n} has annotations but no /Tabs /S")
            mcids = self.content(page, n)
            for mcid in mcids:
                on_pages.add((obj.objgen, mcid))
            if mcids:
                if "/StructParents" not in obj:
                    self.fail("01-006", f"page {n} has marked content but no /StructParents")
                    continue
                entry = parent_tree.get(int(obj.StructParents))
                if entry is None:
                    self.fail("01-006", f"page {n}: no /ParentTree entry {int(obj.StructParents)}")
                    continue
                for mcid in mcids:
                    owners = self.referenced.get((obj.objgen, mcid), [])
                    if not owners:
                        self.fail("01-005", f"page {n}: MCID {mcid} is tagged but no structure element owns it")
                    elif len(owners) > 1:
                        self.fail("01-006", f"page {n}: MCID {mcid} is owned by {len(owners)} elements")
                    if mcid >= len(entry) or not isinstance(entry[mcid], Dictionary):
                        self.fail("01-006", f"page {n}: the ParentTree has no element for MCID {mcid}")
                    elif owners and owners[0] is not None and entry[mcid].objgen != owners[0]:
                        self.fail("01-006", f"page {n}: the ParentTree names another element for MCID {mcid}")
        for (page, mcid) in self.referenced:
            if (page, mcid) not in on_pages:
                self.fail("01-006", f"the structure tree refers to MCID {mcid} that its page does not have")
        return len(on_pages)

    def content(self, page, n, resources=None, stack=None, depth=0):
        """The MCIDs used in a page's content; records content outside marked content."""
        stack = [] if stack is None else stack
        mcids = []
        resources = resources if resources is not None else page.obj.get("/Resources", Dictionary())
        xobjects = resources.get("/XObject", Dictionary()) if resources is not None else Dictionary()
        untagged = 0
        for operands, op in pikepdf.parse_content_stream(page):
            op = str(op)
            if op == "BDC":
                tag = str(operands[0])[1:]
                props = operands[1]
                if isinstance(props, Name):
                    props = resources.get("/Properties", Dictionary()).get(props, Dictionary())
                mcid = props.get("/MCID") if isinstance(props, Dictionary) else None
                if tag == "Artifact":
                    stack.append("artifact")
                elif mcid is not None:
                    if "artifact" in stack:
                        self.fail("01-007", f"page {n}: tagged content (MCID {int(mcid)}) inside an artifact")
                    mcids.append(int(mcid))
                    stack.append("tagged")
                else:
                    stack.append("other")
            elif op == "BMC":
                stack.append("artifact" if str(operands[0]) == "/Artifact" else "other")
            elif op == "EMC":
                if stack:
                    stack.pop()
                else:
                    self.fail("01-006", f"page {n}: EMC without a matching BDC/BMC")
            elif op in TEXT_SHOW or op in PAINT or op == "Do" or op == "INLINE IMAGE":
                if not any(s in ("tagged", "artifact") for s in stack):
                    untagged += 1
                if op == "Do" and depth < 8:
                    xo = xobjects.get(operands[0]) if xobjects is not None else None
                    if xo is not None and xo.get("/Subtype") == Name.Form and "tagged" not in stack and "artifact" not in stack:
                        self.fail("01-005", f"page {n}: a form XObject drawn outside marked content")
        if stack:
            self.fail("01-006", f"page {n}: {len(stack)} marked-content sequence(s) left open")
        if untagged:
            self.fail("01-005", f"page {n}: {untagged} drawing operation(s) neither tagged nor marked as artifact")
        return mcids

    # ------------------------------------------------------------ fonts

    def check_fonts(self):
        fonts = {}
        for n, page in enumerate(self.pdf.pages, start=1):
            res = page.obj.get("/Resources", Dictionary())
            for name, font in (res.get("/Font") or Dictionary()).items():
                fonts.setdefault(font.objgen, (n, name, font))
        names = []
        for _, (n, name, font) in fonts.items():
            base = str(font.get("/BaseFont", name))
            names.append(base)
            if font.get("/Subtype") == Name.Type3:
                continue
            descriptor = None
            if font.get("/Subtype") == Name.Type0:
                descendants = font.get("/DescendantFonts")
                if not descendants:
                    self.fail("31-001", f"font {base}: Type0 without DescendantFonts")
                    continue
                cid = descendants[0]
                descriptor = cid.get("/FontDescriptor")
                if cid.get("/Subtype") == Name.CIDFontType2 and "/CIDToGIDMap" not in cid:
                    self.fail("31-008", f"font {base}: CIDFontType2 without CIDToGIDMap")
            else:
                descriptor = font.get("/FontDescriptor")
            if descriptor is None or not any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                self.fail("31-009", f"font {base} (page {n}) is not embedded")
            if "/ToUnicode" not in font:
                self.fail("31-027", f"font {base} (page {n}) has no ToUnicode map")
        return sorted(set(names))


def scope(th):
    attrs = th.get("/A")
    for a in as_list(attrs):
        if isinstance(a, Dictionary) and "/Scope" in a:
            return str(a.Scope)
    return None


def as_list(obj):
    if obj is None:
        return []
    return list(obj) if isinstance(obj, Array) else [obj]


def number_tree(node, out=None, depth=0):
    out = {} if out is None else out
    if node is None or depth > 32:
        return out
    nums = node.get("/Nums")
    if nums is not None:
        for i in range(0, len(nums) - 1, 2):
            out[int(nums[i])] = nums[i + 1]
    for kid in as_list(node.get("/Kids")):
        number_tree(kid, out, depth + 1)
    return out


def outline_count(pdf):
    try:
        with pdf.open_outline() as outline:
            def count(items):
                return sum(1 + count(i.children) for i in items)
            return count(outline.root)
    except Exception:
        return 0


def unescape_xml(text):
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&#39;", "'").replace("&amp;", "&"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lang")
    parser.add_argument("--title")
    parser.add_argument("file")
    args = parser.parse_args()
    try:
        pdf = pikepdf.open(args.file)
    except Exception as e:  # noqa: BLE001 - any reader error is a failure
        print(f"00-000: not a readable PDF: {e}", file=sys.stderr)
        sys.exit(1)
    c = Checker(pdf, args.lang, args.title)
    doc = c.check_document()
    c.check_structure()
    mcids = c.check_pages()
    fonts = c.check_fonts()
    summary = {
        "file": args.file,
        "version": pdf.pdf_version,
        "pages": len(pdf.pages),
        "title": doc["title"],
        "lang": doc["lang"],
        "structure": dict(sorted(c.counts.items())),
        "headings": "".join(str(h) for h in c.headings[:200]),
        "tables": c.tables,
        "mcids": mcids,
        "fonts": fonts,
        "outline": outline_count(pdf),
    }
    if c.failures:
        for f in c.failures[:200]:
            print(f, file=sys.stderr)
        if len(c.failures) > 200:
            print(f"... and {len(c.failures) - 200} more", file=sys.stderr)
        print(json.dumps(summary, ensure_ascii=False))
        sys.exit(1)
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
