"""Whole-word keyword matching with inflections and negation, over unicode feedback text.

Text is NFKC-normalised and case-folded; curly apostrophes become "'"; words are runs of letters
and digits (a hyphen separates words, so "food-poisoning" is two). A clause ends at punctuation or
at a joining word ("and", "but", ...). A match is cancelled when one of the 3 words before it in
the same clause is a negation ("not", "no", "never", "wasn't", "didn't", "nobody", ...), unless an
intensifier stands between them ("never been SO sick", "can't BELIEVE how rude", "not ONLY rude").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import takewhile


def words(text: str) -> frozenset[str]:
    """A word set written as one space-separated string."""
    return frozenset(text.split())


NEGATION_WINDOW = 3
NEGATIONS = words(
    "no not never without nobody none nothing neither nor hardly barely cannot nowhere noone "
    "dont didnt doesnt wasnt werent isnt arent cant couldnt wouldnt wont shouldnt havent hasnt "
    "hadnt aint neednt mustnt"
)
# Between a negation and the keyword these turn the negation into emphasis.
INTENSIFIERS = words("so such more only just believe stop stopped until")
CLAUSE_WORDS = words("and but although though however yet except because whereas while")
# A keyword directly followed by one of these is cancelled: "bug-free", "mold free".
CANCELLING_NEXT = frozenset({"free"})

_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u2018\u02bc\u2032`\u00b4", "'"))
_PIECE = re.compile(
    r"(?P<word>[^\W_]+(?:'[^\W_]+)*)|(?P<stop>[.!?;:,()\[\]{}\"\u201c\u201d\u2026\n\r])"
)


@dataclass(frozen=True)
class Token:
    """One word: its folded text, its span in the normalised text and its clause number."""

    text: str
    start: int
    end: int
    clause: int


@dataclass(frozen=True)
class Term:
    """A keyword of a rule, the word sequences that count as it, and what cancels it."""

    rule: str
    level: str
    keyword: str
    forms: tuple[tuple[str, ...], ...]
    # Following words that make it something else: ("dryer",) for hair, ("of",) for sick.
    not_followed_by: tuple[tuple[str, ...], ...] = ()
    # "ill" opening a clause and followed by a verb is usually "I'll" typed without apostrophe.
    not_clause_start_before: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Match:
    term: Term
    matched: str
    start: int
    end: int


def normalise(text: str) -> str:
    """NFKC with one apostrophe; spans of tokens refer to this string."""
    return unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)


def fold(word: str) -> str:
    """Case-folded word without a possessive "'s" ("rat's" is "rat")."""
    word = word.casefold()
    return word[:-2] if word.endswith("'s") else word


def is_negation(word: str) -> bool:
    return word in NEGATIONS or word.endswith("n't")


def tokenize(text: str) -> list[Token]:
    """Words of `text` (already normalised) with clause numbers."""
    tokens: list[Token] = []
    clause = 0
    for piece in _PIECE.finditer(text):
        if piece.lastgroup == "stop":
            clause += 1
            continue
        word = fold(piece.group())
        if word in CLAUSE_WORDS:
            clause += 1
        tokens.append(Token(word, piece.start(), piece.end(), clause))
    return tokens


def phrase(text: str) -> tuple[str, ...]:
    """A keyword or form as the word tuple the matcher compares."""
    return tuple(t.text for t in tokenize(normalise(text)))


class TermIndex:
    """Terms indexed by the first word of each form, built once and reused across texts."""

    def __init__(self, terms: Iterable[Term]) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], Term]]] = {}
        for term in terms:
            for form in term.forms:
                if form:
                    self._by_first.setdefault(form[0], []).append((form, term))

    def find(self, tokens: Sequence[Token]) -> list[Match]:
        """Every non-negated occurrence of every term, in text order."""
        found: list[Match] = []
        for i, token in enumerate(tokens):
            for form, term in self._by_first.get(token.text, ()):
                end = i + len(form)
                if _spells(tokens, i, form) and not _cancelled(tokens, i, end, term):
                    found.append(Match(term, " ".join(form), token.start, tokens[end - 1].end))
        return found


def _spells(tokens: Sequence[Token], i: int, form: tuple[str, ...]) -> bool:
    window = tokens[i : i + len(form)]
    if len(window) != len(form) or any(t.clause != tokens[i].clause for t in window):
        return False
    return all(t.text == w for t, w in zip(window, form, strict=True))


def _cancelled(tokens: Sequence[Token], i: int, end: int, term: Term) -> bool:
    # Only the words after the match in its own clause: "I was sick. Of course…" stays sick.
    clause = tokens[end - 1].clause
    after = [t.text for t in takewhile(lambda t: t.clause == clause, tokens[end : end + 3])]
    if after[:1] and after[0] in CANCELLING_NEXT:
        return True
    if any(after[: len(seq)] == list(seq) for seq in term.not_followed_by):
        return True
    starts_clause = i == 0 or tokens[i - 1].clause != tokens[i].clause
    if starts_clause and after[:1] and after[0] in term.not_clause_start_before:
        return True
    return negated(tokens, i)


def negated(tokens: Sequence[Token], i: int) -> bool:
    """True when a negation stands in the NEGATION_WINDOW words before token i, same clause."""
    clause = tokens[i].clause
    for back in range(1, NEGATION_WINDOW + 1):
        j = i - back
        if j < 0 or tokens[j].clause != clause:
            return False
        if is_negation(tokens[j].text):
            return not any(t.text in INTENSIFIERS for t in tokens[j + 1 : i])
    return False


def inflections(keyword: str) -> tuple[tuple[str, ...], ...]:
    """Forms of a venue's own keyword: the last word plural, and -ed/-ing for 5+ letter words."""
    words = phrase(keyword)
    if not words:
        return ()
    head, last = words[:-1], words[-1]
    endings = {last, last + "s", last + "es"}
    if last.endswith("y") and len(last) > 2:
        endings.add(last[:-1] + "ies")
    if len(last) >= 5 and last.isalpha():
        stem = last[:-1] if last.endswith("e") else last
        endings.update({stem + "ed", stem + "ing"})
    return tuple((*head, e) for e in sorted(endings))
