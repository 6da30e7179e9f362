"""A deterministic, realistic catalog of avatars (looks) and voices.

The same sizes always give the same ids and names, so tests and benchmarks can name an avatar
without asking first. v2 and v3 share it: a v3 look id is the v2 `avatar_id`. The first
entries are the guide's own examples ("Angela in Black Dress", "Emma - Newscaster"), so the
guide's requests work verbatim against the sandbox.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

# (language, locale, flag country) with weights: English dominates, as in HeyGen's list.
LANGUAGES: tuple[tuple[str, str, str, int], ...] = (
    ("English", "en-US", "us", 10),
    ("English", "en-GB", "gb", 3),
    ("English", "en-AU", "au", 1),
    ("Spanish", "es-ES", "es", 3),
    ("Spanish", "es-MX", "mx", 2),
    ("German", "de-DE", "de", 2),
    ("French", "fr-FR", "fr", 2),
    ("Japanese", "ja-JP", "jp", 2),
    ("Portuguese", "pt-BR", "br", 2),
    ("Italian", "it-IT", "it", 1),
    ("Hindi", "hi-IN", "in", 1),
    ("Korean", "ko-KR", "kr", 1),
    ("Chinese", "zh-CN", "cn", 1),
    ("Dutch", "nl-NL", "nl", 1),
)

FEMALE = (
    "Angela", "Emma", "Daisy", "Kristin", "Amanda", "Sofia", "Yuki", "Lea", "Camille", "Priya",
    "Isabella", "Hannah", "Chloe", "Mina", "Lucia", "Aiko", "Nora", "Grace", "Elena", "Zoe",
)  # fmt: skip
MALE = (
    "Adrian", "Josh", "Tyler", "Marcus", "Diego", "Kenji", "Lukas", "Hugo", "Raj", "Paul",
    "Mateo", "Ethan", "Leo", "Jin", "Omar", "Felix", "Noah", "Samuel", "Henry", "Andre",
)  # fmt: skip
SURNAMES = (
    "Carter", "Nguyen", "Schmidt", "Dubois", "Tanaka", "Garcia", "Rossi", "Patel", "Kim",
    "Silva", "Meyer", "Brown", "Lopez", "Sato", "Novak", "Haddad", "Jensen", "Moreau",
)  # fmt: skip

# (id slug, display suffix, tags, who wears it)
OUTFITS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("inblackskirt", "in Black Dress", ("professional",), "female"),
    ("inTshirt", "in T-shirt", ("casual",), "any"),
    ("insuit", "in Blue Suit", ("professional", "business"), "any"),
    ("ingreyblazer", "in Grey Blazer", ("professional",), "male"),
    ("office-front", "Office Front", ("business",), "any"),
    ("sofa-sitting", "Sitting on Sofa", ("casual", "lifestyle"), "any"),
    ("newsdesk", "at the News Desk", ("news",), "any"),
    ("lab-coat", "in Lab Coat", ("healthcare", "education"), "any"),
    ("outdoor", "Outdoor Walk", ("lifestyle",), "any"),
    ("classroom", "in Classroom", ("education",), "any"),
    ("hoodie", "in Hoodie", ("casual", "tech"), "any"),
)

VOICE_STYLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Newscaster", ("News", "Explainer")),
    ("Friendly", ("Conversational", "Youth")),
    ("Professional", ("Business", "E-learning")),
    ("Calm", ("Meditation", "Audiobooks")),
    ("Cheerful", ("Advertisement", "Youth")),
    ("Narrator", ("Audiobooks", "Documentary")),
    ("Warm", ("Customer Service", "Assistant")),
    ("Energetic", ("Social Media", "Advertisement")),
)

ENGINES = ("avatar_iii", "avatar_iv")
GUIDE_VOICE_IDS = ("76955c80188a4c149df169b5dc9e1a3a", "1bd001e7e50f421d891986aad5158bc8")
EPOCH = date(2022, 8, 20)


@dataclass(frozen=True)
class Voice:
    voice_id: str
    name: str
    gender: str  # "female" | "male"
    language: str
    locale: str
    flag: str
    style: str
    labels: tuple[str, ...]
    support_pause: bool
    emotion_support: bool
    sort: int
    private: bool = False  # a voice clone of one account, not HeyGen's public library


@dataclass(frozen=True)
class Avatar:
    """One look: what v2 calls an avatar and what a v3 video needs as `avatar_id`."""

    avatar_id: str
    name: str
    gender: str
    group_id: str
    group_name: str
    avatar_type: str  # studio_avatar | digital_twin | photo_avatar
    default_voice_id: str
    orientation: str
    engines: tuple[str, ...]  # empty: the look cannot be used through the v3 API
    tags: tuple[str, ...]
    created_at: int
    private: bool = False  # one account's own avatar (a digital twin), not a public one


@dataclass(frozen=True)
class Group:
    """A person (v3 `GET /v3/avatars`); its id cannot make a video."""

    group_id: str
    name: str
    gender: str
    avatar_type: str
    default_voice_id: str
    first_look_id: str
    looks_count: int
    created_at: int


@dataclass(frozen=True)
class Catalog:
    avatars: tuple[Avatar, ...]
    voices: tuple[Voice, ...]

    @cached_property
    def avatar_by_id(self) -> dict[str, Avatar]:
        return {a.avatar_id: a for a in self.avatars}

    @cached_property
    def voice_by_id(self) -> dict[str, Voice]:
        return {v.voice_id: v for v in self.voices}

    @cached_property
    def groups(self) -> tuple[Group, ...]:
        """Avatar groups in first-seen order, with their look counts."""
        counts: dict[str, int] = {}
        first: dict[str, Avatar] = {}
        for look in self.avatars:
            counts[look.group_id] = counts.get(look.group_id, 0) + 1
            first.setdefault(look.group_id, look)
        return tuple(
            Group(
                group_id=gid,
                name=look.group_name,
                gender=look.gender,
                avatar_type=look.avatar_type,
                default_voice_id=look.default_voice_id,
                first_look_id=look.avatar_id,
                looks_count=counts[gid],
                created_at=look.created_at,
            )
            for gid, look in first.items()
        )


def build_catalog(avatars: int, voices: int) -> Catalog:
    """The catalog for these sizes; pure, so every sandbox with the same sizes agrees."""
    voice_list = _voices(max(voices, 1))
    return Catalog(avatars=_avatars(max(avatars, 1), voice_list), voices=voice_list)


def with_private(public: Catalog, owner: str, count: int) -> Catalog:
    """`public` plus `count` private looks (digital twins), each with its own voice clone,
    named and numbered from `owner`, so two accounts never share a private id."""
    if count <= 0:
        return public
    rng = random.Random(_hex_id("private", owner))
    people = _people()
    voices: list[Voice] = []
    looks: list[Avatar] = []
    for n in range(count):
        first, gender = people[rng.randrange(len(people))]
        full = f"{first} {SURNAMES[rng.randrange(len(SURNAMES))]}"
        voice = Voice(
            voice_id=_hex_id("private-voice", owner, n),
            name=f"{full} - Voice Clone",
            gender=gender,
            language="English",
            locale="en-US",
            flag="us",
            style="cloned",
            labels=("Custom",),
            support_pause=True,
            emotion_support=False,
            sort=n + 1,
            private=True,
        )
        day = EPOCH + timedelta(days=900 + rng.randrange(300))
        looks.append(
            Avatar(
                avatar_id=_hex_id("private-look", owner, n),
                name=f"{full} (Digital Twin)",
                gender=gender,
                group_id=_hex_id("private-group", owner, n),
                group_name=full,
                avatar_type="digital_twin",
                default_voice_id=voice.voice_id,
                orientation="landscape",
                engines=ENGINES,
                tags=("custom",),
                created_at=int(_unix(day)),
                private=True,
            )
        )
        voices.append(voice)
    # An account's own avatars and voices come first, as in HeyGen's app.
    return Catalog(avatars=(*looks, *public.avatars), voices=(*voices, *public.voices))


def _hex_id(*parts: object) -> str:
    return hashlib.md5("/".join(map(str, parts)).encode()).hexdigest()


def _voices(count: int) -> tuple[Voice, ...]:
    rng = random.Random(20240101)
    people = [(n, "female") for n in FEMALE if n != "Emma"] + [(n, "male") for n in MALE]
    rng.shuffle(people)
    people.insert(0, ("Emma", "female"))  # the guide's "Emma - Newscaster" comes first
    out: list[Voice] = []
    weights = [w for *_, w in LANGUAGES]
    for i in range(count):
        person, turn = i % len(people), i // len(people)
        first, gender = people[person]
        style, labels = VOICE_STYLES[(person + turn) % len(VOICE_STYLES)]
        language, locale, flag, _ = LANGUAGES[0] if i < 2 else rng.choices(LANGUAGES, weights)[0]
        lap = turn // len(VOICE_STYLES)
        name = f"{first} - {style}" + (f" {lap + 1}" if lap else "")
        out.append(
            Voice(
                voice_id=GUIDE_VOICE_IDS[i] if i < len(GUIDE_VOICE_IDS) else _hex_id("voice", i),
                name=name,
                gender=gender,
                language=language,
                locale=locale,
                flag=flag,
                style=style.lower(),
                labels=labels,
                support_pause=i % 5 != 4,
                emotion_support=i % 3 == 0,
                sort=i + 1,
            )
        )
    return tuple(out)


def _people() -> list[tuple[str, str]]:
    """Alternating female/male first names; the guide's Angela first."""
    names: list[tuple[str, str]] = []
    for f, m in zip(FEMALE, MALE, strict=True):
        names += [(f, "female"), (m, "male")]
    return names


