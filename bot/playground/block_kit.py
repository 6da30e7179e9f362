"""Block Kit validation mirroring the limits Slack enforces server-side.

Slack rejects bad blocks at request time (``invalid_blocks`` for messages, ``invalid_arguments``
for views), so a fake that accepts anything hides real bugs: a 3001-character section built from
user input, a modal title that grew past 24 characters, an ``initial_option`` that is not among
the options. Error strings follow Slack's format, e.g.
``must be less than 3001 characters [json-pointer:/blocks/0/text/text]``; callers prefix
``[ERROR] `` when building ``response_metadata.messages`` as Slack does.

Only the rules that commonly bite are encoded; unknown fields are accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100

KNOWN_BLOCK_TYPES = frozenset(
    {
        "actions",
        "call",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)

INPUT_ELEMENT_TYPES = frozenset(
    {
        "channels_select",
        "checkboxes",
        "conversations_select",
        "datepicker",
        "datetimepicker",
        "email_text_input",
        "external_select",
        "file_input",
        "multi_channels_select",
        "multi_conversations_select",
        "multi_external_select",
        "multi_static_select",
        "multi_users_select",
        "number_input",
        "plain_text_input",
        "radio_buttons",
        "rich_text_input",
        "static_select",
        "timepicker",
        "url_text_input",
        "users_select",
    }
)

INTERACTIVE_ELEMENT_TYPES = INPUT_ELEMENT_TYPES | {"button", "overflow", "workflow_button"}
ELEMENT_TYPES = INTERACTIVE_ELEMENT_TYPES | {"image"}
TEXT_TYPES = ("plain_text", "mrkdwn")


class _Errors:
    """Accumulates Slack-style error strings so every problem is reported at once."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str, pointer: str) -> None:
        self.items.append(f"{message} [json-pointer:{pointer}]")


def _check_str(errors: _Errors, value: Any, ptr: str, *, max_len: int, min_len: int = 0) -> None:
    """Length rules are phrased the way Slack phrases them (exclusive bound)."""
    if not isinstance(value, str):
        errors.add("expected string", ptr)
    elif len(value) > max_len:
        errors.add(f"must be less than {max_len + 1} characters", ptr)
    elif len(value) < min_len:
        errors.add(f"must be more than {min_len - 1} characters", ptr)


def _check_text(
    errors: _Errors,
    obj: Any,
    ptr: str,
    *,
    max_len: int,
    plain_only: bool = False,
    required: bool = True,
) -> None:
    """Validate a text composition object (``{"type": "plain_text", "text": ...}``)."""
    if obj is None:
        if required:
            errors.add("missing required field: text", ptr)
        return
    if not isinstance(obj, dict):
        errors.add("expected object", ptr)
        return
    allowed = ("plain_text",) if plain_only else TEXT_TYPES
    if obj.get("type") not in allowed:
        errors.add(f"must be one of {list(allowed)}", f"{ptr}/type")
        return
    _check_str(errors, obj.get("text"), f"{ptr}/text", max_len=max_len, min_len=1)


def _check_option(errors: _Errors, option: Any, ptr: str, *, plain_only: bool) -> None:
    if not isinstance(option, dict):
        errors.add("expected object", ptr)
        return
    _check_text(errors, option.get("text"), f"{ptr}/text", max_len=75, plain_only=plain_only)
    _check_str(errors, option.get("value"), f"{ptr}/value", max_len=150, min_len=1)


def _option_key(option: Any) -> Any:
    if not isinstance(option, dict):
        return None
    text = option.get("text")
    return (option.get("value"), text.get("text") if isinstance(text, dict) else None)


