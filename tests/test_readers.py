"""Readers and the packer on real documents of many shapes, and on the cases that used to go wrong."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from qa.chunking import pack
from qa.errors import DocumentRejected
from qa.readers import read
from qa.readers.labels import find_label

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXPECTED = {k: v for k, v in json.loads((FIXTURES / "expected.json").read_text()).items() if not k.startswith("_")}


def passages_of(name: str, data: bytes):
    doc = read(name, data)
    return doc, pack(doc)


def recorded(doc, passages) -> set[str]:
    """What a passage records besides its text: its section, question and the title."""
    return ({x for p in passages for x in (p.section, p.question)} | {doc.title}) - {None}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_structure(name):
    exp = EXPECTED[name]
    doc, passages = passages_of(name, (FIXTURES / name).read_bytes())
    known = exp.get("known_misses", {})
    for p in passages:
        assert doc.text[p.start:p.end] == p.text and p.sentences, "offsets round-trip, every passage has a sentence"
    for line in exp.get("chrome", []):
        if line not in known:
            assert not any(line in p.text for p in passages), f"chrome kept: {line!r}"
    notes = recorded(doc, passages)
    for line in exp.get("keep", []):
        if line not in known:
            bare = line.strip("#* ").replace("**", "")
            assert any(line in p.text for p in passages) or any(bare in r for r in notes), f"content lost: {line!r}"
    if exp.get("qa_pairs") is not None:
        assert len({p.question for p in passages if p.question}) == exp["qa_pairs"]
    if exp.get("title") and "title" not in known:
        assert doc.title == exp["title"]


def test_post_navigation_and_form_fields_below_a_story_are_chrome_but_not_inside_it():
    story = ("The city council met on Tuesday to vote on the new cycling plan. It passed by nine votes to two.\n\n"
             "Next post in the series will look at the budget, the mayor said after the vote was counted.\n\n"
             "Work on the first lanes starts in May and should be finished before the end of the year.\n\n")
    page = story + "« Previous post: How the bridge was rebuilt\nNext article Spring cleaning starts on Monday\n" \
                   "Leave a Reply\nName *\nEmail *\n"
    doc, ps = passages_of("page.txt", page.encode())
    dropped = {doc.text[b.start:b.end]: b.rule for b in doc.blocks if b.kind == "chrome"}
    assert dropped["« Previous post: How the bridge was rebuilt"] == "post navigation"
    assert dropped["Next article Spring cleaning starts on Monday"] == "post navigation"
    assert dropped["Name *"] == dropped["Email *"] == "form field"
    # Between the story's paragraphs the same words are the story's.
    assert any("Next post in the series will look at the budget" in p.text for p in ps)
    assert not any("Previous post" in p.text or "Name *" in p.text for p in ps)


def test_markdown_interview_pairs_q_and_a_and_drops_link_references():
    text = ("# Talk with Ana\n\n[#]: collector: \"someone\"\n[#]: translator: \" \"\n\n"
            "**Q.** Where did the project start?\n\n**A.** It started in a garage in 2009.\n\n"
            "**Q.** How many people work on it?\n\n**A.** About forty, spread over six countries.\n\n"
            "[1]: https://example.org/one\n[2]: https://example.org/two\n")
    doc, ps = passages_of("talk.md", text.encode())
    assert [p.question for p in ps] == ["Where did the project start?", "How many people work on it?"]
    assert all(p.kind == "answer" for p in ps)
    assert not any("example.org" in p.text or "collector" in p.text for p in ps)


def test_bold_questions_and_inconsistent_names_with_front_matter():
    text = ("---\ntitle: Meeting Yang Li\nslug: yang-li\n---\n\nIntro paragraph about the guest and the show.\n\n"
            "<!--truncate-->\n\n**Q: What do you build?**\n\n**Yang Li**: Tools for translators, mostly.\n\n"
            "**Q: Who uses them?**\n\n**Yang**: Teams at newspapers.\n\n**Q: And next year?**\n\n"
            "**Jan Li:** A mobile version.\n")
    doc, ps = passages_of("yang.md", text.encode())
    assert doc.title == "Meeting Yang Li"
    assert {p.question for p in ps if p.question} == {"What do you build?", "Who uses them?", "And next year?"}
    assert not any("slug" in p.text or "truncate" in p.text or p.text.startswith("---") for p in ps)
    assert {p.section for p in ps} <= {None, "Meeting Yang Li"}


def test_pasted_page_byline_copyright_and_short_heading():
    text = ("Posted by Maria Lopez on March 3, 2024\n\nOpening hours\n\n"
            "The library opens at nine every weekday and closes at six, except on public holidays when it stays shut.\n\n"
            "Members can borrow up to twelve books at a time, and renew them twice online or at the desk.\n\n"
            "© 2024 City Library. All rights reserved.\n")
    doc, ps = passages_of("page.txt", text.encode())
    assert all("Posted by" != p.section and "All rights reserved" not in p.text for p in ps)
    assert any("Opening hours" in (p.section, p.title) for p in ps)  # the short heading is kept
    dropped = {b.rule for b in doc.blocks if b.kind in ("chrome", "metadata")}
    assert {"byline", "copyright line"} <= dropped


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
@pytest.mark.parametrize("name", ["notes.txt", "notes.md", "notes.html"])
def test_text_with_a_byte_order_mark_is_read_in_its_encoding(codec, name):
    # Notepad's "Unicode" and PowerShell's `>` write UTF-16 with a mark; it was refused as binary.
    text = ("<html><head><title>Quokkas</title></head><body><article><p>The Quokka Society was founded in "
            "1999 in Perth.</p></article></body></html>") if name.endswith(".html") \
        else "The Quokka Society was founded in 1999 in Perth."
    data = ("\ufeff" + text).encode(codec) if codec == "utf-16-be" else text.encode(codec)
    _, ps = passages_of(name, data)
    assert [p.text for p in ps] == ["The Quokka Society was founded in 1999 in Perth."]


def test_utf16_without_its_mark_or_broken_is_refused_clearly():
    with pytest.raises(DocumentRejected, match="looks binary .*UTF-16 with a byte-order mark"):
        read("notes.txt", "The Quokka Society.".encode("utf-16-le"))
    with pytest.raises(DocumentRejected, match="UTF-16 byte-order mark but is not valid UTF-16"):
        read("notes.txt", b"\xff\xfe" + "The Quokka".encode("utf-16-le") + b"\x00\xdc")


def test_faq_headings_are_questions():
    text = "# FAQ\n\n## Is it really free?\n\nYes, for personal use.\n\n## Can I self-host it?\n\nYes, with Docker.\n"
    _, ps = passages_of("faq.md", text.encode())
    assert [(p.question, p.kind) for p in ps] == [("Is it really free?", "answer"), ("Can I self-host it?", "answer")]


def test_bracketed_last_paragraph_and_short_last_line_are_indexed():
    for text, tail in [("A long first paragraph about the museum and its many ship models.\n\n[1]", "[1]"),
                       ("The shop sells fresh bread every morning from seven.\n\nClosed on Sundays and on the 25th of December",
                        "Closed on Sundays and on the 25th of December")]:
        _, ps = passages_of("note.txt", text.encode())
        assert any(tail in p.text for p in ps) and all(p.sentences for p in ps)


def test_list_items_are_sentences_without_markers():
    text = "Bring the following:\n\n- a sleeping bag\n- a torch with spare batteries\n- two litres of water\n"
    _, ps = passages_of("list.md", text.encode())
    sentences = [p.text[s - p.start:e - p.start] for p in ps for s, e in p.sentences]
    assert "a torch with spare batteries" in sentences and not any(s.startswith("- ") for s in sentences)


@pytest.mark.parametrize("line,name", [
    ("The Chair (Hon. Anthony Rota (Nipissing—Timiskaming, Lib.)): I call the meeting to order.", "The Chair"),
    ("Mr. John Nater (Perth—Wellington, CPC): Thank you, Mr. Chair.", "Mr. John Nater"),
    ("The Hon. Bill Morneau: Yes.", "The Hon. Bill Morneau"),
])
def test_parliament_labels(line, name):
    # The riding or office in brackets is left out, so that "Mr. John Nater:" later is the same speaker.
    label = find_label(line)
    assert label is not None and label.name == name and label.role == "speaker"


@pytest.mark.parametrize("name,text,questions,speaker,kept", [
    ("show.txt",  # timestamps before the label, in brackets or not
     "[00:00:05] Host: Welcome back. What are you working on?\n\n[00:00:09] Dana Cho: A faster parser, mostly.\n\n"
     "00:01:10 Host: Why a parser?\n\n00:01:12 Dana Cho: Because the old one took a minute per file.\n",
     ["Welcome back. What are you working on?", "Why a parser?"], "Dana Cho", "a minute per file"),
    ("show.md",  # "Name (00:02):" then the speech on the next line, as transcription tools export
     "## Transcript\n\nLenny Rachitsky (00:02):\nWelcome to the show. What did you build first?\n\n"
     "Dylan Field (00:09):\nA tool for drawing in the browser, with a friend from college.\n\n"
     "(00:40):\nIt took us four years to ship it.\n\n"
     "Lenny Rachitsky (01:15):\nWhy did it take so long?\n\nDylan Field (01:20):\nThe browser could not draw fast enough then.\n",
     ["Welcome to the show. What did you build first?", "Why did it take so long?"], "Dylan Field", "four years"),
    ("talk.txt",  # "[Name] [MM:SS] text", one line per turn, no colon
     "[Bryan] [00:00] Welcome in. Why did you rewrite the firmware?\n"
     "[Speaker 3] [00:05] The old one could not be audited, and nobody trusted it.\n"
     "[Bryan] [00:40] How long did the rewrite take?\n[Speaker 3] [00:44] About two years, with four people.\n",
     ["Welcome in. Why did you rewrite the firmware?", "How long did the rewrite take?"], "Speaker 3", "four people"),
    ("briefing.md",  # official transcripts: a title's full stop in the name, and a bare "Q" with two (no-break) spaces
     "MS. PSAKI:  Good evening, everyone. The President signed fifteen executive actions today.\n\n"
     "Q\u00a0\u00a0 Thanks, Jen. Will the President travel this week?\n\n"
     "MS. PSAKI:  Not this week. He will stay in Washington to meet his cabinet.\n\n"
     "Q  And what about the relief bill?\n\nMS. PSAKI:  He will be quite involved in the talks.\n",
     ["Thanks, Jen. Will the President travel this week?", "And what about the relief bill?"], "MS. PSAKI",
     "fifteen executive actions"),
    ("podcast.txt",  # "0:00:13.8 **Name** text": a clock, then the name in bold, no colon
     "0:00:13.8 **Adam Harris** Welcome to the show. What is accessibility?\n\n"
     "0:00:21.9 **Jen Luker** It is a broad topic, and on the web it means anyone can use a page.\n\n"
     "0:01:05.2 **Adam Harris** Who does it help?\n\n"
     "0:01:09.7 **Jen Luker** Everyone, from screen reader users to people with a broken arm.\n",
     ["Welcome to the show. What is accessibility?", "Who does it help?"], "Jen Luker", "broken arm"),
    ("hansard.txt",  # a parliament's titles ("Right Hon.", "Rt. Hon.") and ridings or offices in brackets
     "Rt. Hon. Pierre Poilievre (Carleton, CPC): Mr. Speaker, when will the budget be balanced?\n\n"
     "Right Hon. Justin Trudeau (Prime Minister): Mr. Speaker, we are investing in families first.\n\n"
     "Rt. Hon. Pierre Poilievre: Why did the deficit triple?\n\n"
     "Right Hon. Justin Trudeau: The pandemic required support for workers and small firms.\n",
     ["Mr. Speaker, when will the budget be balanced?", "Why did the deficit triple?"], "Right Hon. Justin Trudeau",
     "small firms"),
])
def test_transcript_label_styles(name, text, questions, speaker, kept):
    doc, ps = passages_of(name, text.encode())
    assert doc.title in (None, "Transcript")  # never the first turn
    assert [p.question for p in ps if p.question] == questions
    assert [p.speaker for p in ps if p.question] == [speaker] * len(questions)
    assert any(kept in p.text for p in ps)


def test_a_sentence_set_as_a_heading_is_content():
    # Interview pages set an answer's pull quote in a heading style; it must be searchable text,
    # not the section of every later passage.
    quote = ("“Leadership is about enabling those below, above, and around you to be at their healthiest "
             "and most effective so that all of you can plan well.”")
    text = (f"# Spotlight\n\n## What does leadership mean to you?\n\n### {quote}\n\n"
            "I admire leaders who care for their reports as humans.\n\n## What is next?\n\nMore travel.\n")
    _, ps = passages_of("spotlight.md", text.encode())
    assert [p.question for p in ps] == ["What does leadership mean to you?", "What is next?"]
    assert quote in ps[0].text and all(p.section is None for p in ps)


def test_authored_markdown_lines_are_not_menus():
    # Minutes open with short headings and one-line items: the author's, not a site's menu.
    # A date is not a breadcrumb, and neither is a table row.
    text = ("# TSC Meeting 2024-07-24\n\nLast Updated: 2024/07/25\n\n## Agenda\n\n### Announcements\n\n"
            "* Marco, just released 20.16.0\n\n### Reminders\n\n* Nominate people for the spotlight\n\n"
            "## Notes\n\nThe committee discussed type stripping at length and agreed to keep the flag experimental.\n\n"
            "| Owner | Handle |\n|---|---|\n| Ann Lee | @ann |\n")
    doc, ps = passages_of("minutes.md", text.encode())
    assert [b for b in doc.blocks if b.kind == "chrome"] == []
    body = " ".join(p.text for p in ps)
    for kept in ("Last Updated: 2024/07/25", "just released 20.16.0", "Nominate people", "| Ann Lee | @ann |"):
        assert kept in body


def test_html_inline_marks_are_not_kept():
    page = ("<html><head><title>Pi news</title></head><body><article><h1>Pi news</h1>"
            "<p>The foundation grew quickly and has shipped over <strong>eight million</strong> units to date, "
            "far more than its founders ever <em>expected</em> when they started in a small office.</p>"
            "<p>Pipenv builds the dependency graph and writes a validated <code>Pipfile.lock</code> for the project, "
            "so that every install of the project resolves to exactly the same versions.</p></article></body></html>")
    doc, ps = passages_of("pi.html", page.encode())
    body = " ".join(p.text for p in ps)
    assert "shipped over eight million units" in body and "validated Pipfile.lock for" in body
    assert "*" not in doc.text and "`" not in doc.text


def test_html_keeps_code_in_figures_and_images_as_their_alt_text():
    """Jekyll's highlighter wraps every code block in a <figure>, which the extractor left out
    whole with images off: a blog post lost the error message it was about."""
    page = ("<html><head><title>Mempool notes</title></head><body><article><h1>Mempool notes</h1>"
            "<p>I tried rebroadcasting the raw transaction with sendrawtransaction, and the node refused it "
            "with an error that took me a whole evening to understand.</p>"
            '<figure class="highlight"><pre><code class="language-sh">$ bitcoin-cli sendrawtransaction &lt;rawtx&gt;\n'
            "error code: -25\nerror message:\nMissing inputs</code></pre></figure>"
            "<p>Looking at the missing input I noticed that it spends an unconfirmed change output of a "
            "parent transaction that paid an equally low fee.</p>"
            '<p><img src="/images/chained.png" alt="chained mempool transactions"></p>'
            '<p><img src="/images/graph.png" alt="[fee rate over time]"></p>'
            "<p>The parent had been dropped from my mempool, so the child could not be accepted either.</p>"
            '<p><img src="/images/spacer.png"></p></article></body></html>')
    doc, ps = passages_of("mempool.html", page.encode())
    body = " ".join(p.text for p in ps)
    assert "Missing inputs" in body and "error code: -25" in body
    assert "chained mempool transactions" in doc.text and "[fee rate over time]" in doc.text
    assert "![" not in doc.text and "/images/" not in doc.text and "\\[" not in doc.text


def test_a_timestamp_marker_turn_is_not_a_section():
    # Podcast transcripts mark ad breaks as "**Break:** \[24:27\]": a label with nothing said.
    text = ("**Host:** Welcome back. What are you working on?\n\n**Dana Cho:** A faster parser, mostly.\n\n"
            "**Break:** \\[24:27\\]\n\n**Host:** Why a parser?\n\n**Dana Cho:** The old one took a minute per file.\n")
    doc, ps = passages_of("show.md", text.encode())
    assert [(b.kind, b.rule) for b in doc.blocks if "Break" in doc.text[b.start:b.end]] == [("metadata", "timestamp")]
    assert [p.question for p in ps] == ["Welcome back. What are you working on?", "Why a parser?"]
    assert all(p.section is None and "Break" not in p.text for p in ps)


def test_a_short_labelled_line_in_markdown_stays_text():
    # Outside a dialogue "**Note:** ..." is not a speaker, and Markdown marks its headings:
    # read again by its shape, the short line must not become the section of what follows.
    text = ("# Guide\n\n## Setup\n\nInstall the tool with the package manager of your system.\n\n**Note:** see the FAQ below\n\n"
            "The service starts on port 8080 and writes its log to the data folder.\n")
    doc, ps = passages_of("setup.md", text.encode())
    assert {p.section for p in ps} == {"Setup"}
    assert any("**Note:** see the FAQ below" in p.text for p in ps)


def test_a_bold_question_line_is_a_faq_question():
    text = ("# Plugin FAQ\n\n**What is a volume plugin?**\n\nA plugin extends the volume interface to a storage system.\n\n"
            "**How do I write a driver?**\n\nFollow the developer guide, then test the driver on a cluster.\n\n"
            "Some **bold words?** in a sentence are not a question line.\n")
    _, ps = passages_of("faq.md", text.encode())
    assert [p.question for p in ps] == ["What is a volume plugin?", "How do I write a driver?"]
    assert "storage system" in ps[0].text and "bold words" in ps[1].text


def test_numbered_faq_questions_are_paired_with_their_answers():
    # A plain-text FAQ: "N. Question?" on its line, the answer indented below, with a command
    # and a URL set in from the answer (not headings: they would cut the answer from its question).
    text = ("                Frequently Asked Questions about zlib\n\n"
            "If your question is not there, please check the home page.\n"
            "The latest FAQ is at http://zlib.net/zlib_faq.html\n\n"
            " 1. Is zlib Y2K-compliant?\n\n    Yes. zlib doesn't handle dates.\n\n"
            " 2. Where can I get a Visual Basic interface to zlib?\n\n    See\n"
            "        * https://marknelson.us/posts/1997/01/01/zlib-engine.html\n\n"
            " 3. How do I install a shared zlib library on Unix?\n\n    After the above, then:\n\n"
            "        make install\n\n    However, many flavors of Unix come with a shared zlib already installed.\n\n"
            " 4. compress() returns Z_BUF_ERROR.\n\n    Make sure that the length of the buffer is not zero.\n")
    doc, ps = passages_of("zlib_faq.txt", text.encode())
    assert doc.title == "Frequently Asked Questions about zlib"
    asked = [p for p in ps if p.question]
    assert [p.question for p in asked] == ["Is zlib Y2K-compliant?", "Where can I get a Visual Basic interface to zlib?",
                                           "How do I install a shared zlib library on Unix?",
                                           "compress() returns Z_BUF_ERROR."]
    assert "handle dates" in asked[0].text and "marknelson.us" in asked[1].text
    assert "make install" in asked[2].text and "already installed" in asked[2].text
    assert all(p.section is None for p in ps)  # neither "See", "make install" nor the URL line heads anything
    # In a FAQ, a numbered entry that does not ask is a question all the same.
    assert "buffer is not zero" in asked[3].text and "already installed" not in asked[3].text


def test_a_line_that_goes_on_below_it_is_not_a_heading():
    text = ("Setup notes\n\nThings to watch out for\n\nThe disk fills up quickly when every log is kept.\n\n"
            "To list the logs with their sizes, type this into\n\n    ls -la /var/log\n\n"
            "That shows every log, the largest first if you add -S.\n")
    _, ps = passages_of("notes.txt", text.encode())
    assert {p.section for p in ps} == {"Things to watch out for"}  # neither the lead-in nor the command heads anything
    assert any("type this into" in p.text and "ls -la" in p.text and "largest first" in p.text for p in ps)


def test_a_list_of_questions_with_nothing_between_them_stays_a_list():
    text = ("We asked three things:\n\n1. Is it fast?\n2. Is it safe?\n3. Is it cheap?\n\n"
            "The answers were yes, mostly, and no, in that order.\n")
    _, ps = passages_of("notes.txt", text.encode())
    assert all(p.question is None for p in ps) and any("Is it cheap?" in p.text for p in ps)


def test_bold_leads_of_list_items_are_questions():
    # A Markdown interview whose questions are bold numbered items, each answer indented inside the item;
    # its prompt that does not ask ("Tell us about yourself.") is one of its questions too.
    text = ("# Interview\n\n1. __Tell us about yourself.__\n\n    I live in New York and study causal inference.\n\n"
            "1. __How did you first get involved in open source?__\n\n    As a user, while switching from Matlab.\n\n"
            "1. __What do you find alluring about it?__\n\n    Working in the open with people everywhere.\n")
    _, ps = passages_of("interview.md", text.encode())
    by_question = {p.question: p for p in ps if p.question}
    assert set(by_question) == {"Tell us about yourself.", "How did you first get involved in open source?",
                                "What do you find alluring about it?"}
    assert "switching from Matlab" in by_question["How did you first get involved in open source?"].text
    assert "New York" in by_question["Tell us about yourself."].text
    # The same with Windows line endings.
    _, ps = passages_of("interview.md", text.replace("\n", "\r\n").encode())
    assert {p.question for p in ps if p.question} == set(by_question)
    # Outside a FAQ, a bold lead that does not ask stays a list item: no question, no section, not the title.
    doc, ps = passages_of("note.md", b"- **Note**\n\n  Careful here.\n")
    assert doc.title is None and [(p.section, p.question) for p in ps] == [(None, None)] and "**Note**" in ps[0].text
    # A tight sub-list ends the question: its items are the answer.
    _, ps = passages_of("faq.md", b"1. **How do I install it?**\n   - step a\n   - step b\n\n"
                                  b"2. **How do I remove it?**\n\n   Delete the folder.\n")
    assert [p.question for p in ps] == ["How do I install it?", "How do I remove it?"] and "step b" in ps[0].text


def test_numbered_steps_outside_the_faq_section_stay_steps():
    text = ("## Installation\n\n1. Download the archive.\n\n   It is about 20 MB.\n\n2. Unpack it.\n\n"
            "   Any folder will do.\n\n## Troubleshooting\n\n1. Why does it not start?\n\n   Check the log.\n\n"
            "2. Where is the log?\n\n   In the data folder.\n")
    for name in ("steps.md", "steps.txt"):
        _, ps = passages_of(name, text.encode())
        assert {p.question for p in ps} - {None} == {"Why does it not start?", "Where is the log?"}, name


def test_centred_capitals_numbered_sections_and_cr_only_text_keep_their_headings():
    prose = "The coach rolled on through the night, and nobody inside it said a word to anyone else."
    text = (f"A TALE OF TWO CITIES\n\n{prose}\n\n{' ' * 39}CHAPTER II\n\n{' ' * 40}The Mail\n\n{prose}\n\n"
            f"1. Scope\n\n  1.1 Purpose of this memo\n\n{prose}\n")
    _, ps = passages_of("book.txt", text.encode())  # centred in the text's 88 columns, as before this rule
    assert {"The Mail", "1.1 Purpose of this memo"} <= {p.section for p in ps}
    assert any(p.text.startswith("CHAPTER II") for p in ps)
    cr = "Intro\r\rThe body of the intro runs on for a while.\r\rInstallation\r\rRun the installer and wait.\r\r" \
         "Who we are\r\rA small team of volunteers.\r"
    _, ps = passages_of("cr.txt", cr.encode())
    assert {"Installation", "Who we are"} <= {p.section for p in ps}


def test_a_chat_log_reads_as_turns():
    # IRC-style "[time] <nick> message" lines: turns of their speakers, short ones too; join lines are not headings.
    text = ("[2018-03-26 10:58:00] <suraeNoether> good morning everyone. meeting in a few minutes.\n"
            "[2018-03-26 11:00:09] <hyc> morning\n"
            "[2018-03-26 11:00:47] → rex4539 joined (~textual@ppp-2-87-183-80.home.otenet.gr\n"
            "[2018-03-26 11:01:02] <ArticMine> hi\n"
            "[2018-03-26 11:02:58] <suraeNoether> Sarang is en route from an airport and will miss the meeting.\n"
            "[2018-03-26 11:03:30] <rehrar> was he presenting at that conference?\n"
            "[2018-03-26 11:03:38] <suraeNoether> yes, that's why he's en route\n")
    _, ps = passages_of("meeting.log.txt", text.encode())
    assert all(p.section is None for p in ps) and {p.kind for p in ps} <= {"turn", "answer"}
    assert ps[0].speaker == "suraeNoether" and any("<hyc> morning" in p.text for p in ps)
    assert find_label("<div> some markup") is None  # markup in a text file is not a nick
    assert find_label("<https://ietf.org/x> has the archive") is None and find_label("<ann@example.org> wrote:") is None


def test_underlined_headings_directives_and_mail_headers_in_plain_text():
    text = ("====\nFAQs\n====\n\n.. contents:: Table of Contents\n\nInstalling\n==========\n\n"
            "How do I install pyftpdlib?\n---------------------------\n\n.. code-block:: sh\n\n"
            "    $ python3 -m pip install pyftpdlib\n    # the wheel is pure Python\n\n"
            "Which Python versions are compatible?\n-------------------------------------\n\n"
            "Anything above 3.8 should be good to go.\n\n.. _`install instructions`: install.html\n"
            ".. _Python: https://www.python.org/\n")
    doc, ps = passages_of("faqs.txt", text.encode())
    assert doc.title == "FAQs"
    assert [(p.section, p.question) for p in ps] == [("Installing", "How do I install pyftpdlib?"),
                                                    ("Installing", "Which Python versions are compatible?")]
    assert "pip install" in ps[0].text and "code-block" not in " ".join(p.text for p in ps)
    assert "install.html" not in " ".join(p.text for p in ps)  # link targets are markup
    mail = ("From:\tJunio C Hamano <gitster@pobox.com>\nTo:\tgit@vger.kernel.org\n"
            "Subject: Re: sending changesets from the middle of a git tree\nDate:\tSun, 14 Aug 2005 18:37:39 -0700\n"
            "Abstract: In this article, JC talks about how he rebases\n the public branch.\n\n"
            "Exactly my feeling.  I was sort of waiting for Catalin to speak up about it.\n")
    doc, ps = passages_of("mail.txt", mail.encode())
    assert doc.title == "Re: sending changesets from the middle of a git tree"
    # The headers are a small passage of their own, as a byline is: they say who wrote it, and when.
    # "Abstract:" is not a header field: it and what follows are text.
    assert "Sun, 14 Aug 2005" in ps[0].text and "Abstract" not in ps[0].text and ps[0].section is None
    assert "Abstract: In this article" in ps[1].text and "Exactly my feeling." in ps[-1].text
    # Without a From or a Subject, "Date:" and "To:" lines over a dialogue are not mail headers.
    dialogue = "Date: 12 March 2024\nTo: Project team\n" + "Alice: We should ship this week.\nBob: The tests fail.\n" * 2
    doc, _ = passages_of("minutes.txt", dialogue.encode())
    assert not [b for b in doc.blocks if b.kind == "metadata"] and sum(b.kind == "turn" for b in doc.blocks) == 4
    # A directive's own text is content; only its marker (and a markup directive's line) is set aside.
    doc, ps = passages_of("notes.txt", b".. warning:: Do not run the installer as root.\n\n.. toctree::\n   :maxdepth: 2\n\nDone.\n")
    assert "Do not run the installer as root." in " ".join(p.text for p in ps)
    assert [b.rule for b in doc.blocks if b.kind == "metadata"] == ["directive", "directive"]
    # A sentence over a rule is not a heading; a heading over one is, with CR-only line ends too.
    doc, ps = passages_of("report.txt", ("Intro line.\n\nThe meeting went well and everybody agreed on the plan.\n"
                                         + "=" * 55 + "\n\nNext steps follow.\n").encode())
    assert doc.title is None and any("everybody agreed" in p.text for p in ps)
    doc, _ = passages_of("cr.txt", b"Intro\r\rSome text that runs on here.\r\rUsage\r=====\r\rRun it.\r")
    assert [(b.kind, b.level) for b in doc.blocks if b.kind == "heading"][-1] == ("heading", 1)
    doc, _ = passages_of("cr.md", b"Install\r=======\r\rRun make install.\r")
    assert doc.title == "Install"
    # "Q:" and "A:" lines at the top are a dialogue, not headers.
    _, ps = passages_of("qa.txt", b"Q: Is it free?\nA: Yes, for everyone who asks.\n")
    assert ps and ps[0].question == "Is it free?"


def test_release_notes_versions_are_not_a_list_of_headlines_and_times():
    # At the end of a page, "headline, time" pairs are a news list (chrome); "change, version" pairs are
    # release notes (an HTML page's, as its extractor writes them), and they are content.
    text = ("# Release notes\n\nAll the history of the plugin can be found here, newest first, with every change listed.\n\n"
            + "\n\n".join(f"- Fix Fixed bug number {i} in the overlay.\n\n1.0.{i - 1}" for i in range(5, 0, -1))
            + "\n\n- New First release.\n")
    doc, ps = passages_of("notes.md", text.encode())
    assert not [b for b in doc.blocks if b.kind == "chrome"]
    assert all(f"bug number {i} " in " ".join(p.text for p in ps) for i in range(1, 6))


def test_a_paragraph_over_a_rule_in_markdown_is_text():
    # CommonMark reads a paragraph followed by "---" as one setext heading; its lines are content.
    speech = "\n".join(f"Line {i} of the speech, which goes on for a while about the space programme." for i in range(8))
    doc, ps = passages_of("speech.md", f"# The dedication speech\n\n{speech}\n---\n\nA note after the rule.\n".encode())
    assert doc.title == "The dedication speech" and all(f"Line {i} of" in " ".join(p.text for p in ps) for i in range(8))
    doc, ps = passages_of("doc.md", b"Usage\n-----\n\nRun it with no arguments to see the help text.\n")
    assert doc.title == "Usage" and ps[0].section is None and ps[0].text.startswith("Run it")


def test_markdown_quotes_are_kept_and_admonition_fences_set_aside():
    text = ("# Release notes\n\nThe new version ships today with a faster parser.\n\n"
            "> The alias will be removed in a future major version.\n> Plan the move now.\n\n"
            ":::tip Upgrading\nRemove your old rules first, then add the new presets.\n:::\n\n"
            ":::note\n\nOnly API consumers are affected.\n\n:::\n\nThanks to every contributor.\n")
    doc, ps = passages_of("notes.md", text.encode())
    body = " ".join(p.text for p in ps)
    for kept in ("The alias will be removed", "Plan the move now.", "Remove your old rules first",
                 "Only API consumers are affected.", "Thanks to every contributor."):
        assert kept in body
    # A passage is one span of the source, fences and all; what is embedded and indexed is its sentences.
    assert not any(":::" in p.text[a - p.start:z - p.start] for p in ps for a, z in p.sentences)
    assert sorted(doc.text[b.start:b.end] for b in doc.blocks if b.rule == "admonition fence") == [
        ":::", ":::", ":::note", ":::tip Upgrading"]


def test_pdf_pages_and_docx_headings():
    _, ps = passages_of("m.pdf", (FIXTURES / "wikipedia_mozilla_2015.pdf").read_bytes())
    assert {p.page for p in ps} == {1, 2, 3, 4, 5}
    doc, ps = passages_of("d.docx", (FIXTURES / "docusaurus_2021_recap.docx").read_bytes())
    assert doc.title == "Docusaurus 2021 Recap" and "Highlights" in {p.section for p in ps}
    assert any(p.kind == "table" for p in ps)


def test_pdf_sentence_over_a_page_turn_stays_whole_without_the_footer():
    # Page 1 of the fixture ends mid-sentence ("... in support of"), then its running footer;
    # page 2 goes on ("California's Proposition 8, ..."). The footer is set aside, not cut in.
    doc, ps = passages_of("m.pdf", (FIXTURES / "wikipedia_mozilla_2015.pdf").read_bytes())
    footers = [doc.text[b.start:b.end] for b in doc.blocks if b.kind == "chrome"]
    assert footers == [f"Mozilla - Wikipedia - page {n}" for n in range(1, 6)]
    assert not any("Wikipedia - page" in p.text for p in ps)
    whole = [p for p in ps if "in support of\nCalifornia's Proposition 8" in p.text]
    assert len(whole) == 1 and whole[0].page == 1
    # Every page keeps its own span, and a passage's page is the one it starts on.
    assert [n for _, _, n in doc.pages] == [1, 2, 3, 4, 5]
    assert all(doc.page_at(p.start) == p.page for p in ps)


def test_pdf_rejoins_words_hyphenated_over_a_line_or_a_page_turn():
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for page in (["Annual report - page 1",
                  "Our committee met four times this year and it reviewed the infor-",
                  "mation that the members sent in before the vote, and then it",
                  "agreed to publish a well-known summary of the final deci-"],
                 ["Annual report - page 2", "sion in the spring. Membership rose by 12 percent over the year,",
                  "and a mixed-mode meeting format was tried for the first time. The mixed-",
                  "mode meetings drew more members than the ones that were held in person."],
                 ["Annual report - page 3", "The budget for next year is 40,000 euros, set by the treasurer."]):
        pdf.add_page()
        for line in page:
            pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    doc, ps = passages_of("r.pdf", bytes(pdf.output()))
    body = " ".join(p.text for p in ps)
    # The typesetter's hyphens go (between lowercase letters, at a break); the author's stay.
    assert "reviewed the information\nthat" in body and "summary of the final decision\nin the spring" in body
    # Written with its hyphen elsewhere in the document, a word keeps it where it breaks.
    assert "well-known" in body and "The mixed-mode\nmeetings" in body and "-\n" not in body
    assert doc.title is None and len(ps) == 1 and ps[0].kind == "text"  # one paragraph, no line read as a heading
    from qa.readers.pdf import _LIGATURES

    assert "Deﬁnition of the ﬂow, oﬀset".translate(_LIGATURES) == "Definition of the flow, offset"
    assert not any("Annual report" in p.text for p in ps)
    assert [n for _, _, n in doc.pages] == [1, 2, 3] and doc.page_at(doc.text.index("decision")) == 1


def test_docx_keeps_equal_cells_tracked_insertions_and_content_controls_and_infers_no_headings():
    import io

    import docx
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    d = docx.Document()
    d.add_heading("Site visit report", 1)
    d.add_paragraph("Location: Building 4, Room 210")
    d.add_paragraph("The inspection covered the ventilation and the fire doors on every floor, and found two faults.")
    para = d.add_paragraph("This is a text with ")
    ins = OxmlElement("w:ins")
    for key, value in (("w:id", "1"), ("w:author", "A"), ("w:date", "2024-01-01T00:00:00Z")):
        ins.set(qn(key), value)
    run, t = OxmlElement("w:r"), OxmlElement("w:t")
    t.text = "two tracked "
    t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    run.append(t)
    ins.append(run)
    para._p.append(ins)
    para.add_run("insertions.")
    sdt, content = OxmlElement("w:sdt"), OxmlElement("w:sdtContent")
    boxed = d.add_paragraph("Text inside a content control is body copy too.")
    boxed._p.addprevious(sdt)
    content.append(boxed._p)
    sdt.append(content)
    table = d.add_table(rows=2, cols=3)
    for r, row in enumerate([("Check", "2023", "2024"), ("Fire doors", "Pass", "Pass")]):
        for c, v in enumerate(row):
            table.cell(r, c).text = v
    out = io.BytesIO()
    d.save(out)
    doc, ps = passages_of("visit.docx", out.getvalue())
    body = "\n".join(p.text for p in ps)
    assert "Fire doors | Pass | Pass" in body
    assert "This is a text with two tracked insertions." in body
    assert "Text inside a content control is body copy too." in body
    # "Location: ..." is no speaker (one label once), and in a DOCX the styles say what a heading is.
    assert "Location: Building 4, Room 210" in body and {p.section for p in ps} <= {None, "Site visit report"}


def test_the_colon_of_a_web_address_is_no_speaker_label():
    text = ("Release notes\n\nHost: the server that keeps the files for the whole team and its backups.\n\n"
            "Host: a second server, used only when the first one is down for maintenance.\n\n"
            "Downloads are at https://example.org/get/ for every platform we support today.\n")
    doc, ps = passages_of("notes.txt", text.encode())
    assert {b.label for b in doc.blocks if b.label} == {"Host"}
    assert not any(p.speaker and "http" in p.speaker for p in ps)


def test_a_faq_question_heading_ends_the_section_of_its_level():
    text = ("# FAQ\n\n## How can I convert a whole directory of files?\n\nUse a shell loop over the files.\n\n"
            "## I get a blank document when I convert Chinese text to PDF.\n\nThe default engine has no Chinese "
            "glyphs; use xelatex and a font that has them.\n\n## How do I change the margins?\n\n"
            "Set the geometry variable, for example to one inch on each side.\n\n## Setup\n\n"
            "### Which version do I need?\n\nAny release since 2.0 reads these files.\n")
    _, ps = passages_of("faq.md", text.encode())
    by_q = {p.question: p.section for p in ps}
    assert by_q["How can I convert a whole directory of files?"] is None
    assert by_q[None] == "I get a blank document when I convert Chinese text to PDF."
    assert by_q["How do I change the margins?"] is None
    assert by_q["Which version do I need?"] == "Setup"  # a deeper question stays in its section


def test_pdf_key_and_value_lines_at_its_end_are_content_not_a_menu():
    from qa.chunking import pack
    from qa.readers.text import read_text

    # What the PDF reader hands on for a page that ends with an infobox (pdf.js's own Wikipedia page).
    text = ("PDF.js is a JavaScript library that renders Portable Document Format (PDF) files using the web "
            "standards-compliant HTML5 Canvas. The project is led by the Mozilla Corporation.\n\n"
            "Original author(s) Andreas Gal\nDeveloper(s) Mozilla\nInitial release 2 July 2011\n"
            "Written in JavaScript, CSS, HTML\nLicense Apache License 2.0\n")
    doc = read_text(text, fmt="pdf", pages=((0, len(text), 1),))
    assert not [b for b in doc.blocks if b.kind == "chrome"]
    assert any("Initial release 2 July 2011" in p.text for p in pack(doc))
    # Below a page copied as text, the same run of short lines has a site menu's shape.
    assert any(b.rule == "menu or link list" for b in read_text(text).blocks)


def test_docx_footnotes_are_read_after_the_body():
    import io
    import zipfile

    import docx

    d = docx.Document()
    d.add_paragraph("The survey covered twelve villages in the valley.")
    out = io.BytesIO()
    d.save(out)
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    notes = (f'<w:footnotes xmlns:w="{w}"><w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/>'
             '</w:r></w:p></w:footnote><w:footnote w:id="1"><w:p><w:r><w:t>Two villages were reached only '
             'by boat.</w:t></w:r></w:p></w:footnote></w:footnotes>')
    src, dst = zipfile.ZipFile(io.BytesIO(out.getvalue())), io.BytesIO()
    with zipfile.ZipFile(dst, "w") as z:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/_rels/document.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdNotes" Type="http://schemas.'
                                    b'openxmlformats.org/officeDocument/2006/relationships/footnotes" '
                                    b'Target="footnotes.xml"/></Relationships>')
            elif item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/word/footnotes.xml" ContentType="'
                                    b'application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"/>'
                                    b"</Types>")
            z.writestr(item, data)
        z.writestr("word/footnotes.xml", notes)
    doc, ps = passages_of("survey.docx", dst.getvalue())
    assert doc.text.index("Two villages were reached only by boat.") > doc.text.index("twelve villages")


@pytest.mark.parametrize("name,data,message", [
    ("x.pdf", b"%PDF-1.4 not really", "not a readable PDF"),
    ("x.docx", b"PK\x03\x04 broken zip", "not a readable DOCX"),
    ("x.html", b"<html><head><script>var a = 1;</script></head><body></body></html>", "no readable text"),
    ("x.txt", b"\x7fELF\x02\x01\x00bad", "binary"),
    # After a UTF-16 mark, random bytes soon hold a lone surrogate: not UTF-16 text.
    ("x.txt", b"\xff\xfe" + bytes(range(256)) * 8, "not valid UTF-16"),
    ("x.exe", b"MZ", "not accepted"),
])
def test_unreadable_files_get_one_clear_error(name, data, message):
    with pytest.raises(DocumentRejected, match=message):
        read(name, data)


def test_html_keeps_title_and_drops_navigation():
    doc, ps = passages_of("v8.html", (FIXTURES / "v8_blog_standalone_wasm.html").read_bytes())
    assert doc.title.startswith("Outside the web")
    assert not any(p.text.strip() in ("Home", "Blog", "Docs") for p in ps)
    assert any("Emscripten" in p.text for p in ps)


def test_lines_read_as_headings_stay_searchable_text():
    # A copied page's short content lines look like headings; they head the text below AND are its first line.
    text = ("Weekly notes\n\nThis week the browser team shipped several changes, and here is what they are and who "
            "made them.\n\nAnna Berg\n\nMarch 3, 2024\n\n"
            "Thanks to Ole, users can now import logins from KeePass into the browser\n\n"
            "The update also brings a faster start-up on older laptops, which many readers asked for.\n\n"
            "SeaMonkey\n\nSeaMonkey logo\n\n"
            "SeaMonkey (formerly the Mozilla Application Suite) is a suite of internet programs that is still updated.\n")
    _, ps = passages_of("notes.txt", text.encode())
    logins = next(p for p in ps if "import logins from KeePass" in p.text)
    assert "faster start-up" in logins.text and logins.section.startswith("Thanks to Ole")
    assert any("Anna Berg" in p.text for p in ps)
    # Several such lines in a row head one passage together: no passage is a lone "SeaMonkey".
    suite = next(p for p in ps if "formerly the Mozilla" in p.text)
    assert suite.text.startswith("SeaMonkey\n\nSeaMonkey logo") and all(p.text != "SeaMonkey" for p in ps)


def test_sentence_with_long_links_is_prose_and_link_lines_are_not():
    text = ("Today, we officially release **[Docs i18n](https://example.org/docs/i18n/introduction/long/path)** "
            "as part of [2.0.0-alpha.71](https://github.com/example/project/releases/tag/v2.0.0-alpha.71).\n\n"
            "The new release translates every page of a site, and it keeps one folder per language for the files.\n\n"
            "[Home](https://example.org/) [Blog](https://example.org/blog) [Docs](https://example.org/docs)\n")
    doc, ps = passages_of("release.md", text.encode())
    assert any("2.0.0-alpha.71" in p.text for p in ps)
    assert not any("[Blog]" in p.text for p in ps)
    assert "link line" in {b.rule for b in doc.blocks if b.kind == "chrome"}


def test_byline_is_its_own_passage_and_credit_lines_are_not_indexed():
    text = ("Posted by Maria Lopez on March 3, 2024\n\n"
            "The library opens at nine every weekday and closes at six, except on public holidays when it stays shut.\n\n"
            "Members can borrow up to twelve books at a time, and renew them twice online or at the desk.\n\n"
            "Editor in charge: Robot 42\n")
    _, ps = passages_of("page.txt", text.encode())
    assert [p.text for p in ps if "Maria Lopez" in p.text] == ["Posted by Maria Lopez on March 3, 2024"]
    assert not any("Editor in charge" in p.text for p in ps)


def test_html_keeps_byline_and_date_lines_and_unescaped_identifiers():
    doc, ps = passages_of("v8_blog_standalone_wasm.html", (FIXTURES / "v8_blog_standalone_wasm.html").read_bytes())
    assert any("Published 21 November 2019" in p.text for p in ps)
    assert any(p.text == "Posted by Alon Zakai." for p in ps)
    assert any("SIDE_MODULE option" in p.text for p in ps) and "\\_" not in doc.text


def test_an_xhtml_page_keeps_its_byline():
    # A page that declares its encoding in an XML declaration (XHTML): the byline is still read.
    raw = (FIXTURES / "v8_blog_standalone_wasm.html").read_text(encoding="utf-8")
    xhtml = '<?xml version="1.0" encoding="UTF-8"?>\n' + raw
    _, ps = passages_of("page.html", xhtml.encode())
    assert any("Published 21 November 2019" in p.text for p in ps)


def test_later_part_of_a_long_answer_names_who_is_talking():
    long_a = " ".join(f"Rob thinks point {i} matters a great deal for the design of the language." for i in range(14))
    long_b = " ".join(f"Robert recalls detail {i} about the early compiler work at the time." for i in range(14))
    text = (f"**Host:** How did it start?\n\n**Rob Pike:** {long_a}\n\n**Robert Griesemer:** {long_b}\n\n"
            "**Host:** And then what happened?\n\n**Rob Pike:** We wrote a spec.\n")
    _, ps = passages_of("talk.md", text.encode())
    later = next(p for p in ps if p.text.startswith("**Robert Griesemer:**"))
    assert later.question == "How did it start?" and later.speaker == "Robert Griesemer"


SRT = ("1\n00:00:01,000 --> 00:00:04,200\nHello everyone, and thanks for coming\nto this talk about memory allocators.\n\n"
       "2\n00:00:04,200 --> 00:00:08,900\n<i>Today</i> I want to explain why the default\nallocator is slow for small objects.\n\n"
       "3\n00:00:09,000 --> 00:00:10,500\n[Music]\n\n"
       "4\n00:00:14,000 --> 00:00:17,500\nWe measured a forty percent speedup\nwhen we switched to a slab allocator.\n")


@pytest.mark.parametrize("name", ["talk.srt", "talk.txt"])
def test_subtitles_read_as_timed_paragraphs_with_nothing_lost(name):
    # As plain text, the cues read as a list of "headline, time" lines and were set aside: all but one lost.
    doc, ps = passages_of(name, SRT.encode())
    assert doc.format == "subtitles" and not any(b.kind in ("chrome", "metadata") for b in doc.blocks)
    joined = " ".join(doc.text[s:e] for p in ps for s, e in p.sentences)
    for said in ("Hello everyone, and thanks for coming to this talk about memory allocators.",
                 "Today I want to explain why the default allocator is slow for small objects.",
                 "We measured a forty percent speedup when we switched to a slab allocator."):
        assert said in joined  # cue lines joined back into sentences, without the <i> tags
    assert "-->" not in doc.text and "[Music]" not in doc.text and "[00:" not in joined
    # A pause of over three seconds after a sentence opens a new paragraph, which gives its time.
    assert doc.text.startswith("[00:00:01] Hello") and "\n\n[00:00:14] We measured" in doc.text
    assert all(doc.text[p.start:p.end] == p.text for p in ps)


def test_webvtt_voices_rolling_captions_and_entities():
    vtt = ("WEBVTT - Allocator talk\nKind: captions\n\nNOTE written by hand\n\n"
           "00:00.000 --> 00:02.300 align:start position:0%\n \nso<00:00.400><c> today</c><00:00.800><c> we talk</c>\n\n"
           "00:02.300 --> 00:05.000 align:start position:0%\nso today we talk\nabout<00:02.800><c> allocators</c>\n\n"
           "00:05.000 --> 00:05.010\nabout allocators\n \n\n"
           "00:09.000 --> 00:12.000\n<v Jane Smith>The slab allocator is forty percent faster.</v>\n\n"
           "00:12.000 --> 00:14.000\n<v Tom>How did you measure it?\n\n"
           "00:14.500 --> 00:18.000\n<v Jane Smith>With a benchmark of small objects &amp; a warm cache.\n")
    doc, ps = passages_of("talk.vtt", vtt.encode())
    assert doc.title == "Allocator talk" and "written by hand" not in doc.text
    assert doc.text.count("so today we talk") == 1 and doc.text.count("about allocators") == 1  # rolling captions
    assert "[00:00:00] so today we talk about allocators" in doc.text  # a line of one space does not end a cue
    assert "small objects & a warm cache." in doc.text
    answer = next(p for p in ps if p.question)
    assert answer.question == "How did you measure it?" and answer.speaker == "Jane Smith"
    assert any(p.speaker == "Jane Smith" and "forty percent faster" in p.text for p in ps)


def test_a_text_that_quotes_one_cue_is_not_subtitles():
    text = ("Subtitle timing\n\nAn SRT cue has a number, a timing line and its text, for example:\n\n"
            "1\n00:00:01,000 --> 00:00:04,200\nHello.\n\nThe timing uses a comma before the milliseconds.\n")
    doc, _ = passages_of("howto.txt", text.encode())
    assert doc.format == "text" and "-->" in doc.text


def test_names_on_their_own_lines_are_speakers():
    text = ("The Allocator Podcast, episode 12\n\n"
            "JANE SMITH\nWelcome back to the show. Today my guest is Tom Lee, who wrote our slab allocator.\n\n"
            "TOM LEE\nThanks for having me. I started on it in 2019 because the old allocator fragmented.\n\n"
            "It got worse under load, every single week.\n\n"
            "JANE SMITH  0:42\nHow much faster is it, and did memory use change at all?\n\n"
            "TOM LEE  0:48\nAbout forty percent on small objects, and memory use fell by a third.\n\n"
            "JANE SMITH\nAnd is it in the next release?\n\nTOM LEE\nYeah\n\n"
            "CALLER\nWill it help on small phones with little memory?\n\n"
            "TOM LEE\nIt will, since small objects are most of what phones allocate.\n\n"
            "JANE SMITH\nThank you both for joining us tonight.\n\n"
            "© 2024 Example Radio. All rights reserved.\n")
    doc, ps = passages_of("podcast.txt", text.encode())
    turns = [b for b in doc.blocks if b.kind == "turn"]
    assert [b.label for b in turns] == ["JANE SMITH", "TOM LEE"] * 3 + ["CALLER", "TOM LEE", "JANE SMITH"]
    assert doc.text[turns[1].body:turns[1].end].endswith("every single week.")  # the turn's second paragraph
    assert doc.text[turns[5].body:turns[5].end] == "Yeah"  # a short reply is the turn's words, not a heading
    # The footer is not part of the last turn: it alone is chrome, and the turn is kept.
    assert [doc.text[b.start:b.end] for b in doc.blocks if b.kind == "chrome"] == [
        "© 2024 Example Radio. All rights reserved."]
    assert any("Thank you both" in p.text for p in ps)
    assert all(p.section is None for p in ps)  # before, every turn was a section named after its speaker
    assert all(p.sentences for p in ps) and ps[0].speaker == "JANE SMITH"


@pytest.mark.parametrize("text", [
    # A diary's days and a list of verses come back too, but not three times for each name.
    "Week 1\n\n" + "\n\n".join(f"{d}\n\nWe walked along the river to the old mill on {d}." for d in
                                 ("Monday", "Tuesday", "Wednesday", "Monday", "Tuesday", "Wednesday")),
    "Verses\n\nJohn 3:16\n\nFor God so loved the world.\n\nPsalm 46:10\n\nBe still, and know.\n\n"
    "John 14:16\n\nAnd I will pray the Father.\n\nPsalm 18:30\n\nAs for God, his way is perfect.\n",
])
def test_repeated_short_lines_that_are_not_speakers_stay_headings(text):
    doc, _ = passages_of("notes.txt", text.encode())
    assert not any(b.kind == "turn" for b in doc.blocks)


def test_repeated_headings_of_reference_docs_stay_headings():
    # "Parameters" and "Returns" repeat as often as speakers' names, but between headings that do not.
    parts = ["Allocator API"]
    for fn in ("alloc_small", "alloc_large", "free_block"):
        parts += [fn, f"Reserve or release memory with {fn}, from the slab of its size class.",
                  "Parameters", "The size in bytes, and the flags that pick the slab.",
                  "Returns", "A pointer to the block, or a null pointer when memory runs out."]
    doc, ps = passages_of("api.txt", "\n\n".join(parts).encode())
    assert not any(b.kind == "turn" for b in doc.blocks)
    assert any(p.section and "Parameters" in p.section for p in ps)


def test_a_quoted_mail_signature_is_not_a_section():
    text = ("On Tue, Mar 3, 2020 at 10:12 AM Alice Jones <alice@example.org> wrote:\n"
            "> Has anyone tried the new build cache on Windows? It keeps\n> rebuilding everything for me.\n>\n"
            "> Alice\n\nYes, the cache key includes the absolute path, which differs between\n"
            "checkouts on Windows. Set BUILD_CACHE_RELATIVE=1 and it should work.\n")
    _, ps = passages_of("reply.txt", text.encode())
    assert all(p.section is None for p in ps) and any("BUILD_CACHE_RELATIVE=1" in p.text for p in ps)


def test_mediawiki_markup_in_a_text_file():
    # Before: "# '''timeout''' should be ..." (a numbered list item) was a Markdown heading, so its
    # text was in no passage; "==Abstract==" sections kept their marks; a wrapped line was a heading.
    text = ("<pre>\n  BIP: 9\n  Title: Version bits\n</pre>\n\n==Abstract==\n\nThis document specifies a change "
            "to the semantics of the version field in blocks.\n\n==Specification==\n\n===Selection guidelines===\n\n"
            "The following guidelines are suggested for selecting these parameters for a soft fork:\n"
            "# '''name''' should be selected such that no two softforks ever use the same name.\n"
            "# '''timeout''' should be 1 year (31536000 seconds) after starttime.\n\n"
            "A later deployment using the same bit is possible as long as the starttime is after the previous one's\n"
            "timeout or activation, but it is discouraged until necessary.\n\n"
            "{| class=\"wikitable\"\n! Key !! Required !! Type\n|-\n| rules || No || Array of Strings\n|}\n")
    doc, ps = passages_of("bip.txt", text.encode())
    assert [p.section for p in ps if "31536000 seconds" in p.text] == ["Specification › Selection guidelines"]
    timeout = next(b for b in doc.blocks if "31536000" in doc.text[b.start:b.end])
    assert timeout.kind == "list_item" and doc.text[timeout.body:timeout.end].startswith("'''timeout'''")
    assert any(p.section == "Abstract" for p in ps) and not any("==" in (p.section or "") for p in ps)
    assert any("previous one's timeout or activation" in " ".join(p.text.split()) for p in ps)
    rules = {doc.text[b.start:b.end]: b.kind for b in doc.blocks if b.kind in ("metadata", "table_row")}
    assert rules['{| class="wikitable"'] == rules["|-"] == rules["|}"] == rules["<pre>"] == "metadata"
    assert rules["| rules || No || Array of Strings"] == "table_row"


def test_a_digests_messages_keep_their_headers_apart_and_greetings_are_not_sections():
    text = ("Today's Topics:\n\n   1. Expiring outputs (Antoine Riard)\n\n------------------------------\n\n"
            "Message: 1\nDate: Thu, 2 Nov 2023 05:24:36 +0000\nFrom: Antoine Riard <antoine@example.org>\n"
            "To: Peter Todd <pete@example.org>\nSubject: Re: Expiring outputs:\n\tMaking HTLCs Safer\n"
            "Content-Type: text/plain; charset=\"utf-8\"\n\nHi Peter,\n\n"
            "I believe another line of solution could be to remove any counterparty spending path.\n\n"
            "------------------------------\n\nMessage: 2\nDate: Thu, 2 Nov 2023 08:58:36 +0000\n"
            "From: John Carvalho <john@example.org>\nSubject: The Pinning Problem Set\n\nGood morning,\n\n"
            "They can create additional policies. This is probably the best option, as it allows miners to know.\n")
    doc, ps = passages_of("digest.txt", text.encode())
    headers = [doc.text[b.start:b.end] for b in doc.blocks if b.rule == "mail headers"]
    assert len(headers) == 2 and headers[0].startswith("Message: 1") and headers[0].endswith('charset="utf-8"')
    assert headers[1].endswith("Subject: The Pinning Problem Set")
    assert all(p.section is None for p in ps)  # not "To: Peter Todd ...", "Hi Peter," or "Good morning,"
    assert any("Hi Peter," in p.text for p in ps) and any("probably the best option" in p.text for p in ps)
    assert sum(p.text.startswith("Message:") for p in ps) == 2  # each message's headers: a passage, as a byline


def test_a_name_and_a_clock_on_the_line_above_the_words_in_markdown():
    # Transcription tools export "Emma  0:22" above what she said; in Markdown a hard line break
    # keeps both lines in one paragraph, and the speaker read as "Emma  0" (the clock cut at its colon).
    text = ("Emma  0:00  \nCryptography is the method of protecting information with code.\n\n"
            "Kelly  0:22  \nWelcome to the podcast. I'm Kelly, and I have no experience with it.\n\n"
            "Emma  0:41  \nI know. Sweden does authentication really well, with one bank ID for everything.\n\n"
            "Kelly  0:59  \nWhat is a bank ID?\n")
    doc, ps = passages_of("ladybug.md", text.encode())
    turns = [b for b in doc.blocks if b.kind == "turn"]
    assert [b.label for b in turns] == ["Emma", "Kelly", "Emma", "Kelly"]
    assert doc.text[turns[0].body:turns[0].end].startswith("Cryptography is")
    assert {p.speaker for p in ps} <= {"Emma", "Kelly"}


def test_asciidoc_in_a_text_file():
    # Before: "[source,console]" and the command in a listing block were sections, and the
    # headings kept their "=" marks.
    text = ("=== The Protocols\n\nGit can use four distinct protocols to transfer data.\n\n==== Local Protocol\n"
            "(((protocols, local)))\nThe most basic is the Local protocol, in which the remote repository is in "
            "another directory on the same host.\n\n[source,console]\n----\n$ git clone /srv/git/project.git\n"
            "Short line\n----\n\n===== The Pros\n\nThe pros of file-based repositories are that they're simple.\n")
    doc, ps = passages_of("protocols.txt", text.encode())
    assert doc.title == "The Protocols"
    assert [p.section for p in ps if "simple" in p.text] == ["Local Protocol › The Pros"]
    listing = [p for p in ps if "$ git clone" in p.text]
    assert listing and listing[0].section == "Local Protocol" and "Short line" in listing[0].text
    set_aside = {doc.text[b.start:b.end] for b in doc.blocks if b.kind == "metadata"}
    assert {"[source,console]", "----", "(((protocols, local)))"} <= set_aside


@pytest.mark.parametrize("text, said", [
    # An hour of 5,000 digits raised ValueError (Python's limit on int()); it is text now.
    ("1\n" + "9" * 5000 + ":00:00,000 --> 00:00:01,000\nHi.\n\n2\n00:00:02,000 --> 00:00:03,000\nBye.\n", ["Hi.", "Bye."]),
    # "Yes." said twice, in cues of their own, is kept twice (only rolling captions repeat lines).
    ("1\n00:00:01,000 --> 00:00:02,000\nAre you ready?\n\n2\n00:00:03,000 --> 00:00:04,000\nYes.\n\n"
     "3\n00:00:05,000 --> 00:00:06,000\nReally?\n\n4\n00:00:07,000 --> 00:00:08,000\nYes.\n",
     ["Are you ready? Yes. Really? Yes."]),
    # Text after a blank line inside a cue, right above the next cue's number.
    ("1\n00:00:01,000 --> 00:00:04,000\nFirst line of the cue.\n\nSecond line after a blank.\n"
     "2\n00:00:05,000 --> 00:00:06,000\nNext cue.\n", ["First line of the cue. Second line after a blank. Next cue."]),
    # Angle brackets that are not cue markup, and "-->" without spaces around it.
    ("1\n00:00:01,000-->00:00:02,000\nIf x <b and y> c then stop.\n\n2\n00:00:03,000-->00:00:04,000\nOk.\n",
     ["If x <b and y> c then stop. Ok."]),
    # In SubRip, NOTE starts no comment block: a line said after a blank line inside a cue is kept.
    ("1\n00:00:01,000 --> 00:00:04,000\nWe checked the figures.\n\nNOTE the price rose to nine euros.\n\n"
     "2\n00:00:05,000 --> 00:00:06,000\nThat is all.\n", ["NOTE the price rose to nine euros."]),
    # In WebVTT a comment is "NOTE" alone or followed by a space: "NOTEWORTHY" opens words said.
    ("WEBVTT\n\nNOTE written by the captioner\n\n00:01.000 --> 00:04.000\nWe checked the figures.\n\n"
     "NOTEWORTHY is the rise to nine euros.\n\n00:05.000 --> 00:06.000\nThat is all.\n",
     ["NOTEWORTHY is the rise to nine euros."]),
])
def test_subtitle_edge_cases_keep_every_word(text, said):
    doc, ps = passages_of("edge.vtt" if text.startswith("WEBVTT") else "edge.srt", text.encode())
    assert doc.format == "subtitles"
    flat = " ".join(doc.text.split())
    assert all(x in flat for x in said)
    assert "written by the captioner" not in flat  # a WebVTT comment is still set aside


def test_a_dash_in_a_cue_hands_over_to_another_speaker():
    text = ("1\n00:00:01,000 --> 00:00:03,000\n- Are you coming to the harbour tonight?\n- Only if it stops raining.\n\n"
            "2\n00:00:03,500 --> 00:00:05,000\n- Then bring a coat.\n- I will.\n")
    doc, _ = passages_of("d.srt", text.encode())
    paragraphs = [doc.text[b.start:b.end] for b in doc.blocks]
    assert len(paragraphs) == 4, paragraphs
    assert paragraphs[1].endswith("Only if it stops raining.") and "Are you coming" not in paragraphs[1]
    assert not any(p.lstrip().startswith("-") for p in paragraphs)


def test_subtitle_voice_on_its_own_line_and_a_text_about_webvtt():
    doc, _ = passages_of("v.vtt", b"WEBVTT\n\n00:01.000 --> 00:02.000\n<v Ann>\nDid it work?\n\n"
                                  b"00:03.000 --> 00:04.000\n<v Bob>\nIt did not, sadly.\n")
    assert "Ann: Did it work?" in doc.text and "Bob: It did not, sadly." in doc.text
    text = ("WEBVTT in five minutes\n\nA caption file is plain text. It opens with a header line.\n\n"
            "Each cue has a timing line, like this one:\n\n00:01.000 --> 00:04.000\nHello.\n\nThat is all.\n")
    doc, _ = passages_of("article.txt", text.encode())
    assert doc.format == "text" and "00:01.000 --> 00:04.000" in doc.text
    from qa.corpus import read_document

    with pytest.raises(DocumentRejected, match="empty"):  # a header and a note, no cue: not a passage "WEBVTT"
        read_document("empty.vtt", b"WEBVTT\n\nNOTE nothing was said\n")


def test_one_letter_wiki_headings_and_asciidoc_lines_that_hold_prose():
    doc, ps = passages_of("glossary.txt", b"= Glossary =\n\n== A ==\nApple: a fruit that grows on trees.\n\n"
                                          b"== B ==\nBanana: a long yellow fruit.\n\n== C ==\n")
    assert doc.title == "Glossary" and all(p.text == p.text.strip() for p in ps)
    assert [p.section for p in ps if "Banana" in p.text] == ["B"]
    text = ("= Pro Git\n:toc:\n\n== Getting Started\n\n(((version control))) Version control is a system that records "
            "changes to a set of files over time.\n\n. Step one\n** nested item\n\n////\nA comment block\n////\n\n"
            "[source,console]\n----\n$ git init\n----\n\n== Branching\n\nNearly every VCS has some form of branching.\n")
    doc, ps = passages_of("progit.txt", text.encode())
    assert any("records changes to a set of files" in p.text for p in ps)  # before: set aside as markup
    said = " ".join(doc.text[a:b] for p in ps for a, b in p.sentences)
    assert "A comment block" not in said and ":toc:" not in said
    assert {doc.text[b.body:b.end] for b in doc.blocks if b.kind == "list_item"} == {"Step one", "nested item"}
    assert {p.section for p in ps} == {"Getting Started", "Branching"}


def test_text_with_equals_lines_and_a_rule_is_not_asciidoc():
    text = ("Worked example\n\ncost = fare + 3 * hotel\n= 120 + 3 * 80\n= 360 euros\n\n----\n\n"
            "Q: Is breakfast included?\n\nA: Yes, every morning from seven until ten.\n\nGetting there\n\n"
            "- take the train to the central station\n- walk five minutes north\n")
    _, ps = passages_of("trip.txt", text.encode())
    assert any(p.question == "Is breakfast included?" for p in ps)
    assert any(p.section == "Getting there" for p in ps)


def test_a_titled_name_with_a_clock_above_the_words():
    doc, _ = passages_of("pod.md", ("Dr. Tom Lee  0:00\nHello and welcome, today we talk about bridges.\n\n"
                                    "Emma Stone  0:05\nThanks for having me, it is a pleasure.\n\n"
                                    "Dr. Tom Lee  0:12\nSo tell us, how did you start building bridges?\n\n"
                                    "Emma Stone  0:18\nBy accident, really; I studied music first.\n").encode())
    assert [b.label for b in doc.blocks if b.kind in ("turn", "question", "answer")] == [
        "Dr. Tom Lee", "Emma Stone", "Dr. Tom Lee", "Emma Stone"]


@pytest.mark.parametrize("mark", ["[1]", "[citation needed]", "<ref>Smith 2001, p. 4</ref>", '<ref name="a"/>'])
def test_a_sentence_closed_by_a_citation_mark_is_not_a_heading(mark):
    """A copy of an encyclopedia page keeps its citation marks after the full stop: such a short
    paragraph was read as a heading, the section of everything below it."""
    text = (f"The harbour museum was founded by the city in 1602.{mark}\n\n"
            "It keeps 340 ship models in two long halls, and the audio guides are free for children.\n\n"
            "Visitors can borrow the guides in six languages at the desk, which opens at nine.\n")
    doc, ps = passages_of("museum.txt", text.encode())
    assert [b.kind for b in doc.blocks] == ["paragraph"] * 3
    assert all(p.section is None for p in ps)
    assert any(f"1602.{mark}" in p.text for p in ps)


def _paged_text(bodies: list[str], *, form_feed: bool) -> str:
    """A plain text laid out in pages as an RFC is: a numbered footer, then a running header."""
    head = "RFC 9999              Widget Transfer Extension               March 2011\n\n\n"
    pages = []
    for n, body in enumerate(bodies, 1):
        pages.append((head if n > 1 else "") + body + "\n\n\n\n"
                     + f"Doe, et al.                  Standards Track                    [Page {n}]\n")
    return ("\f" if form_feed else "\n").join(pages)


_RFC_BODIES = [
    "1.  Introduction\n\n   The widget transfer extension lets a client move widgets between\n"
    "   servers.  A server that supports the extension shall preserve every\n"
    "   widget passed using the MOVE command, and it responds with code 250 to the",
    "   EHLO command when the extension is on.  The client may then send\n   widgets of any size.\n\n"
    "2.  Framework\n\n   The EHLO keyword value is WIDGETS, and one optional parameter\n   named SIZE is added to the MOVE command.",
    "3.  Security Considerations\n\n   This memo raises no security issues beyond those of the base\n   protocol.\n\n"
    "4.  Acknowledgements\n\n   Jane Roe wrote the first draft of this memo in 2009.",
    "Authors' Addresses\n\n   John Doe\n   Example Inc.\n\n   EMail: john@example.com",
]


@pytest.mark.parametrize("form_feed", [False, True], ids=["page numbers", "form feeds"])
def test_plain_text_in_pages_sets_its_running_lines_aside(form_feed):
    # An RFC as most copies online have it (its form feeds lost), and as pdftotext writes one.
    doc, passages = passages_of("rfc9999.txt", _paged_text(_RFC_BODIES, form_feed=form_feed).encode())
    assert not any("Standards Track" in p.text or "March 2011" in p.text for p in passages)
    dropped = [doc.text[b.start:b.end] for b in doc.blocks if b.kind == "chrome"]
    assert len(dropped) == 7 and all(b.rule == "running header or footer" for b in doc.blocks if b.kind == "chrome")
    # The sentence that runs over the page turn stays one sentence, in one passage, with its page.
    said = "it responds with code 250 to the\nEHLO command when the extension is on."
    turn = next(p for p in passages if "code 250" in p.text)
    assert any(said in turn.text[s - turn.start:e - turn.start] for s, e in turn.sentences)
    assert doc.page_at(turn.start) == 1 and doc.page_at(doc.text.index("Jane Roe")) == 3
    # Numbered section lines are headings, and none of them is the document's title.
    assert {"1. Introduction", "2. Framework", "3. Security Considerations", "4. Acknowledgements"} <= {
        p.section for p in passages}
    assert any("EMail: john@example.com" in p.text for p in passages)  # the authors' lines are no menu
    assert doc.title is None


@pytest.mark.parametrize("opening", ["The ship sailed on, day after day.", "The ship left the harbour on day {n}."])
def test_lines_that_count_up_without_a_running_line_are_not_pages(opening):
    # "Chapter 1", "Chapter 2" count up as page numbers do. No other line recurs at their edges, or
    # one does (a line that counts too) but then nothing of the "pages" would be left.
    text = "\n\n".join(f"Chapter {n}\n\n{opening.format(n=n)}" + (" Its crew was tired." if n % 2 else "")
                       for n in range(1, 6))
    doc, passages = passages_of("book.txt", text.encode())
    assert not doc.pages and not any(b.kind == "chrome" for b in doc.blocks)
    assert recorded(doc, passages) == {f"Chapter {n}" for n in range(1, 6)}  # the first is the title


def test_a_numbered_list_between_paragraphs_stays_a_list():
    text = ("To set the widget up:\n\n1. Open the box\n\n2. Take out the widget\n\n3. Plug it in\n\n"
            "That is all it takes, and it runs at once.\n")
    doc, passages = passages_of("steps.txt", text.encode())
    assert [text[b.start:b.end] for b in doc.blocks if b.kind == "list_item"] == [
        "1. Open the box", "2. Take out the widget", "3. Plug it in"]
    assert not any(b.kind == "heading" for b in doc.blocks)


def test_a_repeated_note_label_in_a_manual_is_not_a_speaker():
    steps = ["Download the archive from the release page and unpack it in your home folder first.",
             "Note: the archive is about 40 MB, so use a fast connection.",
             "Run the installer from a terminal. It asks for your password once and copies the files.",
             "Note: on macOS you must allow the installer in the security settings first.",
             "Open a new terminal and type the name of the tool to check that it works."]
    doc, passages = passages_of("install.txt", "\n\n".join(steps).encode())
    assert not any(b.kind == "turn" for b in doc.blocks) and all(p.speaker is None for p in passages)
    # One voice that opens most paragraphs is a talk transcribed turn by turn, and stays a speaker.
    talk = "\n\n".join(f"Lecturer: Part {n} of the talk covers the {w} layer of the network stack in detail."
                       for n, w in enumerate(["physical", "link", "network", "transport"], 1))
    doc, passages = passages_of("talk.txt", (talk + "\n\nThat was the whole outline of the course.").encode())
    assert {p.speaker for p in passages} == {"Lecturer"}


def test_a_long_table_carries_its_header_into_every_passage_of_it():
    rows = "".join(f"| Tier {i} | {i * 3}.00 | {i * 10} | {i * 2} |\n" for i in range(1, 81))
    text = f"# Plans\n\n## Prices\n\n| Plan | Monthly price (USD) | Storage (GB) | Users |\n|---|---|---|---|\n{rows}\nThat is all.\n"
    doc, passages = passages_of("plans.md", text.encode())
    tables = [p for p in passages if p.kind == "table"]
    assert len(tables) >= 3 and tables[0].section == "Prices" and "Monthly price" in tables[0].text
    for p in tables[1:]:  # later rows: bare numbers, placed by the columns they fill
        assert "Monthly price" not in p.text
        assert p.section == "Prices › Plan | Monthly price (USD) | Storage (GB) | Users"
    assert [p.section for p in passages if p.kind != "table"] == ["Prices"]  # the table has ended


def test_html_sub_and_superscripts_and_a_byline_spaced_by_css():
    page = ("<html><head><title>Energy notes</title></head><body><article><h1>Energy notes</h1>"
            "<p>Posted by Ann Lee<span>March 3, 2024</span></p>"
            "<p>The relation E = mc<sup>2</sup> ties mass to energy, and light travels about 3 × 10<sup>8</sup> "
            "metres per second.<sup>1</sup> Water is H<sub>2</sub>O, as every textbook has shown<sup>2</sup> "
            "since the nineteenth century.</p><p>Einstein published the relation in 1905, in a short paper that "
            "followed his work on special relativity.</p><p>ebb <sup>℠</sup> is a service mark.</p>"
            "</article></body></html>")
    doc, passages = passages_of("energy.html", page.encode())
    body = " ".join(p.text for p in passages)
    assert "<su" not in body
    for said in ("E = mc^2", "3 × 10^8 metres", "second.[1] Water is H2O", "has shown[2] since", "ebb ℠ is",
                 "Posted by Ann Lee March 3, 2024"):
        assert said in body, said


def test_a_trademark_notice_at_the_foot_of_a_page_is_chrome():
    text = ("Notes from the field\n\nThe team moved the build to a new server this spring, and the nightly "
            "jobs now finish in half the time they used to take.\n\n"
            "Linux is a registered trademark of Linus Torvalds. We mention it because the new server runs it.\n\n"
            "Thanks to everyone who tested the new setup during the first weeks of the move.\n\n"
            "ebb ℠ is a service mark of Bradley M. Kuhn.\n")
    doc, passages = passages_of("notes.txt", text.encode())
    assert [doc.text[b.start:b.end] for b in doc.blocks if b.kind == "chrome"] == [
        "ebb ℠ is a service mark of Bradley M. Kuhn."]
    assert any("registered trademark of Linus Torvalds" in p.text for p in passages)  # prose, in the text


def test_markdown_lines_of_no_break_spaces_separate_paragraphs():
    # Pages converted to Markdown put "&nbsp;" between paragraphs: blank to a reader, not to CommonMark.
    text = ("MS. LEE:\u00a0 Good morning. The agency has sixteen hundred responders on the ground.  \n\u00a0  \n"
            "Q\u00a0\u00a0\u00a0 How many homes lost power?  \n\u00a0  \n"
            "ADMINISTRATOR ROE:\u00a0 About half of the county, down from the peak after the storm.  \n\u00a0  \n"
            "Q\u00a0\u00a0\u00a0 When will it be back?  \n\u00a0  \n"
            "ADMINISTRATOR ROE:\u00a0 By the end of the week, we expect.\n")
    doc, passages = passages_of("gaggle.md", text.encode())
    assert [p.question for p in passages if p.question] == ["How many homes lost power?", "When will it be back?"]
    assert [p.speaker for p in passages if p.question] == ["ADMINISTRATOR ROE"] * 2
    assert all(doc.text[p.start:p.end] == p.text for p in passages)


def test_template_tags_of_static_site_generators_are_markup():
    text = ("---\ntitle: Meet the team\n---\n\n<div>\n  <img src=\"/img/{{ page.featured-image }}\" alt=\"\">\n"
            "  {% include postauthor.html %}\n</div>\n\n{% include toc.html %}\n\n"
            "Ann Lee joined the team in June 2021, after ten years of work on compilers.\n\n"
            "## What do you work on?\n\nMostly the build system, and the release tooling around it.\n")
    doc, passages = passages_of("team.md", text.encode())
    assert passages[0].text == "Ann Lee joined the team in June 2021, after ten years of work on compilers."
    assert not any("{%" in p.text or "{{" in p.text for p in passages)
    assert [p.question for p in passages] == [None, "What do you work on?"]


def test_a_chat_clients_event_lines_are_not_said_by_the_nick():
    log = ("08:40:02 <dka> dka has joined #tagmem\n08:40:07 <dka> trackbot, start meeting\n"
           "08:41:10 <mnot> mnot has joined #tagmem\n08:44:27 <dka> Topic: EME\n"
           "08:47:34 <mnot> The spec editor asked us for guidance on the proposal last time.\n"
           "08:49:02 <dka> dka is now known as dan\n08:50:18 <dka> We should publish the revised opinion this week.\n")
    doc, passages = passages_of("irc.txt", log.encode())
    events = [doc.text[b.start:b.end] for b in doc.blocks if b.kind == "metadata" and b.rule == "chat log event"]
    assert events == ["08:40:02 <dka> dka has joined #tagmem", "08:41:10 <mnot> mnot has joined #tagmem",
                      "08:49:02 <dka> dka is now known as dan"]
    said = [doc.text[s:e] for p in passages for s, e in p.sentences]
    assert not any("has joined" in s for s in said) and any("revised opinion" in s for s in said)


def test_a_wrapped_line_that_looks_like_a_label_goes_on_with_its_sentence():
    text = ("   Date and time formats cause a lot of confusion and interoperability\n"
            "   problems on the Internet.  This document addresses many of the\n"
            "   problems encountered and makes recommendations to improve them.\n\n"
            "   There are many ways in which date and time values might appear in\n"
            "   Internet protocols:  this document focuses on just one common usage,\n"
            "   viz. timestamps for Internet protocol events.\n\n"
            "   The format is a profile of the standard, and it is used widely today.\n"
            "   Readers should note that the grammar in the appendix is normative.\n")
    doc, passages = passages_of("rfc.txt", text.encode())
    said = [doc.text[s:e] for p in passages for s, e in p.sentences]
    assert any(s.startswith("There are many ways") and "Internet protocols:" in s for s in said)
    assert not any(b.kind in ("turn", "heading") for b in doc.blocks)
    # A transcript's turns, each closing its line, still open a turn of their own.
    talk = ("ALICE: We moved the build to the new server this spring and it is faster.\n"
            "BOB: How much faster is it than the old one, would you say, in minutes?\n"
            "ALICE: About half the time for the nightly jobs, which is a big change.\n"
            "BOB: And what did the new machine cost the project, all told, this year?\n"
            "ALICE: Nothing at all, it was donated by one of our sponsors in March.\n")
    doc, passages = passages_of("talk.txt", talk.encode())
    assert [b.label for b in doc.blocks if b.label] == ["ALICE", "BOB", "ALICE", "BOB", "ALICE"]
    # Without punctuation every turn stops on a word: the names that recur still open turns.
    bare = talk.replace(".\n", "\n").replace("?\n", "\n")
    doc, passages = passages_of("captions.txt", bare.encode())
    assert [b.label for b in doc.blocks if b.label] == ["ALICE", "BOB", "ALICE", "BOB", "ALICE"]


@pytest.mark.parametrize("leader", ["....................", " . . . . . . . . ."])
def test_a_table_of_contents_is_not_text(leader):
    contents = "\n".join(f"   {n}. {t} {leader} {p}" for n, t, p in [(1, "Introduction", 2), (2, "Definitions", 3),
                                                                      (3, "Security Considerations", 4)])
    body = ("1. Introduction\n\nDate and time formats cause a lot of confusion on the Internet, and this "
            "document makes recommendations.\n\n2. Definitions\n\nUTC means Coordinated Universal Time, as kept "
            "by the bureau.\n\n3. Security Considerations\n\nA clock that is wrong can break certificate checks.\n")
    doc, passages = passages_of("spec.txt", f"Table of Contents\n\n{contents}\n\n{body}".encode())
    toc = [doc.text[b.start:b.end] for b in doc.blocks if b.rule == "table of contents"]
    assert " ".join(toc).split() == f"Table of Contents {contents}".split()  # one block or one per line
    assert not any(leader.strip() in p.text or p.text == "Table of Contents" for p in passages)
    assert [p.section for p in passages] == ["1. Introduction", "2. Definitions", "3. Security Considerations"]


def test_running_heads_that_change_with_the_chapter_are_set_aside_after_its_first_page():
    # Nine pages, three chapters: each chapter's title heads its pages, fewer than half of them.
    prose = ["The ship left the harbour at dawn and sailed north along the coast for many hours.",
             "By noon the wind had turned, and the crew took in the sails to wait for the evening.",
             "Nobody on board had seen the islands before, and the charts they carried were old.",
             "At night the captain wrote the day's distance in the log, as he did every evening."]
    titles = ["Chapter 1  Departure", "Chapter 2  The Islands", "Chapter 3  Home"]
    pages = [f"{titles[(n - 1) // 3]}\n{prose[n % 4]}\n{prose[(n + 1) % 4]} Page {n} of the voyage ended here.\n\n{n}"
             for n in range(1, 10)]
    doc, passages = passages_of("voyage.txt", "\f".join(pages).encode())
    # The first page of each chapter keeps its title, the chapter's heading; every later one is a running head.
    assert {"Chapter 1 Departure", "Chapter 2 The Islands", "Chapter 3 Home"} <= recorded(doc, passages)
    assert all(sum(t in p.text for p in passages) <= 1 for t in titles)  # a heading is a passage's first line
    dropped = [doc.text[b.start:b.end] for b in doc.blocks if b.kind == "chrome"]
    assert [dropped.count(t) for t in titles] == [2, 2, 2]
    assert all(str(n) in dropped for n in range(1, 10))  # the page numbers


def test_a_page_laid_out_in_a_table_is_read_as_its_article():
    page = ("<html><head><title>Club news</title></head><body><table width='100%'><tr>"
            "<td width='20%'><a href='/'>Home</a><br><a href='/news'>News</a><br><a href='/contact'>Contact</a></td>"
            "<td><h1>Club news</h1><p>The chess club met on Tuesday evening in the library, and twenty-two members "
            "played in the autumn tournament this year.</p><p>Maria Lopez won all five of her games and takes the "
            "trophy home for the second year running, ahead of Tom Berg.</p>"
            "<table border='1'><tr><th>Player</th><th>Points</th></tr><tr><td>Maria Lopez</td><td>5</td></tr>"
            "<tr><td>Tom Berg</td><td>4</td></tr></table>"
            "<p>The next meeting is on the first Tuesday of December, when the club elects a new treasurer.</p>"
            "<table><tr><td>Dues</td><td>10 EUR</td></tr><tr><td>Juniors</td><td>free</td></tr></table>"
            "</td></tr></table></body></html>")
    doc, passages = passages_of("club.html", page.encode())
    assert [p.kind for p in passages] == ["text", "table", "text", "table"]
    assert "Home" not in " ".join(p.text for p in passages)  # the menu cell, dropped by the extractor
    assert "| Maria Lopez | 5 |" in passages[1].text and "| Juniors | free |" in passages[3].text


def test_a_scribes_lines_speak_for_whom_they_name():
    said = [("Domenic", "The spec editor asked us for guidance on the proposal at the last meeting."),
            ("Domenic", "I submitted a revised version of our opinion, stating concerns rather than solutions."),
            ("TimBL", "We should say what we want the web to be, not only what we fear."),
            ("Domenic", "The proposal has momentum; it is shipping in most browsers already."),
            ("Peter", "Then the opinion should go out this month, before the next draft."),
            ("TimBL", "Agreed, and we can revise it once the working group answers.")]
    log = "".join(f"09:{n:02d}:00 <mnot> {who}: {what}\n" + (f"09:{n:02d}:30 <dka> Thanks, that helps a lot.\n" if n == 2 else "")
                  for n, (who, what) in enumerate(said))
    doc, passages = passages_of("minutes.txt", log.encode())
    turns = [b for b in doc.blocks if b.kind == "turn"]
    assert [b.label for b in turns] == ["Domenic", "Domenic", "TimBL", "dka", "Domenic", "Peter", "TimBL"]
    assert doc.text[turns[0].body:turns[0].end].startswith("The spec editor asked")
    # Someone who addresses others now and then speaks for themselves.
    chat = ("10:00:01 <bob> alice: did you see the new build?\n10:00:09 <alice> Yes, it is much faster now.\n"
            "10:00:15 <bob> I measured it twice this morning.\n10:00:20 <bob> It halves the nightly run.\n"
            "10:00:31 <alice> bob: send me the numbers, please.\n")
    doc, passages = passages_of("chat.txt", chat.encode())
    assert [b.label for b in doc.blocks if b.kind == "turn"] == ["bob", "alice", "bob", "bob", "alice"]


def test_plain_text_o_bullets_are_list_items():
    text = ("   This limited consideration has the following consequences:\n\n"
            "   o  All dates and times are assumed to be in the current era,\n      somewhere between 0000AD and 9999AD.\n\n"
            "   o  All times expressed have a stated relationship to UTC.\n\n"
            "   o my, said nobody in a specification, and this line is prose all the same.\n")
    doc, passages = passages_of("rfc.txt", text.encode())
    items = [b for b in doc.blocks if b.kind == "list_item"]
    assert [doc.text[b.body:b.body + 9] for b in items] == ["All dates", "All times"]
    said = [doc.text[s:e] for p in passages for s, e in p.sentences]
    assert not any(s.startswith("o ") for s in said[:3]) and any(s.startswith("o my") for s in said)
