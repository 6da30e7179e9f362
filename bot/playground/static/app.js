// The playground page: a Slack-like shell over the stand-in's /playground/ JSON API.
// State comes from GET /playground/state and is re-fetched on every server-sent event; the
// page re-renders only what changed (keyed by message ts and block id), so the composer's
// text, an open menu and a modal's typed values survive every update.
import { blockKey, h, renderBlock } from "./blockkit.js";
import { escapeHtml, mrkdwn, plainHtml, textObjectHtml, textObjectPlain } from "./mrkdwn.js";

const $ = (id) => document.getElementById(id);
const S = {
  state: null,
  as: new URLSearchParams(location.search).get("as") || localStorage.getItem("playground.as") || "",
  channel: null,
  thread: null, // {channel, ts}
  tab: "messages", // in the app's DM: "messages" | "home"
  drafts: new Map(), // composer text per channel / thread
  local: [], // notes only this page shows (e.g. an unknown command), like Slackbot's
  dismissed: new Set(JSON.parse(sessionStorage.getItem("playground.dismissed") || "[]")),
  viewValues: new Map(), // view id → {block_id: {action_id: value}}
  viewErrors: new Map(), // view id → {block_id: message}
  closedView: null, // the modal the person just closed, until the state agrees
  modalChannel: null, // the conversation a modal was opened from (default_to_current_conversation)
  homeOpenedFor: null,
};

// ---------------------------------------------------------------- API

async function api(path, body) {
  const response = await fetch(path, {
    method: body ? "POST" : "GET",
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify({ as: S.as, ...body }) : undefined,
  });
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { ok: false, error: `${response.status} ${text.slice(0, 200)}` };
  }
}

let refreshing = null;
let again = false;
/** Fetch the state and render; calls that arrive meanwhile fold into one more fetch. */
function refresh() {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    do {
      again = false;
      try {
        const state = await api(`/playground/state?as=${encodeURIComponent(S.as)}`);
        if (state && state.channels) apply(state);
      } catch (err) {
        console.error(err);
        toast(err instanceof TypeError && /fetch/i.test(err.message)
          ? "Lost the connection to the playground; retrying…"
          : `The page could not show the latest state: ${err.message}`);
      }
    } while (again);
    refreshing = null;
  })();
  return refreshing;
}

function listen() {
  const events = new EventSource("/playground/events");
  events.onmessage = () => refresh();
  events.onopen = () => refresh();
}

// ---------------------------------------------------------------- lookups

const people = () => S.state?.people ?? [];
const person = (id) => people().find((p) => p.id === id);
const channelById = (id) => S.state?.channels.find((c) => c.id === id);
const isApp = (id) => id && id === S.state?.app.bot_user_id;

function userName(id) {
  if (isApp(id)) return S.state.app.name;
  const p = person(id);
  return p ? p.real_name || p.name : null;
}
function channelName(id) {
  const c = channelById(id);
  return c ? c.name : null;
}
const md = { userName, channelName };

