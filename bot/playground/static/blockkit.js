// Block Kit → DOM, the way Slack draws it, with real roles and labels.
// Values typed into inputs live in ctx.values (Slack's `state.values` shape), not in the DOM,
// so a re-rendered view (views.update) shows what the person already typed.
import { escapeHtml, mrkdwn, plainHtml, textObjectHtml, textObjectPlain } from "./mrkdwn.js";

let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

/** Make an element: h("div", {class: "x", onclick: fn}, child, "text"). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "html") el.innerHTML = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A visible stand-in for what this page cannot draw: never drop content silently. */
function unsupported(kind, type) {
  return h("div", { class: "bk-unknown", role: "note" },
    `Unsupported ${kind}: `, h("code", {}, type ?? "(no type)"));
}

const blockRenderers = {
  section: renderSection,
  header: (b, c) => h("div", { class: "bk-header", role: "heading", "aria-level": "3", html: textObjectHtml(b.text, c) }),
  context: renderContext,
  divider: () => h("hr", { class: "bk-divider" }),
  image: renderImageBlock,
  actions: (b, c) => h("div", { class: "bk-actions" }, (b.elements ?? []).map((e) => renderElement(e, b, c))),
  input: renderInput,
  rich_text: (b, c) => h("div", { class: "bk-rich" }, (b.elements ?? []).map((e) => renderRich(e, c))),
  video: renderVideoBlock,
  file: (b) => h("div", { class: "bk-file" }, "📄 ", b.external_id ?? "File"),
};

/** One block → element; `ctx` carries people, values, errors and the action sender. */
export function renderBlock(block, index, ctx) {
  const blockId = blockKey(block, index);
  const render = blockRenderers[block.type];
  const el = render ? render({ ...block, block_id: blockId }, ctx) : unsupported("block", block.type);
  el.classList.add("bk-block");
  el.dataset.blockId = blockId;
  return el;
}

export function renderBlocks(blocks, ctx) {
  return h("div", { class: "bk-blocks" }, (blocks ?? []).map((b, i) => renderBlock(b, i, ctx)));
}

/** Slack gives every block an id; where the sender left it out, its position stands in. */
export function blockKey(block, index) {
  return block.block_id ?? `_b${index}`;
}

function mdctx(ctx) {
  return { userName: ctx.userName, channelName: ctx.channelName };
}

function renderSection(block, ctx) {
  const body = h("div", { class: "bk-section-body" });
  if (block.text) body.append(h("div", { class: "bk-text", html: textObjectHtml(block.text, mdctx(ctx)) }));
  if (block.fields?.length) {
    body.append(h("div", { class: "bk-fields" },
      block.fields.map((f) => h("div", { class: "bk-field", html: textObjectHtml(f, mdctx(ctx)) }))));
  }
  const el = h("div", { class: "bk-section" }, body);
  if (block.accessory) {
    const acc = block.accessory.type === "image"
      ? h("img", { class: "bk-accessory-image", src: block.accessory.image_url, alt: block.accessory.alt_text ?? "" })
      : renderElement(block.accessory, block, ctx);
    el.append(h("div", { class: "bk-accessory" }, acc));
  }
  return el;
}

function renderContext(block, ctx) {
  return h("div", { class: "bk-context" }, (block.elements ?? []).map((e) => {
    if (e.type === "image") return h("img", { class: "bk-context-image", src: e.image_url, alt: e.alt_text ?? "" });
    if (e.type === "mrkdwn" || e.type === "plain_text") {
      return h("span", { class: "bk-context-text", html: textObjectHtml(e, mdctx(ctx)) });
    }
    return unsupported("context element", e.type);
  }));
}