def _check_options(errors: _Errors, el: dict, ptr: str, *, max_items: int, plain: bool) -> None:
    """Options lists, and that any initial option(s) are among them (Slack enforces this)."""
    options = el.get("options")
    groups = el.get("option_groups")
    if options is None and groups is None:
        errors.add("must provide either options or option_groups", ptr)
        return
    flat: list[Any] = []
    if options is not None:
        if not isinstance(options, list) or not options:
            errors.add("must provide at least 1 items", f"{ptr}/options")
            return
        if len(options) > max_items:
            errors.add(f"must provide no more than {max_items} items", f"{ptr}/options")
        for i, option in enumerate(options):
            _check_option(errors, option, f"{ptr}/options/{i}", plain_only=plain)
        flat = options
    else:
        for g, group in enumerate(groups if isinstance(groups, list) else []):
            group_options = group.get("options", []) if isinstance(group, dict) else []
            for i, option in enumerate(group_options):
                _check_option(
                    errors, option, f"{ptr}/option_groups/{g}/options/{i}", plain_only=plain
                )
            flat.extend(group_options)
    keys = {_option_key(o) for o in flat}
    initial = el.get("initial_options", [el["initial_option"]] if "initial_option" in el else [])
    for i, option in enumerate(initial if isinstance(initial, list) else [initial]):
        if _option_key(option) not in keys:
            name = "initial_option" if "initial_option" in el else f"initial_options/{i}"
            errors.add("must match one of the provided options", f"{ptr}/{name}")


def _check_button(errors: _Errors, el: dict, ptr: str) -> None:
    _check_text(errors, el.get("text"), f"{ptr}/text", max_len=75, plain_only=True)
    if "value" in el:
        _check_str(errors, el["value"], f"{ptr}/value", max_len=2000)
    if "url" in el:
        _check_str(errors, el["url"], f"{ptr}/url", max_len=3000)
    if "style" in el and el["style"] not in ("primary", "danger"):
        errors.add("must be one of [primary, danger]", f"{ptr}/style")


def _check_select(errors: _Errors, el: dict, ptr: str) -> None:
    if "placeholder" in el:
        _check_text(errors, el["placeholder"], f"{ptr}/placeholder", max_len=150, plain_only=True)
    if el.get("type") in ("static_select", "multi_static_select"):
        _check_options(errors, el, ptr, max_items=100, plain=True)


def _check_plain_text_input(errors: _Errors, el: dict, ptr: str) -> None:
    for key in ("max_length", "min_length"):
        if key in el and (not isinstance(el[key], int) or not 0 <= el[key] <= 3000):
            errors.add("must be between 0 and 3000", f"{ptr}/{key}")
    if "initial_value" in el:
        limit = el["max_length"] if isinstance(el.get("max_length"), int) else 3000
        _check_str(errors, el["initial_value"], f"{ptr}/initial_value", max_len=limit)
    if "placeholder" in el:
        _check_text(errors, el["placeholder"], f"{ptr}/placeholder", max_len=150, plain_only=True)


def _check_number_input(errors: _Errors, el: dict, ptr: str) -> None:
    if not isinstance(el.get("is_decimal_allowed"), bool):
        errors.add("missing required field: is_decimal_allowed", ptr)
    for key in ("initial_value", "min_value", "max_value"):
        if key in el and not isinstance(el[key], str):
            errors.add("expected string", f"{ptr}/{key}")


def _check_image_element(errors: _Errors, el: dict, ptr: str) -> None:
    if "image_url" not in el and "slack_file" not in el:
        errors.add("must provide either image_url or slack_file", ptr)
    if "image_url" in el:
        _check_str(errors, el["image_url"], f"{ptr}/image_url", max_len=3000, min_len=1)
    _check_str(errors, el.get("alt_text"), f"{ptr}/alt_text", max_len=2000, min_len=1)


_ELEMENT_CHECKS: dict[str, Callable[[_Errors, dict, str], None]] = {
    "button": _check_button,
    "static_select": _check_select,
    "multi_static_select": _check_select,
    "external_select": _check_select,
    "multi_external_select": _check_select,
    "users_select": _check_select,
    "conversations_select": _check_select,
    "channels_select": _check_select,
    "plain_text_input": _check_plain_text_input,
    "number_input": _check_number_input,
    "image": _check_image_element,
    "overflow": lambda e, el, p: _check_options(e, el, p, max_items=5, plain=True),
    "radio_buttons": lambda e, el, p: _check_options(e, el, p, max_items=10, plain=False),
    "checkboxes": lambda e, el, p: _check_options(e, el, p, max_items=10, plain=False),
}


