"""A person's first and last name used together ("Grace Lee", "Marie-Ève Côté", "Tom J. Chen").

The guidance allows first names alone, so a given name counts only when a surname follows it.
Which words are given names and surnames comes from the name lists that Faker maintains for its
person providers (English, French, South Asian, Spanish, Chinese, Japanese and Vietnamese
locales, as people in BC are named), not from a list typed here. That data dependency is the one
exception to the rules package using only the standard library; the lists are read once, on the
first call, so importing zoomguard does not pay for them.

Words that are names and also ordinary words make meeting titles look like people: "Grace
Period review", "Will Review", "May Long weekend", "Prince George office", "Simon Fraser
University". So a pair is not a person when both words are common English or French words (from
Faker's lorem word lists), when the first word is a month or a weekday, or when a place or an
organisation is named around it ("Fort", "Saint", "... Park", "... University").
"""

from __future__ import annotations

import calendar
import functools
import importlib
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, NamedTuple

from zoomguard.rules.identifying.match import FULL_NAME, IdentifyingMatch

# Faker person providers whose names people in BC carry; Latin-script names only (the Chinese,
# Japanese and Vietnamese providers also hold romanised names, which are the ones written in an
# English or French meeting title).
_CORE_LOCALES: Final = (
    "en_US", "en_GB", "en_IE", "en_NZ", "en_IN", "en_PK", "fr_CA", "fr_FR", "es_MX", "zh_CN",
    "zh_TW", "ja_JP", "vi_VN",
)  # fmt: skip
# Wider lists: "en" is the US Social Security list of given names (7,000, with words such as
# "General"), the others are European and African heritages common in Canada. Their given names
# that are also common words are dropped, so they add people without adding "Will" or "Page".
_BROAD_LOCALES: Final = ("en", "en_NG", "de_DE", "it_IT", "es_ES", "pl_PL", "nl_NL", "pt_BR")
_COMMON_WORD_LOCALES: Final = ("en_US", "fr_FR")

# Words that make the next capitalised words a place or an institution, not a person
# ("Fort Nelson", "Port Alberni", "Prince George", "École Jean Tremblay", "Parc Jean Drapeau").
_PLACE_PREFIXES: Final = frozenset((
    "Fort", "Port", "Mount", "Mt", "Saint", "St", "Sainte", "Ste", "San", "Santa", "Lake",
    "Cape", "Point", "Prince", "Princess", "Queen", "King", "Sir", "Lord", "Lady", "Camp",
    "Parc", "Pont", "Place", "Rue", "Avenue", "Boulevard", "Chemin", "Mont", "Lac", "Cap",
    "École", "Ecole", "Collège", "College", "Lycée", "Université", "Hôpital", "Centre",
    "Salle", "Pavillon", "Fondation", "Prix", "Jardin", "Station", "Musée", "Institut",
    "Marche", "Course", "Fête", "Journée", "Bourse", "Fonds", "Gala", "Médaille", "Chaire",
))  # fmt: skip
# Words that make the capitalised words before them a place or an institution named after
# someone, not a person in the meeting ("Simon Fraser University", "Stanley Park",
# "Terry Fox Foundation", "Carson Graham Secondary", "Victoria Day").
_PLACE_SUFFIXES: Final = frozenset((
    "University", "College", "School", "Secondary", "Elementary", "Middle", "Academy",
    "Hospital", "Health", "Centre", "Center", "Park", "Building", "House", "Hall", "Library",
    "Foundation", "Society", "Institute", "Award", "Awards", "Scholarship", "Fund", "Bridge",
    "Highway", "Lake", "River", "Creek", "Island", "Bay", "Mountain", "Memorial", "Arena",
    "Stadium", "Theatre", "Theater", "Gallery", "Museum", "Square", "Plaza", "Tower", "Trail",
    "Room", "Boardroom", "Lodge", "Manor", "Clinic", "Pavilion", "Campus", "Station", "Wing",
    "Estates", "Day", "Run", "Street", "St", "Avenue", "Ave", "Road", "Rd", "Drive", "Dr",
    "Way", "Boulevard", "Blvd", "Crescent", "Place", "Court", "Lane", "Falls", "Valley",
    "Ridge", "Heights", "Beach", "Harbour", "Harbor", "Point", "Springs", "Gardens", "Group",
    "Inc", "Ltd", "LLP", "Associates", "Consulting", "Law", "Corporation", "Corp", "Company",
    "Co", "Fondation", "Prize", "Lecture", "Series", "Cup", "Supper", "Dinner", "Gala",
    "Tribute", "Walk", "Marathon", "Classic", "Trophy", "Medal", "Fellowship", "Chair",
))  # fmt: skip
# Of those, the ones that end a place's name rather than being a surname in it ("Stanley Park",
# "Victoria Day", "Jordan River"); "Hall" or "Lane" stay surnames ("Sarah Hall").
_PLACE_NOUNS: Final = frozenset((
    "Park", "Lake", "Bay", "River", "Creek", "Island", "Falls", "Valley", "Ridge", "Heights",
    "Beach", "Harbour", "Harbor", "Point", "Springs", "Gardens", "Square", "Station", "Day",
    "Street", "Avenue", "Road", "Drive", "Way", "Place", "Centre", "Center", "Plaza",
))  # fmt: skip
# Lower-case words that may stand inside a name: "Ludwig van Beethoven", "Jean de La Fontaine".
_PARTICLES: Final = frozenset((
    "van", "von", "der", "den", "de", "del", "della", "di", "da", "dos", "das", "du", "la",
    "le",
))  # fmt: skip