function tsDate(ts) { return new Date(parseFloat(ts) * 1000); }
function timeText(ts) { return tsDate(ts).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" }); }
function fullTime(ts) {
  return tsDate(ts).toLocaleString([], { weekday: "long", month: "long", day: "numeric", hour: "numeric", minute: "2-digit", second: "2-digit" });
}
function dayText(ts) {
  const d = tsDate(ts);
  const today = new Date();
  const y = new Date(); y.setDate(today.getDate() - 1);
  if (d.toDateString() === today.toDateString()) return "Today";
  if (d.toDateString() === y.toDateString()) return "Yesterday";
  return d.toLocaleDateString([], { weekday: "long", month: "long", day: "numeric" });
}

// ---------------------------------------------------------------- avatars

const AVATAR_COLORS = ["#2BAC76", "#E8912D", "#1D9BD1", "#CD2553", "#4A154B", "#3C8DBC", "#9B59B6", "#0B4C8C"];

function avatar(id, size = 36) {
  const cls = `avatar avatar-${size}`;
  if (isApp(id) || !id) {
    return h("span", { class: `${cls} avatar-app`, "aria-hidden": "true", html: APP_LOGO });
  }
  if (id === "USLACKBOT") return h("span", { class: `${cls} avatar-slackbot`, "aria-hidden": "true" }, "✱");
  const name = userName(id) ?? id;
  let hash = 0;
  for (const ch of id) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  const initials = name.split(/\s+/).map((w) => w[0]).join("").slice(0, 2).toUpperCase();
  return h("span", { class: cls, style: `background:${AVATAR_COLORS[hash % AVATAR_COLORS.length]}`, "aria-hidden": "true" }, initials);
}

const APP_LOGO = `<svg viewBox="0 0 36 36" width="100%" height="100%" aria-hidden="true"><defs><linearGradient id="hg" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#7559FF"/><stop offset="1" stop-color="#00C2FF"/></linearGradient></defs><rect width="36" height="36" fill="url(#hg)"/><path d="M14 11.5l11 6.5-11 6.5z" fill="#fff"/></svg>`;

// ---------------------------------------------------------------- scrolling

/**
 * Keep `scroller` pinned to its newest content while the person has not scrolled up, also
 * when images and videos load later and grow it (as Slack does).
 */
function stickToBottom(scroller, content) {
  scroller.stick = true;
  scroller.addEventListener("scroll", () => {
    scroller.stick = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
  });
  new ResizeObserver(() => { if (scroller.stick) scroller.scrollTop = scroller.scrollHeight; }).observe(content);
}

function toBottom(scroller) {
  scroller.stick = true;
  scroller.scrollTop = scroller.scrollHeight;
}

// ---------------------------------------------------------------- keyed re-rendering

/**
 * Make `container`'s children match `items`: an item whose signature is unchanged keeps its
 * DOM node (and so its focus, selection, open menus and playing video).
 */
function reconcile(container, items, render) {
  const old = new Map();
  for (const node of container.children) if (node.dataset.key) old.set(node.dataset.key, node);
  let cursor = container.firstElementChild;
  for (const item of items) {
    let node = old.get(item.key);
    if (!node || node.dataset.sig !== item.sig) {
      const fresh = render(item);
      fresh.dataset.key = item.key;
      fresh.dataset.sig = item.sig;
      if (node) node.replaceWith(fresh);
      if (node && node === cursor) cursor = fresh;
      node = fresh;
    }
    old.delete(item.key);
    if (node === cursor) cursor = node.nextElementSibling;
    else container.insertBefore(node, cursor);
  }
  for (const node of old.values()) node.remove();
}

// ---------------------------------------------------------------- apply state

function apply(state) {
  const first = !S.state;
  S.state = state;
  if (!S.as || !person(S.as)) S.as = state.me;
  if (first) readHash();
  if (!channelById(S.channel)) S.channel = state.channels[0]?.id;
  if (S.closedView && state.modal?.id !== S.closedView) S.closedView = null;
  document.title = `${currentTitle()} - ${state.team.name} - Slack`;
  renderTopbar();
  renderSidebar();
  renderChannel();
  renderThread();
  renderModal();
}

function currentTitle() {
  const c = channelById(S.channel);
  return c ? (c.is_im ? c.name : `#${c.name}`) : "Slack";
}

function readHash() {
  const [channel, ts] = decodeURIComponent(location.hash.slice(1)).split("/");
  if (channel) S.channel = channel;
  S.thread = channel && ts ? { channel, ts } : null;
}

function writeHash() {
  const hash = S.thread ? `${S.channel}/${S.thread.ts}` : S.channel;
  if (location.hash.slice(1) !== hash) history.replaceState(null, "", `#${hash}`);
}

function renderTopbar() {
  const select = $("viewing-as");
  const sig = JSON.stringify([people(), S.as]);
  if (select.dataset.sig !== sig) {
    select.dataset.sig = sig;
    select.replaceChildren(...people().map((p) => h("option", { value: p.id }, p.real_name || p.name)));
    select.value = S.as;
    $("me-avatar").replaceChildren(avatar(S.as, 20));
  }
  $("search-label").textContent = `Search ${S.state.team.name}`;
}

function renderSidebar() {
  $("workspace-name").textContent = S.state.team.name;
  const channels = S.state.channels.filter((c) => !c.is_im);
  const dms = S.state.channels.filter((c) => c.is_im);
  const link = (c) => {
    const current = c.id === S.channel;
    const label = c.is_im
      ? [h("span", { class: "sidebar-dm-avatar" }, avatar(S.state.app.bot_user_id, 20)), h("span", { class: "sidebar-name" }, c.name),
        h("span", { class: "app-badge app-badge-dark", "aria-hidden": "true" }, "APP")]
      : [h("span", { class: "hash", "aria-hidden": "true" }, "#"), h("span", { class: "sidebar-name" }, c.name)];
    return h("li", {}, h("a", {
      href: `#${c.id}`, class: `sidebar-item${current ? " is-active" : ""}`, "aria-current": current ? "page" : null,
      "aria-label": c.is_im ? c.name : `#${c.name}`,
    }, label));
  };
  const section = (title, list) => h("div", { class: "sidebar-section" },
    h("div", { class: "sidebar-section-title" }, h("span", { class: "caret", "aria-hidden": "true" }, "▾"), title),
    h("ul", { class: "sidebar-list" }, list.map(link)));
  const body = $("sidebar-body");
  const sig = JSON.stringify([S.state.channels, S.channel]);
  if (body.dataset.sig === sig) return;
  body.dataset.sig = sig;
  body.replaceChildren(
    h("ul", { class: "sidebar-list sidebar-top", "aria-hidden": "true" },
      h("li", {}, h("span", { class: "sidebar-item muted" }, h("span", { class: "hash" }, "💬"), "Threads")),
      h("li", {}, h("span", { class: "sidebar-item muted" }, h("span", { class: "hash" }, "@"), "Mentions & reactions"))),
    section("Channels", channels),
    section("Direct messages", dms));
}

// ---------------------------------------------------------------- channel

function renderChannel() {
  const c = channelById(S.channel);
  if (!c) return;
  renderChannelHeader(c);
  const home = c.is_im && S.tab === "home";
  $("messages").hidden = home;
  $("composer-wrap").hidden = home;
  $("home-panel").hidden = !home;
  if (home) renderHome();
  else renderMessageList(c);
  renderComposer($("composer-wrap"), { channel: c.id, thread_ts: null, label: c.is_im ? `Message ${c.name}` : `Message #${c.name}` });
}

function renderChannelHeader(c) {
  const header = $("channel-header");
  const tabs = $("channel-tabs");
  const sig = JSON.stringify([c, S.tab, people().length]);
  if (header.dataset.sig === sig) return;
  header.dataset.sig = sig;
  if (c.is_im) {
    header.replaceChildren(
      h("h1", { class: "channel-title" }, avatar(S.state.app.bot_user_id, 24), h("span", {}, c.name),
        h("span", { class: "app-badge", "aria-hidden": "true" }, "APP")));
    const tab = (id, label) => h("button", {
      type: "button", role: "tab", class: "channel-tab", id: `tab-${id}`,
      "aria-selected": String(S.tab === id), "aria-controls": id === "home" ? "home-panel" : "messages",
      onclick: () => selectTab(id),
    }, label);
    tabs.replaceChildren(tab("home", "Home"), tab("messages", "Messages"), h("span", { class: "channel-tab muted", "aria-hidden": "true" }, "About"));
    tabs.hidden = false;
    $("home-panel").setAttribute("aria-labelledby", "tab-home");
  } else {
    header.replaceChildren(
      h("h1", { class: "channel-title" }, h("span", { class: "hash", "aria-hidden": "true" }, "#"), h("span", {}, c.name),
        h("span", { class: "chev", "aria-hidden": "true" }, "⌄")),
      h("div", { class: "channel-members", "aria-label": `${people().length + 1} members` },
        people().slice(0, 3).map((p) => avatar(p.id, 20)), h("span", { class: "member-count" }, String(people().length + 1))));
    tabs.hidden = true;
    tabs.replaceChildren();
  }
}

function selectTab(tab) {
  S.tab = tab;
  if (tab === "home" && S.homeOpenedFor !== S.as) {
    S.homeOpenedFor = S.as;
    api("/playground/home", {}).then(refresh);
  }
  renderChannel();
}

/** Messages, this person's ephemerals and the page's own notes for one conversation. */
function channelItems(channelId, threadTs) {
  const list = threadTs
    ? (S.state.threads[`${channelId}/${threadTs}`] ?? [])
    : (S.state.messages[channelId] ?? []);
  const items = list.map((m) => ({ kind: "message", ts: m.ts, msg: m }));
  const mine = [...S.state.ephemerals, ...S.local].filter((e) =>
    e.channel === channelId && (e.thread_ts || null) === (threadTs || null) && !S.dismissed.has(ephemeralKey(e)));
  for (const e of mine) items.push({ kind: "ephemeral", ts: e.ts, msg: e });
  return items.sort((a, b) => parseFloat(a.ts) - parseFloat(b.ts));
}

const ephemeralKey = (e) => `${e.channel}:${e.ts}`;

function senderOf(msg, kind) {
  if (kind === "ephemeral") return msg.user === "USLACKBOT" ? "USLACKBOT" : S.state.app.bot_user_id;
  if (msg.bot_id || isApp(msg.user)) return S.state.app.bot_user_id;
  return msg.user;
}

/** Items with their signatures; consecutive messages by one sender collapse, as in Slack. */
function withLayout(items, { thread }) {
  const out = [];
  let prev = null;
  let lastDay = null;
  const namesSig = JSON.stringify(people());
  for (const item of items) {
    const day = tsDate(item.ts).toDateString();
    if (!thread && day !== lastDay) {
      out.push({ key: `day-${day}`, sig: dayText(item.ts), render: () => dayDivider(item.ts) });
      prev = null;
    }
    lastDay = day;
    const sender = senderOf(item.msg, item.kind);
    const compact = prev && prev.sender === sender && prev.kind === "message" && item.kind === "message"
      && !item.msg.blocks?.length && parseFloat(item.ts) - parseFloat(prev.ts) < 300
      && !(prev.msg.reply_count > 0);
    const key = `${item.kind}-${item.ts}`;
    const replies = thread ? 0 : replyInfo(item);
    const sig = JSON.stringify([item.msg, compact, replies, namesSig, S.as]);
    out.push({ key, sig, render: () => renderMessage(item, { compact, sender, thread, replies }) });
    prev = { ...item, sender };
  }
  return out;
}

function replyInfo(item) {
  if (item.kind !== "message") return null;
  const replies = S.state.threads[`${S.channel}/${item.ts}`] ?? [];
  const count = item.msg.reply_count ?? replies.length;
  if (!count) return null;
  const who = [...new Set(replies.map((r) => senderOf(r, "message")))].slice(0, 4);
  return { count, who, last: replies.at(-1)?.ts ?? null };
}

function dayDivider(ts) {
  return h("div", { class: "day-divider", role: "separator" }, h("span", {}, dayText(ts)));
}

function renderMessageList(c) {
  const inner = $("messages-inner");
  const scroller = $("messages");
  const channelChanged = inner.dataset.channel !== c.id;
  inner.dataset.channel = c.id;
  const items = withLayout(channelItems(c.id, null), { thread: false });
  const intro = { key: `intro-${c.id}`, sig: JSON.stringify([c, people().length]), render: () => channelIntro(c) };
  reconcile(inner, [intro, ...items], (item) => item.render());
  if (channelChanged) toBottom(scroller);
}

function channelIntro(c) {
  if (c.is_im) {
    return h("div", { class: "channel-intro" }, h("div", { class: "intro-avatar" }, avatar(S.state.app.bot_user_id, 72)),
      h("h2", {}, c.name, h("span", { class: "app-badge" }, "APP")),
      h("p", {}, "This is the very beginning of your direct message history with ", h("b", {}, c.name),
        ". It sends you a note here when a video you asked for is ready."));
  }
  return h("div", { class: "channel-intro" },
    h("h2", {}, `# ${c.name}`),
    h("p", {}, "This is the very beginning of the ", h("span", { class: "mention" }, `#${c.name}`),
      " channel. Type ", h("code", {}, "/heygen Hello team"), " below to make an avatar video."));
}

// ---------------------------------------------------------------- one message

function renderMessage(item, { compact, sender, thread, replies }) {
  const { msg, kind } = item;
  const ephemeral = kind === "ephemeral";
  const name = ephemeral && sender === "USLACKBOT" ? "Slackbot"
    : sender === S.state.app.bot_user_id ? (msg.username || S.state.app.name) : (userName(sender) ?? msg.username ?? sender);
  const app = sender === S.state.app.bot_user_id;
  const nameId = `author-${kind}-${msg.ts.replace(".", "-")}-${thread ? "t" : "c"}`;
  const el = h("div", {
    role: "article", class: `msg${compact ? " is-compact" : ""}${ephemeral ? " is-ephemeral" : ""}`,
    "aria-labelledby": compact ? null : nameId, "aria-label": compact ? name : null,
    tabindex: "-1", dataset: { ts: msg.ts },
  });
  if (ephemeral) {
    el.append(h("div", { class: "ephemeral-note" }, h("span", { class: "eye", "aria-hidden": "true", html: EYE_ICON }), "Only visible to you"));
  }
  const gutter = h("div", { class: "msg-gutter" });
  if (compact) gutter.append(h("time", { class: "msg-hover-time", datetime: tsDate(msg.ts).toISOString(), title: fullTime(msg.ts) }, timeText(msg.ts).replace(/\s?[AP]M$/i, "")));
  else gutter.append(avatar(sender, 36));
  const content = h("div", { class: "msg-content" });
  if (!compact) {
    content.append(h("div", { class: "msg-header" },
      h("span", { class: "msg-author", id: nameId }, name),
      app ? h("span", { class: "app-badge" }, "APP") : null,
      h("time", { class: "msg-time", datetime: tsDate(msg.ts).toISOString(), title: fullTime(msg.ts) }, timeText(msg.ts))));
  }
  content.append(messageBody(item, thread));
  if (msg.files?.length) content.append(h("div", { class: "msg-files" }, msg.files.map(renderFile)));
  if (replies) content.append(threadSummary(msg, replies));
  if (ephemeral) {
    content.append(h("button", { type: "button", class: "link-button dismiss", onclick: () => dismiss(msg) }, "Dismiss message"));
  }
  el.append(h("div", { class: "msg-row" }, gutter, content));
  if (!ephemeral) el.append(messageToolbar(msg, thread));
  return el;
}

const EYE_ICON = `<svg viewBox="0 0 20 20" width="14" height="14"><path fill="currentColor" d="M10 4C5.5 4 2.2 7.2 1 10c1.2 2.8 4.5 6 9 6s7.8-3.2 9-6c-1.2-2.8-4.5-6-9-6zm0 10a4 4 0 110-8 4 4 0 010 8zm0-6a2 2 0 100 4 2 2 0 000-4z"/></svg>`;

function messageBody(item, inThread) {
  const { msg, kind } = item;
  const body = h("div", { class: "msg-body" });
  if (msg.blocks?.length) {
    const ctx = blockContext({ kind, msg, inThread });
    body.append(h("div", { class: "bk-blocks" }, msg.blocks.map((b, i) => renderBlock(b, i, ctx))));
  } else if (msg.text) {
    body.append(h("div", { class: "msg-text", html: mrkdwn(msg.text, md) }));
  }
  if (msg.edited) {
    // Slack writes "(edited)" right after the message's last words.
    const texts = body.querySelectorAll(".msg-text, .bk-text, .rt-section, .rt-quote, .bk-context-text");
    (texts[texts.length - 1] ?? body).append(h("span", { class: "edited" }, " (edited)"));
  }
  return body;
}

function renderFile(file) {
  const type = file.mimetype || "";
  const title = file.title || file.name;
  const head = h("div", { class: "file-head" }, h("span", { class: "file-title" }, title),
    h("a", { class: "file-download", href: file.url, download: file.name, "aria-label": `Download ${file.name}` }, "⤓"));
  if (type.startsWith("video/")) {
    // "#t=0.1": the browser shows a frame of the video, not a black box, before it plays.
    const video = h("video", { class: "file-video", controls: true, preload: "metadata", src: `${file.url}#t=0.1`, "aria-label": title });
    if (file.thumb_url) video.poster = file.thumb_url;
    return h("div", { class: "file file-media" }, head, video);
  }
  if (type.startsWith("image/")) {
    return h("div", { class: "file file-media" }, head,
      h("a", { href: file.url, target: "_blank", rel: "noopener noreferrer" },
        h("img", { class: "file-image", src: file.thumb_url || file.url, alt: title })));
  }
  return h("a", { class: "file file-card", href: file.url, download: file.name },
    h("span", { class: "file-icon", "aria-hidden": "true" }, "📄"),
    h("span", {}, h("span", { class: "file-title" }, title), h("span", { class: "file-type" }, type || "File")));
}

function threadSummary(msg, replies) {
  const open = () => openThread(S.channel, msg.ts);
  return h("div", { class: "thread-summary" },
    h("span", { class: "thread-faces", "aria-hidden": "true" }, replies.who.map((id) => avatar(id, 24))),
    h("button", { type: "button", class: "thread-link", onclick: open },
      `${replies.count} ${replies.count === 1 ? "reply" : "replies"}`),
    replies.last ? h("span", { class: "thread-last" }, `Last reply ${dayText(replies.last).toLowerCase() === "today" ? "today" : dayText(replies.last)} at ${timeText(replies.last)}`) : null,
    h("span", { class: "thread-view", "aria-hidden": "true" }, "View thread ›"));
}

function messageToolbar(msg, inThread) {
  const bar = h("div", { class: "msg-toolbar", role: "toolbar", "aria-label": "Message actions" });
  if (!inThread) {
    bar.append(h("button", { type: "button", class: "tool", "aria-label": "Reply in thread", title: "Reply in thread",
      onclick: () => openThread(S.channel, msg.ts) }, "💬"));
  }
  bar.append(h("button", {
    type: "button", class: "tool", "aria-label": "More actions", title: "More actions", "aria-haspopup": "menu",
    onclick: (ev) => openMessageMenu(ev.currentTarget, msg, inThread),
  }, "⋮"));
  return bar;
}

function dismiss(msg) {
  S.dismissed.add(ephemeralKey(msg));
  sessionStorage.setItem("playground.dismissed", JSON.stringify([...S.dismissed]));
  renderChannel();
  renderThread();
}

// ---------------------------------------------------------------- menus

let openMenu = null;

/** A popup menu anchored to `anchor`; one at a time; Escape or a click elsewhere closes it. */
function showMenu(anchor, label, entries, { above = false } = {}) {
  closeMenu();
  const menu = h("div", { class: "popup-menu", role: "menu", "aria-label": label });
  for (const entry of entries) {
    if (entry.heading) { menu.append(h("div", { class: "menu-heading", role: "presentation" }, entry.heading)); continue; }
    menu.append(h("button", {
      type: "button", role: "menuitem", class: "menu-item",
      onclick: () => { closeMenu(); entry.run(); },
    }, h("span", { class: "menu-item-name" }, entry.name), entry.hint ? h("span", { class: "menu-item-hint" }, entry.hint) : null));
  }
  if (!entries.some((e) => !e.heading)) menu.append(h("div", { class: "menu-heading" }, "Nothing here"));
  $("menu-root").append(menu);
  const r = anchor.getBoundingClientRect();
  const width = 300;
  menu.style.left = `${Math.max(8, Math.min(r.right - width, window.innerWidth - width - 8))}px`;
  const height = menu.offsetHeight;
  if (above || r.bottom + 4 + height > window.innerHeight - 8) menu.style.bottom = `${window.innerHeight - r.top + 6}px`;
  else menu.style.top = `${r.bottom + 4}px`;
  anchor.setAttribute("aria-expanded", "true");
  openMenu = { menu, anchor };
  menu.querySelector("[role=menuitem]")?.focus();
}

function closeMenu() {
  if (!openMenu) return;
  openMenu.anchor.setAttribute("aria-expanded", "false");
  openMenu.menu.remove();
  openMenu = null;
}

document.addEventListener("mousedown", (ev) => {
  if (openMenu && !openMenu.menu.contains(ev.target) && !openMenu.anchor.contains(ev.target)) closeMenu();
  for (const m of document.querySelectorAll(".bk-overflow-menu:not([hidden])")) {
    if (!m.parentElement.contains(ev.target)) { m.hidden = true; m.previousElementSibling?.setAttribute("aria-expanded", "false"); }
  }
});
document.addEventListener("keydown", (ev) => {
  if (ev.key === "Escape" && openMenu) { const a = openMenu.anchor; closeMenu(); a.focus(); }
  if (openMenu && (ev.key === "ArrowDown" || ev.key === "ArrowUp")) {
    const items = [...openMenu.menu.querySelectorAll("[role=menuitem]")];
    const i = items.indexOf(document.activeElement);
    items[(i + (ev.key === "ArrowDown" ? 1 : items.length - 1)) % items.length]?.focus();
    ev.preventDefault();
  }
});

function openMessageMenu(anchor, msg, inThread) {
  const shortcuts = (S.state.shortcuts ?? []).filter((s) => s.type === "message");
  const entries = [];
  if (!inThread) entries.push({ name: "Reply in thread", run: () => openThread(S.channel, msg.ts) });
  entries.push({ name: "Copy text", run: () => navigator.clipboard?.writeText(msg.text ?? "") });
  if (shortcuts.length) {
    entries.push({ heading: "Message shortcuts" });
    for (const s of shortcuts) {
      entries.push({ name: s.name, hint: S.state.app.name, run: () => messageShortcut(s, msg, inThread) });
    }
  }
  showMenu(anchor, "More actions", entries);
}

async function messageShortcut(shortcut, msg, inThread) {
  S.modalChannel = S.channel;
  const answer = await api("/playground/interact", {
    type: "message_action", callback_id: shortcut.callback_id, channel: S.channel, message_ts: msg.ts,
    thread_ts: shownInThread(msg, inThread),
  });
  if (!answer.ok) toast(answer.error ?? "The app did not answer");
  refresh();
}

/**
 * The thread a message was acted on in (the thread panel), if any: Slack shows the app's
 * private answer there, and in the channel when the person acted in the channel.
 */
function shownInThread(msg, inThread) {
  return inThread ? (msg.thread_ts ?? msg.ts) : undefined;
}

// ---------------------------------------------------------------- thread

function openThread(channel, ts) {
  S.channel = channel;
  S.thread = { channel, ts };
  writeHash();
  renderChannel();
  renderThread();
  $("thread-panel").querySelector("textarea")?.focus();
}

function closeThread() {
  S.thread = null;
  writeHash();
  renderThread();
}

function renderThread() {
  const panel = $("thread-panel");
  const t = S.thread;
  const parent = t && (S.state.messages[t.channel] ?? []).find((m) => m.ts === t.ts);
  if (!t || !parent || t.channel !== S.channel) {
    panel.hidden = true;
    panel.replaceChildren();
    delete panel.dataset.key;
    return;
  }
  panel.hidden = false;
  const c = channelById(t.channel);
  const key = `${t.channel}/${t.ts}`;
  if (panel.dataset.key !== key) {
    panel.dataset.key = key;
    panel.replaceChildren(
      h("header", { class: "thread-header" },
        h("div", {}, h("h2", {}, "Thread"), h("span", { class: "thread-where" }, c.is_im ? c.name : `# ${c.name}`)),
        h("button", { type: "button", class: "icon-button", "aria-label": "Close thread", onclick: closeThread }, "✕")),
      h("div", { class: "thread-scroll" }, h("div", { class: "thread-content" },
        h("div", { class: "thread-parent" }), h("div", { class: "thread-count" }), h("div", { class: "thread-replies" }))),
      h("div", { class: "thread-composer" }));
    stickToBottom(panel.querySelector(".thread-scroll"), panel.querySelector(".thread-content"));
  }
  const parentItem = { kind: "message", ts: parent.ts, msg: parent };
  reconcile(panel.querySelector(".thread-parent"), [{
    key: `p-${parent.ts}`, sig: JSON.stringify([parent, people(), S.as]),
    render: () => renderMessage(parentItem, { compact: false, sender: senderOf(parent, "message"), thread: true, replies: null }),
  }], (item) => item.render());
  const items = channelItems(t.channel, t.ts);
  const count = items.filter((i) => i.kind === "message").length;
  panel.querySelector(".thread-count").replaceChildren(count
    ? h("div", { class: "replies-divider" }, h("span", {}, `${count} ${count === 1 ? "reply" : "replies"}`))
    : h("div", { class: "replies-divider" }));
  reconcile(panel.querySelector(".thread-replies"), withLayout(items, { thread: true }), (item) => item.render());
  renderComposer(panel.querySelector(".thread-composer"), { channel: t.channel, thread_ts: t.ts, label: "Reply in thread", placeholder: "Reply…" });
}

// ---------------------------------------------------------------- composer

function renderComposer(wrap, target) {
  const key = `${target.channel}/${target.thread_ts ?? ""}`;
  if (wrap.dataset.key === key) return;
  if (wrap.dataset.key) S.drafts.set(wrap.dataset.key, wrap.querySelector("textarea")?.value ?? "");
  wrap.dataset.key = key;
  const placeholder = target.placeholder ?? target.label;
  const textarea = h("textarea", { class: "composer-input", rows: "1", "aria-label": target.label, placeholder, spellcheck: "true" });
  textarea.value = S.drafts.get(key) ?? "";
  const slash = h("div", { class: "slash-menu", role: "listbox", "aria-label": "Slash commands", hidden: true });
  const send = h("button", { type: "button", class: "send-button", "aria-label": "Send now", title: "Send now", html: SEND_ICON });
  const shortcuts = h("button", {
    type: "button", class: "tool composer-tool", "aria-label": "Shortcuts", title: "Shortcuts", "aria-haspopup": "menu",
    onclick: (ev) => openShortcutsMenu(ev.currentTarget, target),
  }, "⚡");
  const box = h("div", { class: "composer" }, slash, textarea,
    h("div", { class: "composer-toolbar" },
      h("span", { class: "composer-tools" }, shortcuts,
        h("span", { class: "tool muted", "aria-hidden": "true" }, h("b", {}, "B")),
        h("span", { class: "tool muted", "aria-hidden": "true" }, h("i", {}, "I")),
        h("span", { class: "tool muted", "aria-hidden": "true" }, "🔗"),
        h("span", { class: "tool muted", "aria-hidden": "true" }, "@")),
      send));
  wrap.replaceChildren(box);
  const state = { active: 0, matches: [] };
  const submit = async () => {
    const text = textarea.value;
    if (!text.trim()) return;
    textarea.value = "";
    hideSlash();
    autosize(textarea);
    S.drafts.set(key, "");
    await sendMessage(target, text);
  };
  const hideSlash = () => { slash.hidden = true; state.matches = []; textarea.removeAttribute("aria-activedescendant"); };
  const pick = (cmd) => { textarea.value = `${cmd.command} `; hideSlash(); textarea.focus(); };
  const showSlash = () => {
    const m = /^(\/\S*)$/.exec(textarea.value);
    if (!m) return hideSlash();
    state.matches = (S.state.commands ?? []).filter((c) => c.command.startsWith(m[1]));
    if (!state.matches.length) return hideSlash();
    state.active = Math.min(state.active, state.matches.length - 1);
    slash.replaceChildren(h("div", { class: "menu-heading" }, "Commands matching ", h("b", {}, m[1])),
      ...state.matches.map((c, i) => h("div", {
        role: "option", id: `slash-${key}-${i}`.replace(/[^\w-]/g, "_"), class: `slash-item${i === state.active ? " is-active" : ""}`,
        "aria-selected": String(i === state.active),
        onmousedown: (ev) => { ev.preventDefault(); pick(c); },
      }, h("span", { class: "slash-command" }, c.command), c.usage_hint ? h("span", { class: "slash-hint" }, c.usage_hint) : null,
      h("span", { class: "slash-desc" }, c.description ?? ""), h("span", { class: "slash-app" }, S.state.app.name))));
    slash.hidden = false;
  };
  textarea.addEventListener("input", () => { S.drafts.set(key, textarea.value); autosize(textarea); showSlash(); });
  textarea.addEventListener("blur", () => setTimeout(hideSlash, 100));
  textarea.addEventListener("keydown", (ev) => {
    if (!slash.hidden && state.matches.length) {
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        state.active = (state.active + (ev.key === "ArrowDown" ? 1 : state.matches.length - 1)) % state.matches.length;
        return showSlash();
      }
      if (ev.key === "Tab" || (ev.key === "Enter" && !ev.shiftKey && textarea.value.trim() !== state.matches[state.active].command)) {
        ev.preventDefault();
        return pick(state.matches[state.active]);
      }
      if (ev.key === "Escape") { ev.preventDefault(); return hideSlash(); }
    }
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); submit(); }
  });
  send.addEventListener("click", submit);
  autosize(textarea);
}

