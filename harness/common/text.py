"""Question text: the indefinite article by first sound, and template rendering."""

from __future__ import annotations

import re

# Words spelled with a vowel letter but said with a consonant sound ("a"), and vice versa ("an").
# Matched on the lower-cased first word by prefix, so "unicycle" and "hourglass" are covered.
_CONSONANT_SOUND_PREFIXES = (
    "one",  # one, one-way (but not "onion": see _CONSONANT_SOUND_EXCEPT)
    "uni",
    "use",
    "usu",
    "uten",
    "uku",
    "ura",
    "uri",
    "euro",
    "eu",
    "ewe",
    "ubiq",
)
_CONSONANT_SOUND_EXCEPT = ("onion", "unin", "unim", "unid")  # said with a vowel sound
_VOWEL_SOUND_PREFIXES = ("hour", "honest", "honor", "honour", "heir", "x-")
# Letters whose spoken name starts with a vowel sound, for acronyms such as "MP3 player" or "SUV".
_VOWEL_SOUND_LETTERS = set("AEFHILMNORSX")
_ACRONYM = re.compile(r"^[A-Z][A-Z0-9]{0,4}$")


def article(phrase: str) -> str:
    """``"a"`` or ``"an"`` for ``phrase`` by the sound of its first word (a small rule, not a lexicon)."""
    words = phrase.strip().split()
    if not words:
        return "a"
    first = words[0].strip("\"'(")
    if _ACRONYM.match(first) and len(first) > 1:
        return "an" if first[0] in _VOWEL_SOUND_LETTERS else "a"
    low = first.lower()
    if low.startswith(_VOWEL_SOUND_PREFIXES):
        return "an"
    if low.startswith(_CONSONANT_SOUND_PREFIXES) and not low.startswith(_CONSONANT_SOUND_EXCEPT):
        return "a"
    return "an" if low[:1] in set("aeiou") else "a"


def render(template: str, category: str, **slots: str) -> str:
    """Fill ``{article}`` and ``{category}`` of a question template with a category's surface text, and
    any other fields from ``slots`` (an image's objects, for relation tasks)."""
    return template.format(article=article(category), category=category, **slots)