# The words a name is made of: capitalised words, with inner apostrophes or hyphens ("O'Brien",
# "Marie-Ève") and a full stop for an initial ("J."), and the particles. Lower-case words are
# skipped, which keeps the scan fast; the text between two kept words still decides whether they
# stand side by side (``_adjacent``), so "Grace and Lee" stays two people's first names.
_WORD: Final = re.compile(
    r"(?<![\w'\u2019-])"
    r"(?:(?=[A-Z\u00c0-\u00de\u0100-\u024f])[^\W\d_]+(?:['\u2019-][^\W\d_]+)*\.?"
    rf"|(?:{'|'.join(sorted(_PARTICLES))})(?![\w'\u2019-]))"
)
_POSSESSIVE: Final = re.compile(r"['\u2019]s$")


@dataclass(frozen=True)
class NameLists:
    """The given names, surnames and common words a full name is recognised with."""

    first_names: frozenset[str]
    last_names: frozenset[str]
    common_words: frozenset[str]  # lower case


class _Word(NamedTuple):
    start: int
    end: int
    text: str


def _plain(name: str) -> str:
    """``name`` without accents: "Nguyễn" is written "Nguyen" in most English titles."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _latin_names(values: Iterable[str]) -> set[str]:
    """The capitalised Latin-script names among ``values``, with and without their accents."""
    names: set[str] = set()
    for value in values:
        if not value[:1].isupper():
            continue
        if value.isascii():
            names.add(value)
        elif all("LATIN" in unicodedata.name(char, "") for char in value if char.isalpha()):
            names.add(value)
            names.add(_plain(value))
    return names


def _provider_names(locale: str, prefixes: tuple[str, ...]) -> set[str]:
    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    values: set[str] = set()
    for attribute, value in vars(provider).items():
        if attribute.startswith(prefixes) and isinstance(value, tuple | list | dict):
            values.update(value)  # a dict maps a name to its frequency
    return _latin_names(values)


def _common_words() -> frozenset[str]:
    words: set[str] = set()
    for locale in _COMMON_WORD_LOCALES:
        provider = importlib.import_module(f"faker.providers.lorem.{locale}").Provider
        words.update(word.lower() for word in provider.word_list)
    return frozenset(words)


# A sweep's meeting threads meet their first topics together: without this lock each of them
# built the lists (measured: 8 threads, 8 times the work), on the sweep's critical start.
_LISTS_LOCK: Final = threading.Lock()
_lists: NameLists | None = None


def name_lists() -> NameLists:
    """Faker's name lists, read once per process (about a quarter of a second, mostly
    importing Faker); threads that ask meanwhile wait for that one reading."""
    global _lists
    if _lists is None:
        with _LISTS_LOCK:
            if _lists is None:
                _lists = _read_name_lists()
    return _lists


def _read_name_lists() -> NameLists:
    common_words = _common_words()
    calendar_words = {
        name for name in (*calendar.month_name, *calendar.day_name, *calendar.month_abbr) if name
    }
    first_names: set[str] = set()
    last_names: set[str] = set()
    for locale in _CORE_LOCALES + _BROAD_LOCALES:
        given = _provider_names(locale, ("first_names", "first_romanized_names"))
        if locale in _BROAD_LOCALES:
            given = {name for name in given if name.lower() not in common_words}
        first_names |= given
        last_names |= _provider_names(locale, ("last_names", "last_romanized_names"))
    first_names -= calendar_words | _PLACE_PREFIXES
    return NameLists(frozenset(first_names), frozenset(last_names), common_words)


def _capitalised(word: str) -> bool:
    return word[0].isupper() and (len(word) == 1 or not word[1:].isupper() or word.isupper())


def _as_written_in_lists(word: str) -> str:
    """ "GRACE" -> "Grace"; other words as they are, without a possessive "'s"."""
    word = _POSSESSIVE.sub("", word)
    if len(word) > 1 and word.isupper():
        return "-".join(part.capitalize() for part in word.split("-"))
    return word


def _is_initial(word: str) -> bool:
    return len(word.rstrip(".")) == 1 and word[0].isupper()


# Cached: a sweep meets the same words in topic after topic.
@functools.lru_cache(maxsize=16384)
def _is_given_name(word: str) -> bool:
    lists = name_lists()
    if not _capitalised(word) or word.endswith("."):
        return False
    name = _as_written_in_lists(word)
    return name.split("-")[0] in lists.first_names and name not in _PLACE_PREFIXES


@functools.lru_cache(maxsize=16384)
def _is_surname(word: str) -> bool:
    lists = name_lists()
    if not _capitalised(word) or word.endswith("."):
        return False
    name = _as_written_in_lists(word)
    if name in _PLACE_NOUNS:
        return False
    return name in lists.last_names or any(part in lists.last_names for part in name.split("-"))


@functools.lru_cache(maxsize=16384)
def _is_common_word(word: str) -> bool:
    lists = name_lists()
    return _as_written_in_lists(word).lower() in lists.common_words


def _adjacent(text: str, left: _Word, right: _Word) -> bool:
    """Two words one space apart (a comma, a colon or "and" between them ends a name)."""
    gap = text[left.end : right.start]
    return 0 < len(gap) <= 2 and gap.isspace()


def _surname_after(text: str, words: list[_Word], index: int) -> int | None:
    """Index of the surname that completes the given name at ``index``, if one does."""
    position = index + 1
    # A middle initial or name: "Tom J. Chen", "Mary Ann Smith".
    if (
        position + 1 < len(words)
        and _adjacent(text, words[index], words[position])
        and _adjacent(text, words[position], words[position + 1])
    ):
        middle = words[position].text
        if _is_initial(middle) or (
            _is_given_name(middle) and _is_surname(words[position + 1].text)
        ):
            position += 1
    # Particles: "Ludwig van Beethoven".
    while (
        position < len(words) - 1
        and words[position].text in _PARTICLES
        and _adjacent(text, words[position - 1], words[position])
    ):
        position += 1
    if position >= len(words) or not _adjacent(text, words[position - 1], words[position]):
        return None
    return position if _is_surname(words[position].text) else None


def _names_something_else(text: str, words: list[_Word], first: int, last: int) -> bool:
    """Whether the words ``first``..``last`` are part of a place or an institution's name."""
    if first > 0 and words[first - 1].text.rstrip(".") in _PLACE_PREFIXES:
        return True
    # The capitalised words that carry on the name: "Martin Luther King Jr. Day".
    previous = words[last]
    for following in words[last + 1 : last + 4]:
        if not (_adjacent(text, previous, following) and _capitalised(following.text)):
            break
        previous = following
        if following.text.rstrip(".") in _PLACE_SUFFIXES:
            return True
    given, surname = words[first].text, words[last].text
    return _is_common_word(given) and _is_common_word(surname)


