"""The playground page in a real headless Chromium: what a person sees and clicks.

One `python -m bot playground` process serves every test here (its Slack stand-in keeps the
conversation, so each test writes its own script and finds its own messages). The browser
is Debian's system Chromium, driven by Playwright; without /usr/bin/chromium these tests
skip and say how to get it. Each step leaves a screenshot in tests/artifacts/playground/.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import HTTP, ROOT, PlaygroundProcess, free_port

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "browser tests need Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]'")
expect, Page = sync_api.expect, sync_api.Page

ARTIFACTS = ROOT / "tests" / "artifacts" / "playground"
DOCS_SHOT = ROOT / "docs" / "playground-thread.png"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# PLAYGROUND_DOCS_SHOT=1 (run with -k flow) renders real sandbox videos and refreshes the
# README's screenshot; the default run keeps the committed one and renders instantly.
DOCS_RUN = os.environ.get("PLAYGROUND_DOCS_SHOT") == "1"
WAIT_MS = 30_000  # renders and uploads take a few seconds; a loaded machine must not fail
VIEWPORT = {"width": 1280, "height": 800}
expect.set_options(timeout=WAIT_MS)


class Playground:
    """The running `python -m bot playground` and its embedded sandbox."""

    def __init__(self, process: PlaygroundProcess, sandbox_url: str) -> None:
        self.process, self.url, self.sandbox_url = process, process.url + "/", sandbox_url

    def finish_newest_video(self) -> None:
        """Complete the newest unfinished sandbox video now, as HeyGen would when done.

        The sandbox is started with a long render so that Cancel can always be pressed in
        time; the flow test finishes its own video here instead of waiting.
        """
        if DOCS_RUN:
            return  # real renders finish by themselves
        videos = HTTP.get(f"{self.sandbox_url}/_sandbox/videos").json()["videos"]
        running = [v for v in videos if v["status"] not in ("completed", "failed")]
        newest = max(running, key=lambda v: v["created_at"])
        HTTP.post(f"{self.sandbox_url}/_sandbox/videos/{newest['id']}/complete", json={})


@pytest.fixture(scope="module")
def playground(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Playground]:
    folder = tmp_path_factory.mktemp("playground")
    sandbox_port = free_port()
    env = {
        "SLACK_BOT_TOKEN": "",
        "SLACK_APP_TOKEN": "",
        "SLACK_SIGNING_SECRET": "",
        "HEYGEN_API_KEY": "",
        "SANDBOX_PORT": str(sandbox_port),
        "SANDBOX_RENDER": "real" if DOCS_RUN else "static",
        # Long enough that Cancel is always in time; finish_newest_video ends it on demand.
        "SANDBOX_RENDER_SECONDS": "0" if DOCS_RUN else "600",
        "POLL_INTERVAL_SECONDS": "0.5",
        "POLL_MAX_INTERVAL_SECONDS": "1",
    }
    process = PlaygroundProcess(folder, "playground", **env)
    yield Playground(process, f"http://127.0.0.1:{sandbox_port}")
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, playground: Playground, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(playground.url)
    expect(tab.get_by_role("textbox", name="Message #general")).to_be_visible()
    yield tab
    context.close()
    assert not errors, f"the page threw: {errors}"


def shot(page: Page, test: str, step: str) -> Path:
    path = ARTIFACTS / f"{test}-{step}.png"
    page.screenshot(path=str(path))
    return path


def composer(page: Page, name: str = "Message #general"):
    return page.get_by_role("textbox", name=name)


def send(page: Page, text: str, box: str = "Message #general") -> None:
    composer(page, box).fill(text)
    composer(page, box).press("Enter")


def pick(dialog, label: str, query: str, option: str | re.Pattern) -> None:
    """Type into a select menu (the bot's typeahead answers) and choose an option."""
    combo = dialog.get_by_role("combobox", name=label)
    combo.fill(query)
    dialog.get_by_role("option", name=option).first.click()
    expect(combo).to_have_value(option if isinstance(option, re.Pattern) else re.compile(option))


def close(dialog) -> None:
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def open_modal(page: Page, script: str):
    send(page, f"/heygen {script}")
    dialog = page.get_by_role("dialog", name="HeyGen avatar video")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("textbox", name="Script", exact=True)).to_have_value(script)
    return dialog


