"""The ``qa`` command: a thin shell over the Python API.

Every failure the user can fix is printed as one line, ``error: ...``, with a
non-zero exit code; no traceback (set ``QA_DEBUG=1`` to see one).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from .errors import QAError

CORPUS = click.option("--corpus", default="corpus", show_default=True, type=click.Path(file_okay=False),
                      help="Folder of documents (.txt .md .html .htm .pdf .docx .srt .vtt).")
# For commands that only read the index: the corpus to check it against, by default the one it was built from.
BUILT_FROM = click.option("--corpus", default=None, type=click.Path(file_okay=False),
                          help="Folder of documents to check the index against [default: the one it was built from].")
INDEX = click.option("--index", default="index", show_default=True, type=click.Path(file_okay=False),
                     help="Index folder.")


def _fail(message: str, code: int = 1) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


# click >= 8.2 raises this for a bare `qa`; older versions print the help themselves.
_NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _Group(click.Group):
    """Turns every exception into one line on stderr, usage errors included."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NO_ARGS_IS_HELP as exc:  # bare `qa`: the help is the answer
            click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
            sys.exit(0)
        except click.UsageError as exc:  # also BadParameter, NoSuchOption, MissingParameter
            where = exc.ctx.command_path if exc.ctx else (prog_name or "qa")
            _fail(f"{exc.format_message()} (see `{where} --help`)", exc.exit_code)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except click.Abort:
            _fail("aborted", 1)
        # --help and --version return their exit code; a finished command returns None.
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except QAError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except BrokenPipeError:  # `qa inspect x | head`: the reader went away, nothing is wrong
            sys.stderr = open(os.devnull, "w")
            sys.exit(0)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as exc:  # a bug: still one line, with a way to get details
            if os.environ.get("QA_DEBUG"):
                raise
            _fail(f"unexpected {exc.__class__.__name__}: {exc} (set QA_DEBUG=1 for a traceback)")


def _built_from(corpus: str | None, index: str) -> str | None:
    """The corpus folder to check ``index`` against: the one given, else the one its build recorded."""
    from .store import read_manifest

    if corpus is not None:
        return corpus
    manifest = read_manifest(index)
    beside, recorded = manifest.get("corpus_from_index"), manifest.get("corpus")
    if isinstance(beside, str) and (Path(index) / beside).is_dir():
        return os.path.normpath(Path(index) / beside)
    return recorded if isinstance(recorded, str) and Path(recorded).is_dir() else None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


@click.group(cls=_Group)
@click.version_option(package_name="qa")
def main() -> None:
    """Ask questions of a folder of documents."""


def _progress_bar() -> tuple[Callable[[str, int, int], None], Callable[[], None]]:
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage != "embedding" or total == 0:
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc="embedding", unit="text", file=sys.stderr,
                                     leave=False, disable=None)
        bar.n = done
        bar.refresh()

    def close() -> None:
        for bar in bars.values():
            bar.close()

    return progress, close


def _build(corpus: str, index: str, model: str | None = None) -> None:
    from .indexing import build_index

    progress, close = _progress_bar()
    try:
        report = build_index(corpus, index, model=model, progress=progress, lock_timeout=0,
                             on_note=lambda m: click.secho(m, fg="yellow", err=True))
    finally:
        close()
    click.echo(f"built {index}/: {report.summary()}")


@main.command()
@CORPUS
@INDEX
@click.option("--model", default=None, help="Embedding model name or path (default: bundled all-MiniLM-L6-v2).")
def build(corpus: str, index: str, model: str | None) -> None:
    """Build or refresh the index (only new or changed passages are embedded)."""
    _build(corpus, index, model)


def _print_answer(ans: Any) -> None:
    if not ans.found:
        click.echo(ans.message)
        return
    # The tier's message says whether to trust the answer ("... may not answer this"), and each
    # hit shows its calibrated confidence, which never rises down the list (raw cosine can).
    click.secho(ans.message, fg="yellow" if ans.tier == "closest" else None)
    for i, h in enumerate(ans.hits, 1):
        where = (f"{h.source}" + (f", p. {h.page}" if h.page else "") + f" [{h.start}:{h.end}]"
                 + (f" · {h.section}" if h.section else ""))
        click.secho(f"{i}. {where}  (confidence {h.confidence:.2f})", fg="cyan")
        if h.question:
            click.secho(f"   Q: {h.question}", dim=True)
        click.secho(f"   {' '.join(h.answer_sentence.split())}", bold=True)  # a sentence over two lines: one
        if i == 1:
            rest = " ".join(h.text.split())
            if len(rest) > 400:
                rest = rest[:400].rsplit(" ", 1)[0] + " …"
            click.echo(f"   {rest}")
        click.echo()


@main.command()
@click.argument("question")
@click.option("-k", default=3, show_default=True, type=click.IntRange(1, 50), help="Passages to return.")
@click.option("--json", "as_json", is_flag=True, help="Print the Answer as JSON.")
@click.option("--doc", "docs", multiple=True, metavar="NAME",
              help="Answer from this document only (repeat for several; names as the sources show them).")