def _surname_first(text: str, words: list[_Word], index: int) -> bool:
    """Whether ``words[index]`` and the next word are written "Surname, Given name".

    Only with a surname that is not also a given name and neither word a common word, so that a
    list of first names ("Thanks to Maria, Ahmed and Li") is not read as one person.
    """
    if index + 1 >= len(words) or text[words[index].end : words[index + 1].start] != ", ":
        return False
    surname, given = words[index].text, words[index + 1].text
    if not (_is_surname(surname) and _is_given_name(given)):
        return False
    if _is_given_name(surname) or _is_common_word(surname):
        return False
    if _is_common_word(given) or (index > 0 and words[index - 1].text in _PLACE_PREFIXES):
        return False
    # "Tremblay, Marie Gagnon" is a surname and then a person, not "Tremblay, Marie".
    after = index + 2
    return not (
        after < len(words)
        and _adjacent(text, words[index + 1], words[after])
        and _is_surname(words[after].text)
    )


def find_full_names(text: str) -> list[IdentifyingMatch]:
    words = [_Word(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    matches: list[IdentifyingMatch] = []
    index = 0
    while index < len(words) - 1:
        if _is_given_name(words[index].text):
            last = _surname_after(text, words, index)
            if last is not None and not _names_something_else(text, words, index, last):
                surname = words[last]
                end = surname.start + len(_POSSESSIVE.sub("", surname.text))
                matches.append(IdentifyingMatch(words[index].start, end, FULL_NAME))
                index = last + 1
                continue
        if _surname_first(text, words, index):
            matches.append(IdentifyingMatch(words[index].start, words[index + 1].end, FULL_NAME))
            index += 2
            continue
        index += 1
    return matches