const SEND_ICON = `<svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true"><path fill="currentColor" d="M2.5 2.2l15.6 7.3c.4.2.4.8 0 1L2.5 17.8c-.5.2-1-.2-.9-.7L3 11l8-1-8-1-1.4-6.1c-.1-.5.4-.9.9-.7z"/></svg>`;

function autosize(textarea) {
  textarea.style.height = "auto";
  textarea.style.height = `${Math.min(textarea.scrollHeight, 240)}px`;
}

/** Slack's client escapes &, < and > in what a person types; commands go as typed. */
function slackEscape(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

async function sendMessage(target, text) {
  const command = text.startsWith("/");
  toBottom(target.thread_ts ? $("thread-panel").querySelector(".thread-scroll") : $("messages"));
  if (command) S.modalChannel = target.channel;
  const answer = await api("/playground/send", {
    channel: target.channel, thread_ts: target.thread_ts ?? undefined,
    text: command ? text.trim() : slackEscape(text),
  });
  if (!answer.ok) {
    S.local.push({
      channel: target.channel, thread_ts: target.thread_ts, ts: `${Date.now() / 1000}`, user: "USLACKBOT",
      text: slackEscape(answer.error ?? "Something went wrong."),
    });
    renderChannel();
    renderThread();
  }
  refresh();
}

function openShortcutsMenu(anchor, target) {
  const shortcuts = (S.state.shortcuts ?? []).filter((s) => s.type === "global");
  const entries = [{ heading: S.state.app.name }];
  for (const s of shortcuts) entries.push({ name: s.name, hint: s.description, run: () => globalShortcut(s, target) });
  showMenu(anchor, "Shortcuts", entries, { above: true });
}

async function globalShortcut(shortcut) {
  S.modalChannel = null;
  const answer = await api("/playground/interact", { type: "shortcut", callback_id: shortcut.callback_id });
  if (!answer.ok) toast(answer.error ?? "The app did not answer");
  refresh();
}

// ---------------------------------------------------------------- Block Kit context

/** Values typed into one view (modal or Home), kept across re-renders in Slack's shape. */
function valueStore(viewId) {
  if (!S.viewValues.has(viewId)) S.viewValues.set(viewId, {});
  const values = S.viewValues.get(viewId);
  return {
    values,
    get: (b, a) => values[b]?.[a],
    set: (b, a, v) => { (values[b] ??= {})[a] = v; },
  };
}

const messageValues = new Map();

/** Where a Block Kit surface's actions go: a message, an ephemeral, a modal or Home. */
function blockContext(surface) {
  let store;
  let container;
  if (surface.view) {
    store = valueStore(surface.view.id);
    container = { view_id: surface.view.id };
  } else {
    const key = `${surface.kind}:${surface.msg.ts}`;
    if (!messageValues.has(key)) messageValues.set(key, {});
    const values = messageValues.get(key);
    store = { values, get: (b, a) => values[b]?.[a], set: (b, a, v) => { (values[b] ??= {})[a] = v; } };
    container = surface.kind === "ephemeral"
      ? { channel: surface.msg.channel, message_ts: surface.msg.ts, ephemeral: true }
      : { channel: S.channel, message_ts: surface.msg.ts, thread_ts: shownInThread(surface.msg, surface.inThread) };
  }
  return {
    userName, channelName,
    people: people(),
    channels: S.state.channels,
    currentChannel: surface.view ? S.modalChannel : S.channel,
    values: store,
    errors: surface.view ? S.viewErrors.get(surface.view.id) ?? {} : {},
    confirm: confirmDialog,
    onAction: async (action) => {
      const body = { type: "block_actions", ...container, action };
      if (surface.view) body.state = { values: store.values };
      // A modal opened from a message defaults to its conversation; from Home, to none.
      if (!surface.view) S.modalChannel = S.channel;
      else if (surface.view.id === S.state.home?.id) S.modalChannel = null;
      const answer = await api("/playground/interact", body);
      if (!answer.ok) toast(answer.error ?? "The app did not answer");
      refresh();
    },
    suggest: async (blockId, actionId, value) => {
      const answer = await api("/playground/interact", { type: "block_suggestion", ...container, block_id: blockId, action_id: actionId, value });
      if (!answer.ok) throw new Error(answer.error);
      return answer;
    },
  };
}

// ---------------------------------------------------------------- App Home

function renderHome() {
  const panel = $("home-panel");
  const home = S.state.home;
  if (!home) {
    panel.dataset.view = "";
    panel.replaceChildren(h("div", { class: "home-empty" }, "Loading the app's Home…"));
    return;
  }
  let blocks = panel.querySelector(".home-blocks");
  if (panel.dataset.view !== home.id || !blocks) {
    panel.dataset.view = home.id;
    blocks = h("div", { class: "home-blocks bk-blocks" });
    panel.replaceChildren(h("div", { class: "home-inner" }, blocks));
  }
  const ctx = blockContext({ view: home });
  reconcile(blocks, (home.view.blocks ?? []).map((b, i) => ({
    key: blockKey(b, i), sig: JSON.stringify([b, people()]), render: () => renderBlock(b, i, ctx),
  })), (item) => item.render());
}

// ---------------------------------------------------------------- modal

function renderModal() {
  const root = $("modal-root");
  const modal = S.state.modal;
  if (!modal || modal.id === S.closedView) {
    if (root.firstChild) { root.replaceChildren(); restoreFocus(); }
    return;
  }
  const view = modal.view;
  let dialog = root.querySelector("[role=dialog]");
  if (!dialog || dialog.dataset.view !== modal.id) {
    const first = !dialog;
    root.replaceChildren(buildModal(modal));
    dialog = root.querySelector("[role=dialog]");
    if (first) lastFocus = document.activeElement;
  }
  const sig = JSON.stringify([view.title, view.submit, view.close, modal.stack_depth]);
  if (dialog.dataset.sig !== sig) {
    dialog.dataset.sig = sig;
    dialog.querySelector(".modal-title").innerHTML = textObjectHtml(view.title);
    const submit = dialog.querySelector(".modal-submit");
    submit.hidden = !view.submit;
    submit.innerHTML = textObjectHtml(view.submit ?? { type: "plain_text", text: "Submit" });
    dialog.querySelector(".modal-close").innerHTML = textObjectHtml(view.close ?? { type: "plain_text", text: view.submit ? "Cancel" : "Close" });
    dialog.querySelector(".modal-back").hidden = !(modal.stack_depth > 1);
  }
  const errors = S.viewErrors.get(modal.id) ?? {};
  const ctx = blockContext({ view: modal });
  const blocksEl = dialog.querySelector(".modal-blocks");
  const focus = focusedControl(blocksEl);
  const fresh = !blocksEl.firstChild;
  reconcile(blocksEl, (view.blocks ?? []).map((b, i) => {
    const key = blockKey(b, i);
    return { key, sig: JSON.stringify([b, errors[key] ?? null, S.modalChannel]), render: () => renderBlock(b, i, ctx) };
  }), (item) => item.render());
  if (focus && !blocksEl.contains(document.activeElement)) restoreControl(blocksEl, focus);
  if (fresh) dialog.querySelector("input:not([role=combobox]), textarea, [role=combobox]")?.focus({ preventScroll: true });
}

/** Which control of which block has focus, so a re-rendered block gets it back. */
function focusedControl(container) {
  const el = document.activeElement;
  const block = el && container.contains(el) ? el.closest("[data-block-id]") : null;
  if (!block) return null;
  const controls = [...block.querySelectorAll("input, textarea, button, [tabindex]")];
  return { block: block.dataset.blockId, index: controls.indexOf(el), start: el.selectionStart, end: el.selectionEnd };
}

function restoreControl(container, focus) {
  const block = [...container.querySelectorAll("[data-block-id]")].find((b) => b.dataset.blockId === focus.block);
  const el = block?.querySelectorAll("input, textarea, button, [tabindex]")[focus.index];
  if (!el) return;
  el.focus({ preventScroll: true });
  if (typeof focus.start === "number" && el.setSelectionRange) {
    try { el.setSelectionRange(focus.start, focus.end); } catch { /* not a text control */ }
  }
}

let lastFocus = null;
function restoreFocus() {
  // A menu item that opened the modal is gone by now; the composer takes focus instead.
  if (lastFocus && lastFocus !== document.body && document.contains(lastFocus)) lastFocus.focus();
  else document.querySelector(".composer-input")?.focus();
  lastFocus = null;
}

function buildModal(modal) {
  const titleId = `modal-title-${modal.id}`;
  const dialog = h("div", {
    class: "modal", role: "dialog", "aria-modal": "true", "aria-labelledby": titleId, dataset: { view: modal.id },
  },
    h("header", { class: "modal-header" },
      h("span", { class: "modal-app", "aria-hidden": "true" }, avatar(S.state.app.bot_user_id, 24)),
      h("button", { type: "button", class: "icon-button modal-back", "aria-label": "Back", hidden: true, onclick: () => closeModal(modal.id) }, "←"),
      h("h2", { class: "modal-title", id: titleId }),
      h("button", { type: "button", class: "icon-button", "aria-label": "Close", onclick: () => closeModal(modal.id) }, "✕")),
    h("form", { class: "modal-body", novalidate: true, onsubmit: (ev) => { ev.preventDefault(); submitModal(modal.id); } },
      h("div", { class: "modal-blocks bk-blocks" }),
      h("div", { class: "modal-alert", role: "alert", hidden: true })),
    h("footer", { class: "modal-footer" },
      h("button", { type: "button", class: "bk-btn modal-close", onclick: () => closeModal(modal.id) }),
      h("button", { type: "button", class: "bk-btn bk-btn-primary modal-submit", onclick: () => submitModal(modal.id) })));
  dialog.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !ev.defaultPrevented && !$("confirm-root").firstChild) { ev.preventDefault(); closeModal(modal.id); }
  });
  return h("div", { class: "modal-overlay" }, dialog);
}

