"""The alert rules of SPEC §7 as pure functions: keyword matching, rating rules, composition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from encore_backend.domain.alert_rules import (
    ALERT_RULE_IDS,
    FeedbackFacts,
    VenueRules,
    assess,
    evaluate,
    venue_rules,
)
from encore_backend.domain.enums import AlertLevel

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DEFAULT = VenueRules()

# (comment, expected level with a neutral 4-star rating; None = no alert)
COMMENTS = [
    # critical, with inflections, phrases, case and punctuation
    ("We all got food poisoning after the fish.", "critical"),
    ("FOOD POISONING!!!", "critical"),
    ("suspected food-poisoning from the oysters", "critical"),
    ("My son was sick all night", "critical"),
    ("Felt ill after the curry", "critical"),
    ("a mystery illness followed dinner", "critical"),
    ("He started vomiting in the car", "critical"),
    ("She vomited twice", "critical"),
    ("Diarrhoea the next day", "critical"),
    ("I had an allergic reaction to the sauce", "critical"),
    ("We ended up in HOSPITAL", "critical"),
    ("my wife threw up on the way home", "critical"),
    # critical negated
    ("Nobody got sick, great food", None),
    ("I wasn't sick at all", None),
    ("I wasn\u2019t sick, just full", None),  # curly apostrophe
    ("Didn't get sick despite the warnings", None),
    ("I didnt get sick", None),
    ("no food poisoning this time!", None),
    # negation only as emphasis, or across a clause
    ("Never been so sick in my life", "critical"),
    ("I was fine, but my friend was sick", "critical"),
    ("Not happy. Got sick overnight", "critical"),
    # false friends of the critical words
    ("Ill be back for sure!", None),  # I'll without apostrophe
    ("We will definitely return", None),
    ("An illustrious wine list", None),
    ("I'm sick of waiting for tables", None),
    ("The hospitality was superb", None),
    # hygiene (high)
    ("Saw a cockroach under the table", "high"),
    ("roaches in the bathroom", "high"),
    ("There were rats by the bins", "high"),
    ("A mouse ran past us", "high"),
    ("Found a HAIR in my soup", "high"),
    ("bugs everywhere", "high"),
    ("insects on the fruit", "high"),
    ("the bread was mouldy", "high"),
    ("moldy cheese", "high"),
    ("Filthy toilets", "high"),
    ("dirtiest cutlery I've seen", "high"),
    ("rat-infested alley entrance", "high"),
    # hygiene negated or false friends
    ("No hair, no bugs, spotless", None),
    ("not a single insect", None),
    ("The room was bug-free", None),
    ("Ratings online were accurate", None),
    ("Great pirate themed night", None),
    ("The hair dryer in the room was broken", None),
    ("Best dirty martini in town", None),
    ("gratitude to the staff", None),
    # conduct (medium)
    ("The waiter was rude", "medium"),
    ("Rudest host ever.", "medium"),
    ("we were ignored for 40 minutes", "medium"),
    ("The manager yelled at a colleague", "medium"),
    ("racist remarks from the bouncer", "medium"),
    ("utterly disrespectful", "medium"),
    ("Not only rude, but slow", "medium"),
    ("I can't believe how rude they were", "medium"),
    # conduct negated
    ("Staff were not rude at all", None),
    ("nobody was rude", None),
    ("never ignored, always attentive", None),
    # mixed: highest level wins
    ("Rude staff and a cockroach", "high"),
    ("The waiter was rude and I was sick afterwards", "critical"),
    ("no roaches but I felt ill", "critical"),
    # nothing to see
    ("Lovely evening, thank you!", None),
    ("", None),
    ("\u00e9t\u00e9 parfait, merci \U0001f600", None),
    (
        "\uff32\uff55\uff44\uff45 \uff57\uff41\uff49\uff54\uff45\uff52",
        "medium",
    ),  # fullwidth letters, NFKC
]


@pytest.mark.parametrize(("comment", "level"), COMMENTS)
def test_comment_level(comment: str, level: str | None) -> None:
    draft = assess(FeedbackFacts(rating=4, comment=comment, created_at=NOW), DEFAULT)
    assert (draft.level if draft else None) == level


def test_the_table_is_big_enough() -> None:
    assert len(COMMENTS) >= 40


def test_rating_rules() -> None:
    assert _level(rating=1) == "high"
    assert _level(rating=2) == "medium"
    assert _level(rating=3) is None


def test_high_value_customer_by_spend_or_tier() -> None:
    rules = VenueRules(high_value_min_spend=Decimal("500"))
    assert _level(rating=3, lifetime_value=Decimal("500"), rules=rules) == "high"
    assert _level(rating=3, lifetime_value=Decimal("499.99"), rules=rules) is None
    assert _level(rating=3, tier=" VIP ") == "high"
    assert _level(rating=3, tier="Platinum") == "high"
    assert _level(rating=4, tier="gold") is None
    assert _level(rating=3, tier="silver") is None


def test_repeated_complaint_counts_earlier_low_ratings_within_30_days() -> None:
    recent = (NOW - timedelta(days=29),)
    old = (NOW - timedelta(days=31),)
    assert _level(rating=2, earlier=recent) == "high"
    assert _level(rating=2, earlier=old) == "medium"  # rating 2 only
    assert _level(rating=3, earlier=recent) is None


def test_one_alert_with_every_reason_at_the_highest_level() -> None:
    facts = FeedbackFacts(
        rating=1,
        comment="Got food poisoning, and the waiter was rude about it",
        created_at=NOW,
        tier="gold",
        earlier_low_ratings=(NOW - timedelta(days=3),),
    )
    draft = assess(facts, DEFAULT)
    assert draft is not None
    assert draft.level == "critical"
    assert draft.title == "Critical: food poisoning mention (+4 more)"
    rules = [r["rule"] for r in draft.reasons]
    assert rules == [
        "critical_keyword",
        "rating",
        "high_value_customer",
        "repeated_complaint",
        "conduct_keyword",
    ]
    assert draft.reasons[0] == {
        "rule": "critical_keyword",
        "level": "critical",
        "keyword": "food poisoning",
        "matched": "food poisoning",
    }
    assert "“Got food poisoning, and the waiter was rude about it”" in draft.description


def test_description_quotes_a_short_snippet_around_the_match() -> None:
    comment = "x" * 300 + " then I was violently sick in the car park " + "y" * 300
    draft = assess(FeedbackFacts(rating=5, comment=comment), DEFAULT)
    assert draft is not None
    assert "…" in draft.description and "violently sick" in draft.description
    assert len(draft.description) < 250


def test_custom_keywords_at_their_level_with_plurals() -> None:
    rules = venue_rules(
        min_spend=1000,
        alert_keywords={"critical": ["salmonella"], "low": ["cold chip"], "bogus": ["x"]},
    )
    assert _level(comment="Salmonella!", rules=rules) == "critical"
    assert _level(comment="the cold chips", rules=rules) == "low"
    assert _level(comment="a cold dinner with chips", rules=rules) is None
    reasons = evaluate(FeedbackFacts(rating=5, comment="salmonella"), rules)
    assert reasons[0].as_dict() == {
        "rule": "custom_keyword",
        "level": "critical",
        "keyword": "salmonella",
        "matched": "salmonella",
    }


def test_disabled_rules_are_skipped() -> None:
    rules = venue_rules(min_spend=1000, alert_rules_disabled=["rating", "critical_keyword", "?"])
    assert rules.disabled == {"rating", "critical_keyword"}
    assert _level(rating=1, comment="I was sick", rules=rules) is None
    assert _level(rating=1, comment="I was sick and it was dirty", rules=rules) == "high"


def test_malformed_settings_are_ignored() -> None:
    rules = venue_rules(
        min_spend=1000, alert_keywords=["not", "a", "dict"], alert_rules_disabled="x"
    )
    assert rules == VenueRules(high_value_min_spend=Decimal("1000"))


def _level(
    *,
    rating: int = 4,
    comment: str = "",
    lifetime_value: Decimal | None = None,
    tier: str | None = None,
    earlier: tuple[datetime, ...] = (),
    rules: VenueRules = DEFAULT,
) -> str | None:
    facts = FeedbackFacts(rating, comment, NOW, lifetime_value, tier, earlier)
    draft = assess(facts, rules)
    return draft.level if draft else None


LEVELS = {level.value for level in AlertLevel}
keywords = st.dictionaries(
    st.sampled_from([*LEVELS, "nonsense"]), st.lists(st.text(max_size=20), max_size=4), max_size=3
)


@settings(max_examples=300, deadline=None)
@given(
    comment=st.text(max_size=400),
    rating=st.integers(min_value=-5, max_value=10),
    value=st.one_of(
        st.none(), st.decimals(allow_nan=True, allow_infinity=True), st.text(max_size=5)
    ),
    tier=st.one_of(st.none(), st.text(max_size=10)),
    extra=keywords,
    disabled=st.lists(st.sampled_from([*ALERT_RULE_IDS, "zzz"]), max_size=4),
)
def test_no_input_crashes_the_rules(
    comment: str, rating: int, value: object, tier: str | None, extra: dict, disabled: list
) -> None:
    rules = venue_rules(min_spend=1000, alert_keywords=extra, alert_rules_disabled=disabled)
    facts = FeedbackFacts(rating, comment, NOW, value, tier, (NOW - timedelta(days=1),))  # type: ignore[arg-type]
    draft = assess(facts, rules)
    assert draft is None or (draft.level in LEVELS and draft.reasons and len(draft.title) <= 300)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["rude", "not", "sick", "no", "hair", ",", "and", "\u2019", "RAT", "rating", " "]
        ),
        max_size=30,
    )
)
def test_word_salad_from_the_vocabulary_never_crashes(parts: list[str]) -> None:
    draft = assess(FeedbackFacts(rating=5, comment=" ".join(parts)), DEFAULT)
    assert draft is None or draft.level in LEVELS
