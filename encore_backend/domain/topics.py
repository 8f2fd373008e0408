"""The topic lexicon of report top issues, matched with the alert rules' negation handling.

Each topic has complaint words (the alert rules' illness and hygiene keywords among them), which
count in any feedback ("chips were slightly cold" in a 4-star review), and subject words, which
count only in feedback rated 2 or lower ("the drinks" in a 1-star review). A negation just
before cancels a match ("not noisy", "can't wait"). Feedback rated 2 or lower that names no
topic counts as "other", so "other" holds only what the lexicon cannot place, never the bulk.
"""

from __future__ import annotations

from collections.abc import Mapping

from encore_backend.domain.alert_vocabulary import CRITICAL, HYGIENE, I_WILL_VERBS
from encore_backend.domain.text_match import Term, TermIndex, normalise, phrase, tokenize

OTHER = "other"
SUBJECT_MAX_RATING = 2
COMPLAINT, SUBJECT = "complaint", "subject"

# topic: {word forms (comma-separated): following words that make it something else}
COMPLAINTS: dict[str, dict[str, str]] = {
    "food quality": {
        "cold, colder": "beer, beers, brew, drink, drinks, wine, cider, lager, brews",
        "lukewarm, bland, tasteless, flavourless, flavorless, overcooked, overdone": "",
        "undercooked, stale, burnt, burned, soggy, greasy, oily, salty, chewy, rubbery": "",
        "mushy, inedible, microwaved, not fresh, wasn't fresh, tough, salmonella": "",
        "dry": "aged, martini, martinis, rub, white, red, wine, cider, sherry, riesling",
        "raw": "bar, oysters, fish, salmon, tuna, vegan",
    },
    "service and staff": {
        "rude, rudely, rudeness, unfriendly, unhelpful, inattentive, impolite, dismissive": "",
        "arrogant, condescending, disrespectful, unprofessional, incompetent, careless": "",
        "ignored, ignoring, yelled, yelling, attitude, forgot, forgotten, wrong order": "",
        "order was wrong, orders were wrong, bad service, poor service, terrible service": "",
        "awful service, no apology, nobody apologised, nobody apologized, didn't care": "",
        "rolled his eyes, rolled her eyes, rolled their eyes, rolled eyes": "",
    },
    "cleanliness": {
        "unclean, unhygienic, grimy, grubby, sticky, smelly, stank, stink, stinks": "",
        "stinking, dust, dusty, stained, droppings": "",
    },
    "wait time": {
        "wait, waits, waiting": "staff, list, staffs",
        "waited, long wait, wait time, wait times, queue, queues, queued, queuing": "",
        "queueing, delay, delays, delayed, forever, for ages, took ages": "",
        "late": "night, nights, dinner, lunch, breakfast, brunch, evening, afternoon, supper",
        "slow, slowly, slower, slowest": "cooked, roasted, braised, roast, cooker",
    },
    "price and value": {
        "expensive, overpriced, pricey, overcharged, overcharging, rip off, ripoff": "",
        "ripped off, not worth, wasn't worth, isn't worth, poor value, bad value": "",
        "small portions, small portion, tiny portions, tiny portion, extortionate": "",
        "service charge, hidden charge, hidden charges, too much money": "",
    },
    "ambience and noise": {
        "noisy, noise, loud, louder, deafening, cramped, crowded, overcrowded, stuffy": "",
        "draughty, drafty, uncomfortable, no atmosphere, lacked atmosphere, soulless": "",
        "shabby, run down, rundown, smoky, too dark, too hot": "",
    },
    "drinks": {
        "flat": "white, whites, bread, breads, iron, fee, rate",
        "warm beer, warm wine, warm drinks, watered down, watery, corked, no ice": "",
        "weak coffee, weak drinks, weak cocktails, wrong drink, wrong drinks": "",
    },
    "booking": {
        "lost our booking, booking was lost, lost our reservation, reservation was lost": "",
        "no record, double booked, overbooked, turned away, table wasn't ready": "",
        "table was not ready, cancelled our booking, canceled our booking": "",
    },
}
SUBJECTS: dict[str, str] = {
    "food quality": "food, meal, meals, dish, dishes, mains, starters, dessert, desserts",
    "service and staff": "staff, waiter, waiters, waitress, waitresses, server, servers, "
    "manager, service, host, hostess, bartender",
    "cleanliness": "toilet, toilets, bathroom, bathrooms, restroom, restrooms, hygiene, cutlery",
    "wait time": "",
    "price and value": "price, prices, bill, charged, value, cost, money",
    "ambience and noise": "music, atmosphere, ambience, ambiance, decor, seating, seats, chairs",
    "drinks": "drink, drinks, cocktail, cocktails, wine, beer, beers, coffee, tea, pint, pints",
    "booking": "booking, bookings, booked, reservation, reservations, reserved",
}
TOPICS: tuple[str, ...] = tuple(COMPLAINTS)


def _phrases(listing: str) -> tuple[tuple[str, ...], ...]:
    return tuple(phrase(item) for item in listing.split(",") if item.strip())


def _complaint_terms(topic: str, groups: Mapping[str, str]) -> list[Term]:
    terms = []
    for forms, not_followed in groups.items():
        exceptions = _phrases(not_followed)
        terms += [Term(topic, COMPLAINT, " ".join(f), (f,), exceptions) for f in _phrases(forms)]
    return terms


def _alert_terms(topic: str, table: Mapping[str, tuple[str, str]]) -> list[Term]:
    """The alert rules' keywords with their exceptions ("hair dryer", "I'll" typed "ill")."""
    return [
        Term(
            topic,
            COMPLAINT,
            keyword,
            _phrases(forms),
            _phrases(not_followed),
            I_WILL_VERBS if keyword == "ill" else frozenset(),
        )
        for keyword, (forms, not_followed) in table.items()
    ]


def _terms() -> list[Term]:
    terms = _alert_terms("food quality", CRITICAL) + _alert_terms("cleanliness", HYGIENE)
    for topic, groups in COMPLAINTS.items():
        terms += _complaint_terms(topic, groups)
        subjects = _phrases(SUBJECTS[topic])
        terms += [Term(topic, SUBJECT, " ".join(f), (f,)) for f in subjects]
    return terms


_INDEX = TermIndex(_terms())


def issue_topics(comment: str | None, rating: int) -> frozenset[str]:
    """The topics a feedback raises as issues; "other" for a low rating that names none."""
    tokens = tokenize(normalise(comment or ""))
    low = rating <= SUBJECT_MAX_RATING
    found = {m.term.rule for m in _INDEX.find(tokens) if low or m.term.level == COMPLAINT}
    if not found and low:
        return frozenset({OTHER})
    return frozenset(found)