async function closeModal(viewId) {
  S.closedView = viewId;
  renderModal();
  await api("/playground/interact", { type: "view_closed", view_id: viewId });
  refresh();
}

async function submitModal(viewId) {
  const dialog = $("modal-root").querySelector("[role=dialog]");
  const button = dialog.querySelector(".modal-submit");
  const alert = dialog.querySelector(".modal-alert");
  if (button.disabled) return;
  button.disabled = true;
  button.classList.add("is-busy");
  alert.hidden = true;
  const blocks = (S.state.modal?.view.blocks ?? []).map((b, i) => blockKey(b, i));
  const all = valueStore(viewId).values;
  const values = Object.fromEntries(blocks.filter((b) => all[b]).map((b) => [b, all[b]]));
  try {
    const answer = await api("/playground/interact", { type: "view_submission", view_id: viewId, values });
    if (!answer.ok) {
      alert.textContent = `We had some trouble connecting: ${answer.error ?? "no answer"}. Try again?`;
      alert.hidden = false;
    } else if (answer.response_action === "errors") {
      S.viewErrors.set(viewId, answer.errors ?? {});
      renderModal();
      dialog.querySelector(".has-error input, .has-error textarea")?.focus();
    } else {
      S.viewErrors.delete(viewId);
    }
  } finally {
    button.disabled = false;
    button.classList.remove("is-busy");
  }
  refresh();
}