function renderImageBlock(block, ctx) {
  const img = h("img", { class: "bk-image", src: block.image_url, alt: block.alt_text ?? "", loading: "lazy" });
  const link = h("a", { href: block.image_url, target: "_blank", rel: "noopener noreferrer", class: "bk-image-link" }, img);
  const el = h("figure", { class: "bk-image-block" });
  if (block.title) el.append(h("figcaption", { class: "bk-image-title", html: textObjectHtml(block.title, mdctx(ctx)) }));
  el.append(link);
  return el;
}

function renderVideoBlock(block, ctx) {
  const title = textObjectPlain(block.title);
  return h("div", { class: "bk-video" },
    h("a", { href: block.title_url ?? block.video_url, target: "_blank", rel: "noopener noreferrer", class: "bk-video-title" }, title),
    block.description ? h("div", { class: "bk-video-desc", html: textObjectHtml(block.description, mdctx(ctx)) }) : null,
    h("a", { href: block.video_url, target: "_blank", rel: "noopener noreferrer", class: "bk-video-thumb" },
      h("img", { src: block.thumbnail_url, alt: block.alt_text ?? title }),
      h("span", { class: "bk-video-play", "aria-hidden": "true" }, "▶")));
}

// Rich text: Slack shows its characters literally, so text goes in as text nodes.
function renderRich(el, ctx) {
  switch (el.type) {
    case "rich_text_section":
      return h("div", { class: "rt-section" }, (el.elements ?? []).map((e) => richInline(e, ctx)));
    case "rich_text_quote":
      return h("blockquote", { class: "rt-quote" }, (el.elements ?? []).map((e) => richInline(e, ctx)));
    case "rich_text_preformatted":
      return h("pre", { class: "code-block" }, (el.elements ?? []).map((e) => richInline(e, ctx)));
    case "rich_text_list": {
      const list = h(el.style === "ordered" ? "ol" : "ul", { class: "rt-list" });
      for (const item of el.elements ?? []) list.append(h("li", {}, renderRich(item, ctx)));
      return list;
    }
    default:
      return unsupported("rich text element", el.type);
  }
}

function richInline(e, ctx) {
  let node;
  switch (e.type) {
    case "text": node = document.createTextNode(e.text ?? ""); break;
    case "link": node = h("a", { href: e.url, target: "_blank", rel: "noopener noreferrer" }, e.text ?? e.url); break;
    case "user": node = h("span", { class: "mention" }, `@${ctx.userName?.(e.user_id) ?? e.user_id}`); break;
    case "channel": node = h("span", { class: "mention" }, `#${ctx.channelName?.(e.channel_id) ?? e.channel_id}`); break;
    case "broadcast": node = h("span", { class: "mention broadcast" }, `@${e.range}`); break;
    case "emoji": node = h("span", { html: plainHtml(`:${e.name}:`) }); break;
    case "usergroup": node = h("span", { class: "mention" }, `@${e.usergroup_id}`); break;
    default: return unsupported("rich text element", e.type);
  }
  const s = e.style ?? {};
  if (s.code) node = h("code", {}, node);
  if (s.bold) node = h("b", {}, node);
  if (s.italic) node = h("i", {}, node);
  if (s.strike) node = h("s", {}, node);
  return node;
}

function renderInput(block, ctx) {
  const element = block.element ?? {};
  const labelId = nextId("label");
  const controlId = nextId("input");
  const labelText = textObjectPlain(block.label);
  const info = { labelId, controlId, labelText, inInput: true };
  const el = h("div", { class: "bk-input" },
    h("label", { id: labelId, for: controlId, class: "bk-label" },
      labelText, block.optional ? h("span", { class: "bk-optional" }, " (optional)") : null),
    renderElement(element, block, ctx, info));
  if (block.hint) el.append(h("div", { class: "bk-hint", html: textObjectHtml(block.hint) }));
  const error = ctx.errors?.[block.block_id];
  if (error) {
    el.classList.add("has-error");
    el.append(h("div", { class: "bk-error", role: "alert", id: `${controlId}-error` }, error));
  }
  return el;
}