def _avatars(count: int, voices: tuple[Voice, ...]) -> tuple[Avatar, ...]:
    rng = random.Random(20220820)
    people = _people()
    english = [v for v in voices if v.language == "English"] or list(voices)
    out: list[Avatar] = []
    person = 0
    while len(out) < count:
        first, gender = people[person % len(people)]
        lap = person // len(people)
        full = first if lap == 0 else f"{first} {SURNAMES[(lap - 1) % len(SURNAMES)]}"
        if lap > len(SURNAMES):
            full += f" {(lap - 1) // len(SURNAMES) + 1}"
        looks = 2 if person == 0 else rng.randint(1, 4)
        out += _looks_of(person, full, gender, looks, rng, english)
        person += 1
    return tuple(out[:count])


def _looks_of(
    person: int, full: str, gender: str, looks: int, rng: random.Random, voices: list[Voice]
) -> list[Avatar]:
    kind = "photo_avatar" if person % 7 == 6 else "studio_avatar"
    if person == 3:
        kind = "digital_twin"
    same_gender = [v for v in voices if v.gender == gender] or voices
    voice = same_gender[person % len(same_gender)]
    day = EPOCH + timedelta(days=(person * 3) % 1200)
    group_id = _hex_id("group", person)
    outfits = [o for o in OUTFITS if o[3] in ("any", gender)]
    start = 0 if person == 0 else rng.randrange(len(outfits))
    out = []
    for n in range(min(looks, len(outfits))):
        slug, label, tags, _ = outfits[(start + n) % len(outfits)]
        stem = full.replace(" ", "_")
        out.append(
            Avatar(
                avatar_id=f"{stem}-{slug}-{day:%Y%m%d}",
                name=f"{full} {label}",
                gender=gender,
                group_id=group_id,
                group_name=full,
                avatar_type=kind,
                default_voice_id=voice.voice_id,
                orientation="portrait" if slug in ("outdoor", "hoodie") else "landscape",
                engines=_engines(kind, person, n),
                tags=tags,
                created_at=int(_unix(day)) + n,
            )
        )
    return out


def _engines(kind: str, person: int, look: int) -> tuple[str, ...]:
    """Most looks work through the API; every 9th person's extra looks do not (hide them)."""
    if person % 9 == 8 and look > 0:
        return ()
    return ("avatar_iv",) if kind == "photo_avatar" else ENGINES


def _unix(day: date) -> float:
    return (day - date(1970, 1, 1)).total_seconds()