def start_video(page: Page, script: str):
    """/heygen <script>, an avatar and a voice, Create video: the announcement article."""
    dialog = open_modal(page, script)
    pick(dialog, "Avatar", "Adrian", re.compile("Adrian"))
    pick(dialog, "Voice", "Emma", re.compile("Emma"))
    dialog.get_by_role("button", name="Create video").click()
    expect(dialog).to_be_hidden()
    return announcement(page, script)


def announcement(page: Page, script: str):
    """The announcement in the channel (the thread panel shows it again, outside main)."""
    return (
        page.get_by_role("main")
        .get_by_role("article")
        .filter(has_text="is generating an avatar video")
        .filter(has_text=script)
    )


def test_heygen_flow_to_a_video_that_plays(page: Page, playground: Playground) -> None:
    composer(page).fill("/hey")
    expect(page.get_by_role("option", name="/heygen")).to_be_visible()
    shot(page, "flow", "1-slash-autocomplete")
    composer(page).fill("/heygen Hello team")
    composer(page).press("Enter")
    dialog = page.get_by_role("dialog", name="HeyGen avatar video")
    expect(dialog).to_be_visible()
    combo = dialog.get_by_role("combobox", name="Avatar")
    combo.fill("Adrian")
    expect(dialog.get_by_role("option").first).to_contain_text("Adrian")
    shot(page, "flow", "2-avatar-typeahead")
    dialog.get_by_role("option").first.click()
    expect(dialog.get_by_role("img", name=re.compile("Preview of Adrian"))).to_be_visible()
    pick(dialog, "Voice", "Emma", re.compile("Emma"))
    dialog.get_by_role("checkbox", name="DM me when it is done").check()
    expect(dialog.get_by_role("button", name="Play sample")).to_be_visible()
    expect(dialog.get_by_role("textbox", name="Script", exact=True)).to_have_value("Hello team")
    expect(combo).to_have_value(re.compile("Adrian"))  # kept through the preview update
    shot(page, "flow", "3-modal-with-previews")
    dialog.get_by_role("button", name="Create video").click()
    expect(dialog).to_be_hidden()

    post = announcement(page, "Hello team")
    expect(post).to_contain_text(re.compile("Sending|Queued|Waiting|Rendering"))
    composer(page).fill("a draft")  # live updates must not wipe what is being typed
    expect(post.get_by_role("button", name="Cancel")).to_be_visible()
    shot(page, "flow", "4-announcement-rendering")
    playground.finish_newest_video()
    expect(post).to_contain_text("Done", timeout=60_000)
    expect(post.get_by_role("button", name="Make another")).to_be_visible()
    expect(composer(page)).to_have_value("a draft")
    replies = post.get_by_role("button", name=re.compile(r"\d+ repl"))
    expect(replies).to_be_visible()
    shot(page, "flow", "5-announcement-done")

    replies.click()
    thread = page.get_by_role("region", name="Thread")
    expect(thread.get_by_role("img", name="Video thumbnail")).to_be_visible()
    link = thread.get_by_role("button", name="Watch / download")
    expect(link).to_have_attribute("href", re.compile(r"^http://127\.0\.0\.1:\d+/"))
    video = thread.locator("video")
    expect(video).to_be_visible(timeout=60_000)  # the mp4 upload follows the result
    duration = video.evaluate(
        """v => new Promise((done, fail) => {
            if (v.readyState >= 1) return done(v.duration);
            v.addEventListener('loadedmetadata', () => done(v.duration));
            v.addEventListener('error', () => fail(new Error('video error ' + v.error.code)));
        })"""
    )
    assert duration > 0
    video.scroll_into_view_if_needed()
    path = shot(page, "flow", "6-thread-with-video")
    if DOCS_RUN:
        shutil.copyfile(path, DOCS_SHOT)

    thread.get_by_role("button", name="Get a fresh link").click()
    fresh = thread.get_by_role("article").filter(has_text="A fresh link to Hello team")
    expect(fresh).to_contain_text("Only visible to you")
    expect(fresh.get_by_role("button", name="Watch / download")).to_have_attribute(
        "href", re.compile(r"^http://127\.0\.0\.1:\d+/")
    )
    shot(page, "flow", "7-fresh-link")

    sidebar = page.get_by_role("navigation", name="Channels")
    sidebar.get_by_role("link", name="HeyGen").click()
    note = page.get_by_role("article").filter(has_text="Hello team").filter(has_text="is ready")
    expect(note).to_be_visible()
    shot(page, "flow", "8-dm-from-the-app")
    note.get_by_role("link", name="in the thread").click()  # a permalink into the page
    expect(composer(page)).to_be_visible()
    expect(thread.locator("video")).to_be_visible()