const elementRenderers = {
  button: renderButton,
  static_select: (e, b, c, i) => renderCombo(e, b, c, i, staticSource(e)),
  external_select: (e, b, c, i) => renderCombo(e, b, c, i, externalSource(e, b, c)),
  users_select: (e, b, c, i) => renderCombo(e, b, c, i, peopleSource(c)),
  conversations_select: (e, b, c, i) => renderCombo(e, b, c, i, channelSource(c, "conversation")),
  channels_select: (e, b, c, i) => renderCombo(e, b, c, i, channelSource(c, "channel")),
  plain_text_input: renderTextInput,
  email_text_input: renderTextInput,
  url_text_input: renderTextInput,
  number_input: renderTextInput,
  checkboxes: renderChoices,
  radio_buttons: renderChoices,
  datepicker: renderPicker,
  timepicker: renderPicker,
  overflow: renderOverflow,
  image: (e) => h("img", { class: "bk-element-image", src: e.image_url, alt: e.alt_text ?? "" }),
};

/** One interactive element; `info` carries the input block's label when inside one. */
export function renderElement(element, block, ctx, info = {}) {
  const render = elementRenderers[element.type];
  if (!render) return unsupported("element", element.type);
  return render(element, block, ctx, info);
}

/** Send a block action for `element`, after its confirm dialog when it has one. */
async function act(element, block, ctx, fields) {
  if (element.confirm && !(await ctx.confirm(element.confirm))) return;
  const action = { action_id: element.action_id, block_id: block.block_id, type: element.type, ...fields };
  ctx.onAction?.(action, block);
}

function renderButton(element, block, ctx) {
  const cls = ["bk-btn", element.style ? `bk-btn-${element.style}` : ""].join(" ").trim();
  const fields = { value: element.value, text: element.text, style: element.style };
  const label = { html: textObjectHtml(element.text) };
  if (element.url) {
    // Slack opens the link in a new tab and still tells the app about the click.
    return h("a", {
      ...label, class: cls, role: "button", href: element.url, target: "_blank", rel: "noopener noreferrer",
      onclick: () => act({ ...element, confirm: null }, block, ctx, fields),
    });
  }
  return h("button", {
    ...label, type: "button", class: cls,
    onclick: async (ev) => {
      const btn = ev.currentTarget;
      btn.classList.add("is-busy");
      try { await act(element, block, ctx, fields); } finally { btn.classList.remove("is-busy"); }
    },
  });
}

// Values: ctx.values.get(blockId, actionId) / set(blockId, actionId, value) in Slack's shape.
function currentValue(element, block, ctx) {
  return ctx.values?.get(block.block_id, element.action_id);
}

function remember(element, block, ctx, value) {
  ctx.values?.set(block.block_id, element.action_id, { type: element.type, ...value });
}

function renderTextInput(element, block, ctx, info) {
  const saved = currentValue(element, block, ctx);
  const multiline = element.type === "plain_text_input" && element.multiline;
  const attrs = {
    id: info.controlId, class: multiline ? "bk-textarea" : "bk-text-input",
    placeholder: element.placeholder ? textObjectPlain(element.placeholder) : null,
    maxlength: element.max_length ?? null, minlength: element.min_length ?? null,
    "aria-labelledby": info.labelId ?? null, "aria-label": info.labelId ? null : textObjectPlain(element.placeholder) || element.action_id,
    "aria-invalid": ctx.errors?.[block.block_id] ? "true" : null,
    "aria-describedby": ctx.errors?.[block.block_id] ? `${info.controlId}-error` : null,
  };
  if (element.type === "number_input") {
    Object.assign(attrs, { type: "number", step: element.is_decimal_allowed ? "any" : "1",
      min: element.min_value ?? null, max: element.max_value ?? null, inputmode: "decimal" });
  } else if (!multiline) {
    attrs.type = { email_text_input: "email", url_text_input: "url" }[element.type] ?? "text";
  }
  const input = h(multiline ? "textarea" : "input", attrs);
  input.value = saved ? saved.value ?? "" : element.initial_value ?? "";
  if (multiline) input.rows = 4;
  if (!saved) remember(element, block, ctx, { value: input.value || null });
  input.addEventListener("input", () => remember(element, block, ctx, { value: input.value || null }));
  const dispatch = block.type !== "input" || block.dispatch_action;
  if (dispatch && !multiline) {
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") { ev.preventDefault(); act(element, block, ctx, { value: input.value }); }
    });
  }
  return input;
}