def _check_element(errors: _Errors, el: Any, ptr: str, *, allowed: frozenset[str]) -> None:
    if not isinstance(el, dict):
        errors.add("expected object", ptr)
        return
    if el.get("type") not in allowed:
        errors.add("failed to match all allowed schemas", ptr)
        return
    if "action_id" in el:
        _check_str(errors, el["action_id"], f"{ptr}/action_id", max_len=255, min_len=1)
    check = _ELEMENT_CHECKS.get(el["type"])
    if check:
        check(errors, el, ptr)


def _check_elements(errors: _Errors, block: dict, ptr: str, *, max_items: int) -> list[Any]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        errors.add("must provide at least 1 items", f"{ptr}/elements")
        return []
    if len(elements) > max_items:
        errors.add(f"must provide no more than {max_items} items", f"{ptr}/elements")
    return elements


def _check_section(errors: _Errors, block: dict, ptr: str) -> None:
    if "text" not in block and "fields" not in block:
        errors.add("must provide either text or fields", ptr)
    if "text" in block:
        _check_text(errors, block["text"], f"{ptr}/text", max_len=3000)
    fields = block.get("fields")
    if fields is not None:
        if not isinstance(fields, list) or len(fields) > 10:
            errors.add("must provide no more than 10 items", f"{ptr}/fields")
        else:
            for i, field in enumerate(fields):
                _check_text(errors, field, f"{ptr}/fields/{i}", max_len=2000)
    if "accessory" in block:
        _check_element(errors, block["accessory"], f"{ptr}/accessory", allowed=ELEMENT_TYPES)


def _check_header(errors: _Errors, block: dict, ptr: str) -> None:
    _check_text(errors, block.get("text"), f"{ptr}/text", max_len=150, plain_only=True)


def _check_context(errors: _Errors, block: dict, ptr: str) -> None:
    for i, el in enumerate(_check_elements(errors, block, ptr, max_items=10)):
        el_ptr = f"{ptr}/elements/{i}"
        if isinstance(el, dict) and el.get("type") == "image":
            _check_image_element(errors, el, el_ptr)
        else:
            _check_text(errors, el, el_ptr, max_len=3000)


def _check_actions(errors: _Errors, block: dict, ptr: str) -> None:
    seen: set[str] = set()
    for i, el in enumerate(_check_elements(errors, block, ptr, max_items=25)):
        _check_element(errors, el, f"{ptr}/elements/{i}", allowed=INTERACTIVE_ELEMENT_TYPES)
        action_id = el.get("action_id") if isinstance(el, dict) else None
        if action_id in seen:
            errors.add("action_id must be unique", f"{ptr}/elements/{i}/action_id")
        if action_id:
            seen.add(action_id)


def _check_input(errors: _Errors, block: dict, ptr: str) -> None:
    _check_text(errors, block.get("label"), f"{ptr}/label", max_len=2000, plain_only=True)
    if "hint" in block:
        _check_text(errors, block["hint"], f"{ptr}/hint", max_len=2000, plain_only=True)
    if "element" not in block:
        errors.add("missing required field: element", ptr)
    else:
        _check_element(errors, block["element"], f"{ptr}/element", allowed=INPUT_ELEMENT_TYPES)


def _check_image_block(errors: _Errors, block: dict, ptr: str) -> None:
    _check_image_element(errors, block, ptr)
    if "title" in block:
        _check_text(errors, block["title"], f"{ptr}/title", max_len=2000, plain_only=True)


def _check_video(errors: _Errors, block: dict, ptr: str) -> None:
    for key in ("video_url", "thumbnail_url", "alt_text"):
        _check_str(errors, block.get(key), f"{ptr}/{key}", max_len=3000, min_len=1)
    _check_text(errors, block.get("title"), f"{ptr}/title", max_len=200, plain_only=True)


def _check_markdown(errors: _Errors, block: dict, ptr: str) -> None:
    _check_str(errors, block.get("text"), f"{ptr}/text", max_len=12000, min_len=1)


def _check_rich_text(errors: _Errors, block: dict, ptr: str) -> None:
    if not isinstance(block.get("elements"), list):
        errors.add("missing required field: elements", ptr)