def test_inline_errors_in_the_modal(page: Page) -> None:
    # Chen has made no video, so the bot prefills no voice (it remembers a person's last).
    page.get_by_label("Viewing as").select_option(label="Chen Wei")
    dialog = open_modal(page, "A script without a voice")
    voice = dialog.get_by_role("combobox", name="Voice")
    expect(voice).to_have_value("")
    pick(dialog, "Avatar", "Adrian", re.compile("Adrian"))
    dialog.get_by_role("button", name="Create video").click()
    expect(dialog.get_by_role("alert")).to_have_text(re.compile("complete this required field"))
    expect(voice).to_have_attribute("aria-invalid", "true")
    script = dialog.get_by_role("textbox", name="Script", exact=True)
    expect(script).to_have_value("A script without a voice")  # what was typed stays
    shot(page, "error", "1-voice-required")

    pick(dialog, "Voice", "Emma", re.compile("Emma"))
    dialog.get_by_role("textbox", name="Background colour").fill("#nothex")
    dialog.get_by_role("button", name="Create video").click()
    expect(dialog.get_by_role("alert")).to_have_text(re.compile("Use a hex colour"))  # the bot's
    expect(voice).to_have_value(re.compile("Emma"))
    shot(page, "error", "2-bad-colour-from-the-bot")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()


def test_cancel_by_requester_refused_for_another_person(page: Page) -> None:
    post = start_video(page, "Please cancel me")
    expect(post.get_by_role("button", name="Cancel")).to_be_visible()

    page.get_by_label("Viewing as").select_option(label="Ben Okafor")
    expect(composer(page)).to_be_visible()
    post.get_by_role("button", name="Cancel").click()
    confirm = page.get_by_role("alertdialog", name="Cancel this video?")
    expect(confirm).to_be_visible()
    shot(page, "cancel", "1-confirm-as-other-person")
    confirm.get_by_role("button", name="Cancel video").click()
    refusal = page.get_by_role("article").filter(has_text="Only visible to you")
    expect(refusal).to_be_visible()
    expect(post).to_contain_text(re.compile("Sending|Queued|Waiting|Rendering"))
    shot(page, "cancel", "2-refused-for-other-person")

    page.get_by_label("Viewing as").select_option(label="Alice Park")
    expect(refusal).to_have_count(0)  # Ben's ephemeral is Ben's alone
    post.get_by_role("button", name="Cancel").click()
    confirm.get_by_role("button", name="Keep it").click()
    expect(confirm).to_be_hidden()
    post.get_by_role("button", name="Cancel").click()
    confirm.get_by_role("button", name="Cancel video").click()
    expect(post).to_contain_text("Cancelled")
    shot(page, "cancel", "3-cancelled-by-requester")