function renderChoices(element, block, ctx, info) {
  const multi = element.type === "checkboxes";
  const saved = currentValue(element, block, ctx);
  const initial = multi ? element.initial_options ?? [] : element.initial_option ? [element.initial_option] : [];
  const chosen = saved ? (multi ? saved.selected_options : [saved.selected_option].filter(Boolean)) : initial;
  const chosenValues = new Set(chosen.map((o) => o.value));
  const name = nextId("choice");
  const group = h("div", {
    class: "bk-choices", role: multi ? "group" : "radiogroup",
    "aria-labelledby": info.labelId ?? null, id: info.controlId,
  });
  const inputs = [];
  const update = () => {
    const picked = (element.options ?? []).filter((o, i) => inputs[i].checked);
    const value = multi ? { selected_options: picked } : { selected_option: picked[0] ?? null };
    remember(element, block, ctx, value);
    if (block.type !== "input" || block.dispatch_action) act(element, block, ctx, value);
  };
  (element.options ?? []).forEach((o) => {
    const input = h("input", { type: multi ? "checkbox" : "radio", name, value: o.value, onchange: update });
    input.checked = chosenValues.has(o.value);
    inputs.push(input);
    group.append(h("label", { class: "bk-choice" }, input,
      h("span", { class: "bk-choice-text" },
        h("span", { html: textObjectHtml(o.text, mdctx(ctx)) }),
        o.description ? h("span", { class: "bk-choice-desc", html: textObjectHtml(o.description, mdctx(ctx)) }) : null)));
  });
  if (!saved) remember(element, block, ctx, multi ? { selected_options: chosen } : { selected_option: chosen[0] ?? null });
  return group;
}

function renderPicker(element, block, ctx, info) {
  const date = element.type === "datepicker";
  const key = date ? "selected_date" : "selected_time";
  const saved = currentValue(element, block, ctx);
  const input = h("input", {
    type: date ? "date" : "time", id: info.controlId, class: "bk-text-input bk-picker",
    "aria-labelledby": info.labelId ?? null,
    "aria-label": info.labelId ? null : textObjectPlain(element.placeholder) || (date ? "Pick a date" : "Pick a time"),
  });
  input.value = saved ? saved[key] ?? "" : (date ? element.initial_date : element.initial_time) ?? "";
  if (!saved) remember(element, block, ctx, { [key]: input.value || null });
  input.addEventListener("change", () => {
    remember(element, block, ctx, { [key]: input.value || null });
    if (block.type !== "input" || block.dispatch_action) act(element, block, ctx, { [key]: input.value });
  });
  return input;
}

function renderOverflow(element, block, ctx) {
  const menuId = nextId("overflow");
  const menu = h("div", { class: "popup-menu bk-overflow-menu", role: "menu", id: menuId, hidden: true });
  const button = h("button", {
    type: "button", class: "bk-btn bk-overflow", "aria-label": "More options", "aria-haspopup": "menu",
    "aria-expanded": "false", "aria-controls": menuId,
  }, "⋯");
  const close = () => { menu.hidden = true; button.setAttribute("aria-expanded", "false"); };
  button.addEventListener("click", () => {
    const open = menu.hidden;
    menu.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
  });
  for (const o of element.options ?? []) {
    const item = o.url
      ? h("a", { role: "menuitem", href: o.url, target: "_blank", rel: "noopener noreferrer", html: textObjectHtml(o.text) })
      : h("button", { type: "button", role: "menuitem", html: textObjectHtml(o.text) });
    item.addEventListener("click", () => { close(); act(element, block, ctx, { selected_option: o }); });
    menu.append(item);
  }
  return h("div", { class: "bk-overflow-wrap" }, button, menu);
}

