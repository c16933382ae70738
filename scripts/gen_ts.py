"""Update the window's translation files and build the .qm files.

``resources/translations/cinepass_{zh_CN,en}.ts`` hold every user-facing
string of ``kiosk/ui`` (source text in English). This script:

1. runs ``pyside6-lupdate`` over ``kiosk/ui`` (new strings appear as
   "unfinished"; existing translations are kept, strings no longer used are dropped);
2. rewrites the ``Verdict`` and ``Void`` contexts from the engine's
   catalogues (:data:`kiosk.engine.verdict.MESSAGES`,
   :data:`kiosk.engine.voids.VOID_MESSAGES`): those words have one source,
   and the CLI prints the same ones;
3. completes ``en`` (the English source is its own translation);
4. runs ``pyside6-lrelease`` to build ``cinepass_*.qm``.

``--check`` changes nothing and exits 1 if any file is out of date or a
Chinese translation is missing (the test suite runs it).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.engine.voids import VOID_MESSAGES  # noqa: E402
from kiosk.engine.verdict import MESSAGES  # noqa: E402

TS_DIR = ROOT / "resources" / "translations"
LANGS = ("zh_CN", "en")
BIN = Path(sys.executable).parent
GENERATED = ("Verdict", "Void")


def _tool(name: str) -> str:
    found = BIN / name
    if found.exists():
        return str(found)
    which = shutil.which(name)
    if which is None:
        raise SystemExit(f"{name} not found (install pyside6-essentials into the venv)")
    return which


def catalogue_entries(lang: str) -> dict[str, list[tuple[str, str, str]]]:
    """context -> [(source, disambiguation, translation)] from the engine's tables."""
    verdict = []
    for reason, table in MESSAGES.items():
        en_msg, en_next = table["en"]
        tr_msg, tr_next = table.get(lang) or table["en"]
        verdict.append((en_msg, reason, tr_msg))
        verdict.append((en_next, f"{reason}.next", tr_next))
    void = [(t["en"], reason, t.get(lang, t["en"])) for reason, t in VOID_MESSAGES.items()]
    return {"Verdict": verdict, "Void": void}


def rewrite(ts: Path, lang: str) -> None:
    tree = ET.parse(ts)  # noqa: S314 (our own file in the repo)
    root = tree.getroot()
    root.set("language", lang)
    for ctx in list(root.findall("context")):
        if ctx.findtext("name") in GENERATED:
            root.remove(ctx)
    for name, entries in catalogue_entries(lang).items():
        ctx = ET.SubElement(root, "context")
        ET.SubElement(ctx, "name").text = name
        for source, comment, translation in entries:
            msg = ET.SubElement(ctx, "message")
            ET.SubElement(msg, "source").text = source
            ET.SubElement(msg, "comment").text = comment
            ET.SubElement(msg, "translation").text = translation
    if lang == "en":
        for msg in root.iter("message"):
            tr = msg.find("translation")
            if tr is not None and tr.get("type") == "unfinished":
                tr.text = msg.findtext("source")
                del tr.attrib["type"]
    ET.indent(tree)
    tree.write(ts, encoding="utf-8", xml_declaration=True)


def unfinished(ts: Path) -> list[str]:
    """Sources that still lack a translation (obsolete entries do not count)."""
    out = []
    for msg in ET.parse(ts).getroot().iter("message"):  # noqa: S314 (our own file)
        tr = msg.find("translation")
        if tr is None or tr.get("type") in ("obsolete", "vanished"):
            continue
        if tr.get("type") == "unfinished" or not (tr.text or "").strip():
            out.append(msg.findtext("source") or "")
    return out


def build(out_dir: Path) -> None:
    sources = sorted(str(p) for p in (ROOT / "kiosk" / "ui").glob("*.py"))
    for lang in LANGS:
        ts = out_dir / f"cinepass_{lang}.ts"
        subprocess.run(
            [
                _tool("pyside6-lupdate"),
                "-silent",
                "-no-obsolete",
                "-locations",
                "none",
                *sources,
                "-ts",
                str(ts),
            ],
            check=True,
        )
        rewrite(ts, lang)
        subprocess.run(
            [_tool("pyside6-lrelease"), "-silent", str(ts), "-qm", str(ts.with_suffix(".qm"))],
            check=True,
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    args = ap.parse_args()
    if not args.check:
        TS_DIR.mkdir(parents=True, exist_ok=True)
        build(TS_DIR)
        missing = unfinished(TS_DIR / "cinepass_zh_CN.ts")
        for s in missing:
            print(f"zh_CN: untranslated: {s!r}")
        return 1 if missing else 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for lang in LANGS:
            src = TS_DIR / f"cinepass_{lang}.ts"
            if not src.exists():
                print(f"missing {src}")
                return 1
            shutil.copy(src, work / src.name)
        build(work)
        problems = [f"zh_CN: untranslated: {s!r}" for s in unfinished(work / "cinepass_zh_CN.ts")]
        for lang in LANGS:
            for suffix in (".ts", ".qm"):
                name = f"cinepass_{lang}{suffix}"
                mine, fresh = TS_DIR / name, work / name
                if not mine.exists() or mine.read_bytes() != fresh.read_bytes():
                    problems.append(f"{name} is out of date: run scripts/gen_ts.py")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