def test_retry_after_a_failed_video_and_make_another(page: Page) -> None:
    post = start_video(page, "[sandbox:fail] [sandbox:render:1] Doomed take")
    expect(post).to_contain_text("Failed", timeout=60_000)
    replies = post.get_by_role("button", name=re.compile(r"\d+ repl"))
    expect(replies).to_be_visible()
    shot(page, "retry", "1-failed")

    page.get_by_label("Viewing as").select_option(label="Ben Okafor")
    expect(composer(page)).to_be_visible()
    post.get_by_role("button", name="Retry").click()
    refusal = (
        page.get_by_role("main")
        .get_by_role("article")
        .filter(has_text="Only the requester (@Alice Park) can retry")
    )
    expect(refusal).to_contain_text("Only visible to you")  # in the channel, where he pressed
    shot(page, "retry", "2-refused-for-other-person")

    page.get_by_label("Viewing as").select_option(label="Alice Park")
    expect(refusal).to_have_count(0)
    post.get_by_role("button", name="Retry").click()
    replies.click()
    thread = page.get_by_role("region", name="Thread")
    again = thread.get_by_role("article").filter(has_text="Doomed take").nth(1)
    expect(again).to_contain_text("is generating an avatar video")  # the retry, in the thread
    shot(page, "retry", "3-retried-in-the-thread")

    post.get_by_role("button", name="Make another").click()
    dialog = page.get_by_role("dialog", name="HeyGen avatar video")
    expect(dialog.get_by_role("textbox", name="Script", exact=True)).to_have_value(
        "[sandbox:fail] [sandbox:render:1] Doomed take"
    )
    expect(dialog.get_by_role("combobox", name="Avatar")).to_have_value(re.compile("Adrian"))
    expect(dialog.get_by_role("combobox", name="Voice")).to_have_value(re.compile("Emma"))
    shot(page, "retry", "4-make-another-prefilled")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_heygen_help_and_status_answer_only_the_asker(page: Page) -> None:
    page.get_by_label("Viewing as").select_option(label="Ben Okafor")
    expect(composer(page)).to_be_visible()
    send(page, "/heygen help")
    help_note = page.get_by_role("article").filter(has_text="shows this message")
    expect(help_note).to_contain_text("Only visible to you")
    expect(help_note.locator("code", has_text="/heygen status")).to_be_visible()
    send(page, "/heygen status")
    status = page.get_by_role("article").filter(has_text="You have not made any avatar videos")
    expect(status).to_contain_text("Only visible to you")  # Ben has made none
    shot(page, "commands", "1-help-and-status")
    status.get_by_role("button", name="Dismiss message").click()
    expect(status).to_have_count(0)
    page.get_by_label("Viewing as").select_option(label="Alice Park")
    expect(help_note).to_have_count(0)  # Ben's answers are Ben's alone


def test_message_shortcut_from_the_more_actions_menu(page: Page) -> None:
    send(page, "Welcome aboard, everyone")
    message = page.get_by_role("article").filter(has_text="Welcome aboard, everyone")
    expect(message).to_be_visible()
    message.hover()
    message.get_by_role("button", name="More actions").click()
    item = page.get_by_role("menuitem", name=re.compile("Make an avatar video"))
    expect(item).to_be_visible()
    shot(page, "shortcut", "1-more-actions-menu")
    item.click()
    dialog = page.get_by_role("dialog", name="HeyGen avatar video")
    script = dialog.get_by_role("textbox", name="Script", exact=True)
    expect(script).to_have_value(re.compile("Welcome aboard, everyone"))
    shot(page, "shortcut", "2-modal-from-message")
    close(dialog)

    page.get_by_role("button", name="Shortcuts").click()
    page.get_by_role("menuitem", name=re.compile("New avatar video")).click()
    dialog = page.get_by_role("dialog", name="HeyGen avatar video")
    expect(dialog.get_by_role("combobox", name="Post to")).to_have_value("")  # no conversation
    shot(page, "shortcut", "3-global-shortcut")
    close(dialog)  # the stand-in keeps a person's open modal across page loads