_BLOCK_CHECKS: dict[str, Callable[[_Errors, dict, str], None]] = {
    "section": _check_section,
    "header": _check_header,
    "context": _check_context,
    "actions": _check_actions,
    "input": _check_input,
    "image": _check_image_block,
    "video": _check_video,
    "markdown": _check_markdown,
    "rich_text": _check_rich_text,
}


def validate_blocks(
    blocks: Any, *, pointer: str = "/blocks", max_blocks: int = MAX_MESSAGE_BLOCKS
) -> list[str]:
    """Return Slack-style error strings for ``blocks``; empty when Slack would accept them."""
    errors = _Errors()
    if not isinstance(blocks, list):
        errors.add("expected array", pointer)
        return errors.items
    if len(blocks) > max_blocks:
        errors.add(f"no more than {max_blocks} items allowed", pointer)
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        ptr = f"{pointer}/{i}"
        if not isinstance(block, dict) or block.get("type") not in KNOWN_BLOCK_TYPES:
            errors.add("unsupported type", f"{ptr}/type" if isinstance(block, dict) else ptr)
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            _check_str(errors, block_id, f"{ptr}/block_id", max_len=255, min_len=1)
            if block_id in block_ids:
                errors.add("duplicate block_id", f"{ptr}/block_id")
            block_ids.add(block_id)
        check = _BLOCK_CHECKS.get(block["type"])
        if check:
            check(errors, block, ptr)
    return errors.items


def _check_modal_fields(errors: _Errors, view: dict, pointer: str) -> None:
    _check_text(errors, view.get("title"), f"{pointer}/title", max_len=24, plain_only=True)
    for key in ("submit", "close"):
        if view.get(key) is not None:
            _check_text(errors, view[key], f"{pointer}/{key}", max_len=24, plain_only=True)
    blocks = view.get("blocks")
    has_input = isinstance(blocks, list) and any(
        isinstance(b, dict) and b.get("type") == "input" for b in blocks
    )
    if has_input and view.get("submit") is None:
        errors.add("submit is required when an input block is present", f"{pointer}/submit")


def validate_view(
    view: Any, *, pointer: str = "/view", allowed_types: tuple[str, ...] = ("modal", "home")
) -> list[str]:
    """Return Slack-style error strings for a view payload (modal or App Home)."""
    errors = _Errors()
    if not isinstance(view, dict):
        errors.add("failed to match all allowed schemas", pointer)
        return errors.items
    view_type = view.get("type")
    if view_type not in allowed_types:
        errors.add(f"must be one of {list(allowed_types)}", f"{pointer}/type")
        return errors.items
    if view_type == "modal":
        _check_modal_fields(errors, view, pointer)
    for key, limit in (("callback_id", 255), ("external_id", 255), ("private_metadata", 3000)):
        if key in view and view[key] is not None:
            _check_str(errors, view[key], f"{pointer}/{key}", max_len=limit)
    if "blocks" not in view:
        errors.add("missing required field: blocks", pointer)
    else:
        block_errors = validate_blocks(
            view["blocks"], pointer=f"{pointer}/blocks", max_blocks=MAX_VIEW_BLOCKS
        )
        errors.items.extend(block_errors)
    return errors.items


def validate_options(response: Any) -> list[str]:
    """Check an app's answer to ``block_suggestion`` (external_select options).

    Slack silently shows nothing when these are invalid, so there is no API error to observe:
    tests should run the bot's ack body through this.
    """
    errors = _Errors()
    if not isinstance(response, dict) or not ({"options", "option_groups"} & response.keys()):
        errors.add("must provide either options or option_groups", "")
        return errors.items
    key = "options" if "options" in response else "option_groups"
    items = response[key]
    if not isinstance(items, list) or len(items) > 100:
        errors.add("must provide no more than 100 items", f"/{key}")
        return errors.items
    if key == "options":
        for i, option in enumerate(items):
            _check_option(errors, option, f"/options/{i}", plain_only=True)
        return errors.items
    for g, group in enumerate(items):
        group = group if isinstance(group, dict) else {}
        _check_text(errors, group.get("label"), f"/option_groups/{g}/label", max_len=75)
        for i, option in enumerate(group.get("options") or []):
            _check_option(errors, option, f"/option_groups/{g}/options/{i}", plain_only=True)
    return errors.items
