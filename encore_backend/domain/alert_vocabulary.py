"""The default keywords of SPEC §7, each with the word forms that count as it."""

from __future__ import annotations

from encore_backend.domain.text_match import Term, phrase, words

# keyword: (forms, following words that make it something else), forms comma-separated.
CRITICAL = {
    "food poisoning": ("food poisoning, food poisoned, poisoning, poisoned", ""),
    "sick": ("sick, sicker, sickest, sickness, sickened", "of, and tired"),
    "ill": ("ill, illness, illnesses", ""),
    "vomit": (
        "vomit, vomits, vomited, vomiting, vomitted, vomitting, puke, puked, puking, "
        "threw up, throw up, throwing up",
        "",
    ),
    "diarrhea": ("diarrhea, diarrhoea", ""),
    "allergic reaction": ("allergic reaction, allergic reactions, anaphylaxis, anaphylactic", ""),
    "hospital": (
        "hospital, hospitals, hospitalized, hospitalised, hospitalization, hospitalisation",
        "",
    ),
}
HYGIENE = {
    "roach": ("roach, roaches", ""),
    "cockroach": ("cockroach, cockroaches", ""),
    "rat": ("rat, rats", ""),
    "mice": ("mice, mouse", ""),
    "hair": (
        "hair, hairs",
        "dryer, dryers, drier, driers, salon, tie, ties, dye, band, bands, straightener",
    ),
    "bug": ("bug, bugs, bedbug, bedbugs", ""),
    "insect": ("insect, insects", ""),
    "mold": ("mold, mould, molds, moulds, moldy, mouldy", ""),
    "dirty": ("dirty, dirtier, dirtiest", "martini, martinis, chai, fries, dancing"),
    "filthy": ("filthy, filthier, filthiest, filth", ""),
}
CONDUCT = {
    "rude": ("rude, rudely, rudeness, ruder, rudest", ""),
    "disrespectful": (
        "disrespectful, disrespectfully, disrespect, disrespected, disrespecting",
        "",
    ),
    "racist": ("racist, racists, racism, racially", ""),
    "yelled": ("yell, yells, yelled, yelling", ""),
    "ignored": ("ignored, ignoring", ""),
}
# "Ill be back": a clause-opening "ill" before one of these is "I'll" without its apostrophe.
I_WILL_VERBS = words(
    "be come go never definitely def certainly probably not return recommend tell try have see "
    "give leave stick visit book let make take get just always also"
)


def _phrases(listing: str) -> tuple[tuple[str, ...], ...]:
    return tuple(phrase(item) for item in listing.split(",") if item.strip())


def _terms(rule: str, level: str, table: dict[str, tuple[str, str]]) -> list[Term]:
    return [
        Term(
            rule=rule,
            level=level,
            keyword=keyword,
            forms=_phrases(forms),
            not_followed_by=_phrases(not_followed_by),
            not_clause_start_before=I_WILL_VERBS if keyword == "ill" else frozenset(),
        )
        for keyword, (forms, not_followed_by) in table.items()
    ]


DEFAULT_TERMS: tuple[Term, ...] = (
    *_terms("critical_keyword", "critical", CRITICAL),
    *_terms("hygiene_keyword", "high", HYGIENE),
    *_terms("conduct_keyword", "medium", CONDUCT),
)