def test_app_home(page: Page) -> None:
    page.get_by_role("navigation", name="Channels").get_by_role("link", name="HeyGen").click()
    expect(composer(page, "Message HeyGen")).to_be_visible()
    page.get_by_role("tab", name="Home").click()
    panel = page.get_by_role("tabpanel")
    expect(panel.get_by_role("heading", name="HeyGen avatar videos")).to_be_visible()
    expect(panel.get_by_role("button", name="New video")).to_be_visible()
    shot(page, "home", "1-home-tab")
    panel.get_by_role("button", name="New video").click()
    dialog = page.get_by_role("dialog", name="HeyGen avatar video")
    expect(dialog).to_be_visible()
    shot(page, "home", "2-new-video-from-home")
    close(dialog)


def test_plain_message_is_shown_escaped_and_survives_reload(page: Page) -> None:
    send(page, "<!channel> *hi* <b>x</b> & more")
    message = page.get_by_role("article").filter(has_text="<b>x</b>")
    expect(message).to_contain_text("<!channel> hi <b>x</b> & more")
    expect(message.locator("b", has_text="hi")).to_be_visible()  # mrkdwn bold still works
    expect(message.locator(".broadcast")).to_have_count(0)  # never a real @channel
    expect(message.locator("b", has_text="x")).to_have_count(0)  # no HTML from user text
    shot(page, "message", "1-escaped")
    send(page, "/nope")
    refusal = page.get_by_role("article").filter(has_text="/nope is not a valid command")
    expect(refusal).to_contain_text("Only visible to you")
    page.reload()
    expect(message).to_be_visible()
    shot(page, "message", "2-after-reload")


MRKDWN_CASES = [
    (
        "*bold* _italic_ ~strike~ `code`",
        "<b>bold</b> <i>italic</i> <s>strike</s> <code>code</code>",
    ),
    ("<https://example.com|a &amp; b>", 'href="https://example.com" target="_blank"'),
    ("<javascript:alert(1)|click>", "click"),
    ("&lt;img src=x onerror=alert(1)&gt;", "&lt;img src=x onerror=alert(1)&gt;"),
    ("<@U0BEN> in <#C0CHAN|general>", '@Ben Okafor</span> in <a class="mention channel-link"'),
    ("<!here> and <!channel>", '<span class="mention broadcast">@here</span>'),
    ("&gt; quoted\nnot", "<blockquote>quoted</blockquote>not"),
    ("```*not bold* <b>```", '<pre class="code-block">*not bold* &lt;b&gt;</pre>'),
    ("snake_case_name", "snake_case_name"),
]


def test_mrkdwn_renders_slack_markup_and_escapes_everything_else(page: Page) -> None:
    rendered = page.evaluate(
        """async cases => {
            const { mrkdwn } = await import('/static/mrkdwn.js');
            const names = { U0BEN: 'Ben Okafor' };
            const ctx = { userName: id => names[id] ?? null, channelName: () => 'general' };
            return cases.map(text => mrkdwn(text, ctx));
        }""",
        [text for text, _ in MRKDWN_CASES],
    )
    for (text, expected), html in zip(MRKDWN_CASES, rendered, strict=True):
        assert expected in html, (text, html)
    assert "javascript:" not in rendered[2] and "<img" not in rendered[3]


def test_unknown_blocks_and_elements_show_a_placeholder(page: Page) -> None:
    shown = page.evaluate(
        """async () => {
            const { renderBlock } = await import('/static/blockkit.js');
            const ctx = { values: null, errors: {}, people: [], channels: [] };
            const block = renderBlock({ type: 'mystery_block' }, 0, ctx);
            const element = renderBlock(
                { type: 'actions', elements: [{ type: 'rating_stars', action_id: 'a' }] }, 1, ctx);
            return [block.textContent, element.textContent];
        }"""
    )
    assert shown == ["Unsupported block: mystery_block", "Unsupported element: rating_stars"]
