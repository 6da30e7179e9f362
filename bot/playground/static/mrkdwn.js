// Slack's mrkdwn → safe HTML. Every character of the input is HTML-escaped; only the markup
// this module writes itself reaches the DOM, so user text can never inject anything.
// Broadcasts (<!here>, <!channel>) are shown highlighted, never acted on.

const EMOJI = {
  alarm_clock: "⏰", clapper: "🎬", frame_with_picture: "🖼️", hourglass: "⌛",
  hourglass_flowing_sand: "⏳", information_source: "ℹ️", link: "🔗", loud_sound: "🔊",
  memory: "📝", moneybag: "💰", movie_camera: "🎥", no_entry_sign: "🚫", scissors: "✂️",
  test_tube: "🧪", warning: "⚠️", white_check_mark: "✅", x: "❌", wave: "👋", tada: "🎉",
  smile: "😄", slightly_smiling_face: "🙂", thumbsup: "👍", "+1": "👍", eyes: "👀",
  heart: "❤️", rocket: "🚀", fire: "🔥", bulb: "💡", sparkles: "✨", zap: "⚡",
  speech_balloon: "💬", lock: "🔒", mag: "🔍", robot_face: "🤖", calendar: "📅",
  heavy_check_mark: "✔️", exclamation: "❗", question: "❓", star: "⭐", clock1: "🕐",
  film_frames: "🎞️", microphone: "🎤", speaker: "🔈", arrow_right: "➡️", gear: "⚙️",
};

const HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escape text for HTML (element content and quoted attributes). */
export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** Undo Slack's own escaping (&amp; &lt; &gt;): the characters the author typed. */
export function unescapeSlack(text) {
  return String(text ?? "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

/** Replace :shortcodes: Slack knows with the emoji; unknown ones stay as typed. */
export function emojify(html) {
  return html.replace(/:([a-z0-9_+-]+):/g, (whole, name) => EMOJI[name] ?? whole);
}

/** Plain text as Slack shows it (plain_text objects): escaped, emoji when asked. */
export function plainHtml(text, emoji = true) {
  const html = escapeHtml(text).replace(/\n/g, "<br>");
  return emoji ? emojify(html) : html;
}

function safeUrl(url) {
  const trimmed = url.trim();
  if (/^(https?:|mailto:|\/)/i.test(trimmed)) return trimmed;
  return null;
}

const DATE_TOKENS = {
  date_num: (d) => d.toISOString().slice(0, 10),
  date: (d) => d.toLocaleDateString(undefined, { month: "long", day: "numeric", year: "numeric" }),
  date_short: (d) => d.toLocaleDateString(undefined, { month: "short", day: "numeric", year: "numeric" }),
  date_long: (d) => d.toLocaleDateString(undefined, {
    weekday: "long", month: "long", day: "numeric", year: "numeric",
  }),
  date_pretty: (d) => prettyDay(d) ?? DATE_TOKENS.date(d),
  date_short_pretty: (d) => prettyDay(d) ?? DATE_TOKENS.date_short(d),
  date_long_pretty: (d) => prettyDay(d) ?? DATE_TOKENS.date_long(d),
  time: (d) => d.toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit" }),
  time_secs: (d) => d.toLocaleTimeString(),
};

function prettyDay(d) {
  const day = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const diff = Math.round((day(new Date()) - day(d)) / 86400000);
  return { 0: "Today", 1: "Yesterday", "-1": "Tomorrow" }[diff] ?? null;
}

function formatDate(spec, fallback) {
  const [, seconds, format] = spec.split("^");
  const when = new Date(Number(seconds) * 1000);
  if (!format || Number.isNaN(when.getTime())) return escapeHtml(fallback || spec);
  const text = format.replace(/\{(\w+)\}/g, (whole, token) =>
    DATE_TOKENS[token] ? DATE_TOKENS[token](when) : whole);
  return `<time datetime="${when.toISOString()}" title="${escapeHtml(when.toString())}">${escapeHtml(text)}</time>`;
}

/** One <…> entity of Slack's markup → HTML. `ctx` knows people and channels. */
function entityHtml(inner, ctx) {
  const bar = inner.indexOf("|");
  const target = unescapeSlack(bar < 0 ? inner : inner.slice(0, bar));
  const label = bar < 0 ? null : unescapeSlack(inner.slice(bar + 1));
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const name = ctx.userName?.(id) ?? label ?? id;
    return `<span class="mention" data-user="${escapeHtml(id)}">@${escapeHtml(name)}</span>`;
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    const name = ctx.channelName?.(id) ?? label ?? id;
    return `<a class="mention channel-link" href="#${escapeHtml(id)}" data-channel="${escapeHtml(id)}">#${escapeHtml(name)}</a>`;
  }
  if (target.startsWith("!")) {
    const [kind] = target.slice(1).split("^");
    if (["here", "channel", "everyone"].includes(kind)) {
      return `<span class="mention broadcast">@${escapeHtml(kind)}</span>`;
    }
    if (kind === "date") return formatDate(target.slice(1), label);
    if (kind === "subteam") return `<span class="mention">${escapeHtml(label ?? "@group")}</span>`;
    return escapeHtml(label ?? `<${target}>`);
  }
  const url = safeUrl(target);
  const shown = escapeHtml(label ?? target);
  if (!url) return shown;
  return `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${shown}</a>`;
}

// Bold, italic and strike follow Slack: the markers hug non-space text and sit at word edges.
const EDGE_BEFORE = "(^|[\\s([{\"'>\u0002])";
const EDGE_AFTER = "(?=$|[\\s)\\]}.,!?;:\"'<&\u0001])";
const STYLES = [
  ["\\*", "b"],
  ["_", "i"],
  ["~", "s"],
];

function styleInline(html) {
  let out = html;
  for (const [mark, tag] of STYLES) {
    const re = new RegExp(`${EDGE_BEFORE}${mark}(?=\\S)([^\\n]*?\\S)${mark}${EDGE_AFTER}`, "g");
    out = out.replace(re, (whole, before, body) => `${before}<${tag}>${body}</${tag}>`);
  }
  return out;
}

/**
 * Render mrkdwn (as Slack receives it: &amp; &lt; &gt; escaped, <…> entities raw) to HTML.
 * ctx: {userName(id) → name|null, channelName(id) → name|null}.
 */
export function mrkdwn(text, ctx = {}) {
  const held = [];
  const hold = (html) => `\u0001${held.push(html) - 1}\u0002`;
  let src = String(text ?? "");
  // Code first: nothing inside it is markup.
  src = src.replace(/```([\s\S]*?)```/g, (whole, body) =>
    hold(`<pre class="code-block">${escapeHtml(unescapeSlack(body.replace(/^\n/, "")))}</pre>`));
  src = src.replace(/`([^`\n]+)`/g, (whole, body) =>
    hold(`<code>${escapeHtml(unescapeSlack(body))}</code>`));
  src = src.replace(/<([^<>\n]+)>/g, (whole, inner) => hold(entityHtml(inner, ctx)));
  // What is left is text: show the characters the author typed, escaped for HTML.
  let html = escapeHtml(unescapeSlack(src));
  html = quoteLines(html);
  html = emojify(styleInline(html));
  html = html.replace(/\n/g, "<br>");
  return html.replace(/\u0001(\d+)\u0002/g, (whole, i) => held[Number(i)]);
}

/** Lines starting with ">" become one blockquote per run of such lines. */
function quoteLines(html) {
  const lines = html.split("\n");
  const out = [];
  let quote = null;
  for (const line of lines) {
    const m = /^&gt;\s?(.*)$/.exec(line);
    if (m) {
      (quote ??= []).push(m[1]);
      continue;
    }
    if (quote) {
      out.push(`<blockquote>${quote.join("\n")}</blockquote>`);
      quote = null;
    }
    out.push(line);
  }
  if (quote) out.push(`<blockquote>${quote.join("\n")}</blockquote>`);
  return out.join("\n").replace(/<\/blockquote>\n/g, "</blockquote>");
}

/** A Block Kit text object (plain_text or mrkdwn) → HTML. */
export function textObjectHtml(obj, ctx = {}) {
  if (!obj) return "";
  if (typeof obj === "string") return plainHtml(obj);
  if (obj.type === "mrkdwn") return obj.verbatim ? plainHtml(unescapeSlack(obj.text), false) : mrkdwn(obj.text, ctx);
  return plainHtml(obj.text, obj.emoji !== false);
}

/** A text object as plain words (for labels and accessible names). */
export function textObjectPlain(obj) {
  if (!obj) return "";
  if (typeof obj === "string") return obj;
  const text = obj.type === "mrkdwn" ? unescapeSlack(obj.text) : obj.text;
  return String(text ?? "").replace(/:([a-z0-9_+-]+):/g, (whole, name) => EMOJI[name] ?? whole);
}