// ---------------------------------------------------------------- confirm dialog

/** Slack's confirm object → an alertdialog; resolves true when the person confirms. */
function confirmDialog(confirm) {
  return new Promise((resolve) => {
    const root = $("confirm-root");
    const back = document.activeElement;
    const done = (yes) => { root.replaceChildren(); back?.focus?.(); resolve(yes); };
    const titleId = "confirm-title";
    const textId = "confirm-text";
    const yes = h("button", {
      type: "button", class: `bk-btn ${confirm.style === "danger" ? "bk-btn-danger" : "bk-btn-primary"}`,
      html: textObjectHtml(confirm.confirm ?? { type: "plain_text", text: "Yes" }), onclick: () => done(true),
    });
    const no = h("button", {
      type: "button", class: "bk-btn", html: textObjectHtml(confirm.deny ?? { type: "plain_text", text: "Cancel" }),
      onclick: () => done(false),
    });
    const box = h("div", { class: "modal confirm", role: "alertdialog", "aria-modal": "true", "aria-labelledby": titleId, "aria-describedby": textId },
      h("header", { class: "modal-header" }, h("h2", { class: "modal-title", id: titleId, html: textObjectHtml(confirm.title ?? { type: "plain_text", text: "Are you sure?" }) })),
      h("div", { class: "modal-body", id: textId, html: textObjectHtml(confirm.text, md) }),
      h("footer", { class: "modal-footer" }, no, yes));
    box.addEventListener("keydown", (ev) => { if (ev.key === "Escape") { ev.preventDefault(); ev.stopPropagation(); done(false); } });
    root.replaceChildren(h("div", { class: "modal-overlay confirm-overlay" }, box));
    yes.focus();
  });
}