// Select menus: one combobox for static, external (typeahead), users and conversations.
function staticSource(element) {
  return {
    initial: element.initial_option ?? null,
    minQuery: 0,
    async options(query) { return filterOptions(element.options, element.option_groups, query); },
    valueOf: (o) => ({ selected_option: o }),
    fromSaved: (s) => s.selected_option ?? null,
  };
}

function externalSource(element, block, ctx) {
  return {
    initial: element.initial_option ?? null,
    minQuery: element.min_query_length ?? 3,
    async options(query) {
      const answer = await ctx.suggest(block.block_id, element.action_id, query);
      return { options: answer.options ?? null, groups: answer.option_groups ?? null };
    },
    valueOf: (o) => ({ selected_option: o }),
    fromSaved: (s) => s.selected_option ?? null,
  };
}

function peopleSource(ctx) {
  const asOption = (p) => ({ text: { type: "plain_text", text: p.real_name || p.name }, value: p.id });
  return {
    initial: (e) => {
      const p = ctx.people.find((x) => x.id === e.initial_user);
      return p ? asOption(p) : null;
    },
    minQuery: 0,
    async options(query) { return filterOptions(ctx.people.map(asOption), null, query); },
    valueOf: (o) => ({ selected_user: o ? o.value : null }),
    fromSaved: (s) => {
      const p = ctx.people.find((x) => x.id === s.selected_user);
      return p ? asOption(p) : null;
    },
  };
}

function channelSource(ctx, kind) {
  const asOption = (c) => ({ text: { type: "plain_text", text: c.is_im ? c.name : `# ${c.name}` }, value: c.id });
  const list = () => ctx.channels.filter((c) => kind === "conversation" || !c.is_im);
  const key = `selected_${kind}`;
  return {
    initial: (e) => {
      const id = e[`initial_${kind}`] ?? (e.default_to_current_conversation ? ctx.currentChannel : null);
      const c = ctx.channels.find((x) => x.id === id);
      return c ? asOption(c) : null;
    },
    minQuery: 0,
    async options(query) { return filterOptions(list().map(asOption), null, query); },
    valueOf: (o) => ({ [key]: o ? o.value : null }),
    fromSaved: (s) => {
      const c = ctx.channels.find((x) => x.id === s[key]);
      return c ? asOption(c) : null;
    },
  };
}

function filterOptions(options, groups, query) {
  const q = query.trim().toLowerCase();
  const match = (o) => !q || textObjectPlain(o.text).toLowerCase().includes(q);
  if (groups) return { groups: groups.map((g) => ({ ...g, options: g.options.filter(match) })) };
  return { options: (options ?? []).filter(match) };
}