@BUILT_FROM
@INDEX
def ask(question: str, k: int, as_json: bool, docs: tuple[str, ...], corpus: str | None, index: str) -> None:
    """Answer QUESTION from the index."""
    from .indexing import is_stale
    from .search import Retriever
    from .store import build_command

    retriever = Retriever.load(index)
    corpus = _built_from(corpus, index)
    if corpus is None:
        click.secho(f"note: not checked against its documents: the folder {index} was built from is gone "
                    "(give --corpus to check another)", dim=True, err=True)
    elif Path(corpus).is_dir() and is_stale(corpus, index):
        click.secho(f"warning: {corpus} has changed since {index} was built: run {build_command(index, corpus)}",
                    fg="yellow", err=True)
    ans = retriever.answer(question, k=k, sources=list(docs))  # none given: every document
    if as_json:
        click.echo(json.dumps(ans.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_answer(ans)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@CORPUS
@INDEX
@click.option("--no-build", is_flag=True, help="Only copy the files; do not update the index.")
def add(files: tuple[str, ...], corpus: str, index: str, no_build: bool) -> None:
    """Copy FILES into the corpus and update the index."""
    from . import corpus as corpus_mod

    added = 0
    for f in files:
        try:
            doc = corpus_mod.add(corpus, Path(f).name, Path(f).read_bytes())
        except QAError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            continue
        click.echo(f"added {doc.name}")
        added += 1
    if added and not no_build:
        _build(corpus, index)
    if added < len(files):
        sys.exit(1)


@main.command()
@click.argument("names", nargs=-1, required=True)
@CORPUS
@INDEX
@click.option("--no-build", is_flag=True, help="Only delete the files; do not update the index.")
def remove(names: tuple[str, ...], corpus: str, index: str, no_build: bool) -> None:
    """Remove documents (by name, as `qa status` lists them) and update the index."""
    from . import corpus as corpus_mod

    names = tuple(dict.fromkeys(names))
    # Check every name before deleting any: one typo must not leave half the removal done
    # and the index still serving what was deleted.
    root = Path(corpus).resolve()
    for name in names:
        target = (root / name).resolve()
        if root not in target.parents or target.suffix.lower() not in corpus_mod.SUFFIXES or not target.is_file():
            corpus_mod.remove(corpus, name)  # raises DocumentNotFound with the list of documents
    for name in names:
        corpus_mod.remove(corpus, name)
        click.echo(f"removed {name}")
    if not no_build:
        _build(corpus, index)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print passages and dropped lines as JSON.")
def inspect(file: str, as_json: bool) -> None:
    """Show how FILE is read: its passages, and every line set aside with the rule that did it."""
    from dataclasses import asdict

    from .chunking import is_indexed_metadata
    from .corpus import name_title, read_document
    from .indexing import document_passages

    doc = read_document(Path(file).name, Path(file).read_bytes())
    extracted = doc.extracted
    passages = document_passages(doc.name, extracted)
    named = name_title(doc.name) if extracted.title is None else None
    title = extracted.title if extracted.title is not None else named
    if title is None:
        shown_title = "no title"
    else:
        shown_title = f"title {title!r}" + (" (from the file name, where no heading gives one)" if named else "")
    dropped = [b for b in extracted.blocks if b.kind in ("chrome", "metadata") and not is_indexed_metadata(b)]
    if as_json:
        click.echo(json.dumps({
            "file": doc.name, "format": extracted.format, "title": extracted.title, "indexed_title": title,
            "passages": [asdict(p) for p in passages],
            "dropped": [{"kind": b.kind, "rule": b.rule, "start": b.start, "end": b.end,
                         "text": extracted.text[b.start:b.end]} for b in dropped],
        }, ensure_ascii=False, indent=2))
        return
    click.secho(f"{doc.name}: {extracted.format}, {shown_title}, {_count(len(passages), 'passage')}, "
                f"{_count(len(dropped), 'block')} set aside", bold=True)
    for i, p in enumerate(passages, 1):
        where = f"[{p.start}:{p.end}]" + (f" p. {p.page}" if p.page else "")
        click.secho(f"\n{i}. {p.kind} {where}" + (f" · section: {p.section}" if p.section else "")
                    + (f" · speaker: {p.speaker}" if p.speaker else ""), fg="cyan")
        if p.question:
            click.secho(f"   question: {p.question}", dim=True)
        shown = " ".join(p.text.split())
        click.echo("   " + (shown if len(shown) <= 300 else shown[:300].rsplit(" ", 1)[0] + " …"))
    if dropped:
        click.secho("\nset aside:", bold=True)
        for b in dropped:
            line = " ".join(extracted.text[b.start:b.end].split())
            click.echo(f"  {b.kind} ({b.rule}): {line[:100]}")


@main.command()
@BUILT_FROM
@INDEX
def status(corpus: str | None, index: str) -> None:
    """List the indexed documents and the files left out, and say whether the index is up to date."""
    from .indexing import is_stale
    from .store import build_command, read_manifest

    manifest = read_manifest(index)
    click.echo(f"{index}/: {_count(manifest['passages'], 'passage')}, model {manifest['model']['name']}, "
               f"built {manifest['built_at']}")
    for name, f in sorted(manifest["files"].items()):
        click.echo(f"  {name}: {_count(f['passages'], 'passage')}, indexed {f['indexed_at']}")
    skipped = manifest.get("skipped") or {}
    if skipped:
        click.secho(f"not indexed ({len(skipped)}):", fg="yellow")
        for name, f in sorted(skipped.items()):
            click.secho(f"  {name}: {f.get('reason', '?') if isinstance(f, dict) else '?'}", fg="yellow")
    corpus = _built_from(corpus, index)
    if corpus is None:
        click.echo("the corpus it was built from is gone; give --corpus to check it against another folder")
    elif is_stale(corpus, index):
        click.secho(f"stale: {corpus} has changed since the last build: run {build_command(index, corpus)}",
                    fg="yellow")
    else:
        click.echo(f"up to date with {corpus}")


@main.command(name="eval")
@click.argument("questions", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--off-topic", type=click.Path(exists=True, dir_okay=False),
              help="JSONL of questions the corpus cannot answer.")
@INDEX
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--feedback", "feedback", is_flag=False, flag_value="", default=None, metavar="[PATH]",
              help="Summarize the chat's 👍/👎 votes (default INDEX/feedback.jsonl) instead of asking QUESTIONS.")
@click.option("--write-questions", type=click.Path(dir_okay=False),
              help="With --feedback: write the confirmed (👍) answers as a questions file for `qa eval`.")
def eval_(questions: str | None, off_topic: str | None, index: str, as_json: bool, feedback: str | None,
          write_questions: str | None) -> None:
    """Measure hit@1, hit@3 and MRR@5 on QUESTIONS (JSONL with answer_contains), or summarize --feedback."""
    from .evaluate import evaluate
    from .search import Retriever

    if feedback is not None:
        _feedback(feedback or str(Path(index) / "feedback.jsonl"), as_json, write_questions)
        return
    if not questions:
        _fail("give a QUESTIONS file (JSONL with question and answer_contains), or --feedback", 2)

    report = evaluate(Retriever.load(index), questions, off_topic)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(f"questions {report.questions}: hit@1 {report.hit_at_1:.3f}  hit@3 {report.hit_at_3:.3f}  "
               f"MRR@5 {report.mrr_at_5:.3f}  answered {report.answered:.3f}")
    if report.abstained is not None:
        click.echo(f"off-topic {report.off_topic}: abstained {report.abstained:.3f}")
    for m in report.misses:
        click.echo(f"  miss (rank {m.rank or '>5'}): {m.question}")


def _feedback(path: str, as_json: bool, write_questions: str | None) -> None:
    """Summarize a votes log; optionally write the confirmed answers as a questions file."""
    from . import feedback as fb

    votes = fb.read(path)
    summary = fb.summarize(votes)
    rows = fb.to_questions(votes)
    if write_questions:
        Path(write_questions).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                         encoding="utf-8")
    if as_json:
        click.echo(json.dumps({**summary.__dict__, "by_tier": {k: list(v) for k, v in summary.by_tier.items()},
                               "down_questions": [list(x) for x in summary.down_questions]}, indent=2))
        return
    click.echo(f"votes {summary.votes}: 👍 {summary.up}  👎 {summary.down}")
    for tier, (up, down) in sorted(summary.by_tier.items()):
        click.echo(f"  {tier}: 👍 {up}  👎 {down}")
    for q, n in summary.down_questions[:20]:
        click.echo(f"  👎 {n}x: {q}")
    if write_questions:
        click.echo(f"wrote {len(rows)} confirmed questions to {write_questions}; run: qa eval {write_questions}")


@main.command()
@CORPUS
@INDEX
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7860, show_default=True, type=int)
@click.option("--admin-password", envvar="QA_ADMIN_PASSWORD", default=None,
              help="Password for editing the corpus from the web page (or QA_ADMIN_PASSWORD).")
@click.option("--allow-edits", is_flag=True,
              help="Allow edits without a password, to clients on this machine only (not through a proxy).")
@click.option("--rate-limit", envvar="QA_RATE_LIMIT", default="60/minute", show_default=True,
              help="Questions per client address, e.g. 60/minute or '10/second' (or QA_RATE_LIMIT).")
def serve(corpus: str, index: str, host: str, port: int, admin_password: str | None, allow_edits: bool,
          rate_limit: str) -> None:
    """Start the web chat."""
    from limits import parse

    from .web import serve as run

    try:
        parse(rate_limit)
    except ValueError:
        raise click.BadParameter(f"{rate_limit!r} is not a rate such as 60/minute", param_hint="--rate-limit") from None
    run(corpus=corpus, index=index, host=host, port=port, admin_password=admin_password,
        allow_edits=allow_edits, rate_limit=rate_limit)


if __name__ == "__main__":
    main()