// ---------------------------------------------------------------- toasts

function toast(text) {
  const note = h("div", { class: "toast" }, text);
  $("toast-root").append(note);
  setTimeout(() => note.remove(), 6000);
}

// ---------------------------------------------------------------- wiring

window.addEventListener("hashchange", () => {
  const before = S.channel;
  readHash();
  if (S.channel !== before) S.tab = "messages";
  if (S.state) {
    renderSidebar();
    renderChannel();
    renderThread();
    document.title = `${currentTitle()} - ${S.state.team.name} - Slack`;
  }
});

$("viewing-as").addEventListener("change", (ev) => {
  S.as = ev.target.value;
  localStorage.setItem("playground.as", S.as);
  S.local = [];
  S.homeOpenedFor = null;
  if (S.tab === "home") selectTab("home");
  $("me-avatar").replaceChildren(avatar(S.as, 20));
  refresh();
});

document.addEventListener("click", (ev) => {
  const link = ev.target.closest?.("a.channel-link");
  if (link) { ev.preventDefault(); location.hash = link.dataset.channel; return; }
  const hash = permalinkHash(ev.target.closest?.("a[href]")?.href);
  if (hash && !ev.ctrlKey && !ev.metaKey && !ev.shiftKey) { ev.preventDefault(); location.hash = hash; }
});

/** A permalink to this workspace (`/archives/C…/p…?thread_ts=…`) opens here, as in Slack. */
function permalinkHash(href) {
  if (!href) return null;
  const url = new URL(href, location.href);
  const found = /^\/archives\/([A-Z0-9]+)\/p(\d+)(\d{6})$/.exec(url.pathname);
  if (url.origin !== location.origin || !found) return null;
  const [, channel, seconds, micros] = found;
  const ts = `${seconds}.${micros}`;
  // A reply opens its thread; so does a message with replies ("ready in the thread").
  const thread = url.searchParams.get("thread_ts")
    ?? ((S.state?.messages[channel] ?? []).some((m) => m.ts === ts && m.reply_count) ? ts : null);
  return thread ? `${channel}/${thread}` : channel;
}

stickToBottom($("messages"), $("messages-inner"));
refresh().then(listen);

// Exposed for debugging in the console; the page itself never reads it.
window.playground = { S, refresh, escapeHtml, plainHtml };