function renderCombo(element, block, ctx, info, source) {
  const saved = currentValue(element, block, ctx);
  const initial = typeof source.initial === "function" ? source.initial(element) : source.initial;
  let selected = saved ? source.fromSaved(saved) : initial;
  if (!saved) remember(element, block, ctx, source.valueOf(selected));
  const listId = nextId("listbox");
  const placeholder = element.placeholder ? textObjectPlain(element.placeholder) : "Select an item";
  const input = h("input", {
    type: "text", id: info.controlId, class: "bk-combo-input", role: "combobox",
    "aria-expanded": "false", "aria-controls": listId, "aria-autocomplete": "list",
    "aria-labelledby": info.labelId ?? null, "aria-label": info.labelId ? null : placeholder,
    "aria-invalid": ctx.errors?.[block.block_id] ? "true" : null,
    placeholder, autocomplete: "off", spellcheck: "false",
  });
  const list = h("div", { role: "listbox", id: listId, class: "bk-listbox", hidden: true,
    "aria-label": info.labelText || placeholder });
  const wrap = h("div", { class: "bk-combo" }, input, h("span", { class: "bk-combo-caret", "aria-hidden": "true" }), list);
  const shown = () => (selected ? textObjectPlain(selected.text) : "");
  input.value = shown();
  let items = [];
  let active = -1;
  let request = 0;

  const setActive = (i) => {
    items.forEach((it, j) => it.el.classList.toggle("is-active", j === i));
    active = i;
    if (items[i]) {
      input.setAttribute("aria-activedescendant", items[i].el.id);
      items[i].el.scrollIntoView({ block: "nearest" });
    } else input.removeAttribute("aria-activedescendant");
  };
  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.value = shown();
    wrap.classList.remove("is-open");
  };
  const choose = (option) => {
    selected = option;
    const value = source.valueOf(option);
    remember(element, block, ctx, value);
    close();
    if (block.type !== "input" || block.dispatch_action) act(element, block, ctx, value);
  };
  const addOption = (parent, o) => {
    const el = h("div", {
      role: "option", id: nextId("option"), class: "bk-option",
      "aria-selected": String(selected?.value === o.value),
      html: textObjectHtml(o.text),
    });
    el.addEventListener("mousedown", (ev) => ev.preventDefault());
    el.addEventListener("click", () => choose(o));
    parent.append(el);
    items.push({ el, option: o });
  };
  const fill = async (query) => {
    const mine = ++request;
    if (query.length < source.minQuery) {
      list.replaceChildren(h("div", { class: "bk-list-note" }, `Type at least ${source.minQuery} characters`));
      items = [];
      return;
    }
    list.replaceChildren(h("div", { class: "bk-list-note" }, "Searching…"));
    let result;
    try { result = await source.options(query); } catch (err) {
      if (mine === request) list.replaceChildren(h("div", { class: "bk-list-note" }, "Could not load options"));
      return;
    }
    if (mine !== request) return;
    items = [];
    list.replaceChildren();
    for (const g of result.groups ?? []) {
      if (!g.options.length) continue;
      const group = h("div", { role: "group", "aria-label": textObjectPlain(g.label), class: "bk-option-group" },
        h("div", { class: "bk-group-label", "aria-hidden": "true" }, textObjectPlain(g.label)));
      g.options.forEach((o) => addOption(group, o));
      list.append(group);
    }
    (result.options ?? []).forEach((o) => addOption(list, o));
    if (!items.length) list.append(h("div", { class: "bk-list-note" }, "No results"));
    setActive(items.length ? 0 : -1);
  };
  const open = () => {
    if (!list.hidden) return;
    list.hidden = false;
    wrap.classList.add("is-open");
    input.setAttribute("aria-expanded", "true");
    input.select();
    fill(selected ? "" : input.value);
  };
  let timer = null;
  input.addEventListener("click", open);
  input.addEventListener("input", () => {
    if (list.hidden) { list.hidden = false; wrap.classList.add("is-open"); input.setAttribute("aria-expanded", "true"); }
    clearTimeout(timer);
    timer = setTimeout(() => fill(input.value), source.minQuery === 0 && !element.min_query_length ? 0 : 120);
  });
  input.addEventListener("blur", () => setTimeout(close, 0));
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown") { ev.preventDefault(); open(); setActive(Math.min(active + 1, items.length - 1)); }
    else if (ev.key === "ArrowUp") { ev.preventDefault(); setActive(Math.max(active - 1, 0)); }
    else if (ev.key === "Enter" && !list.hidden && items[active]) { ev.preventDefault(); choose(items[active].option); }
    else if (ev.key === "Escape" && !list.hidden) { ev.preventDefault(); ev.stopPropagation(); close(); }
  });
  wrap.keep = () => !list.hidden;
  return wrap;
}

export { escapeHtml };
