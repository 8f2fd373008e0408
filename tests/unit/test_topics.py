"""The top-issues lexicon and the report figures: topics, negation, exceptions, "other", deltas."""

from __future__ import annotations

import pytest

from encore_backend.demo_text import ALERT_COMMENTS, COMMENTS, NEGATED_COMMENTS, SHOWCASE
from encore_backend.domain.report_content import (
    FeedbackFact,
    PeriodFacts,
    change,
    compose,
    figures,
    top_issues,
)
from encore_backend.domain.topics import OTHER, TOPICS, issue_topics


@pytest.mark.parametrize(
    ("comment", "topic"),
    [
        ("The chips were cold and the steak overcooked.", "food quality"),
        ("Felt sick all night after the prawns.", "food quality"),
        ("Our waitress was rude and unhelpful.", "service and staff"),
        ("Sticky tables and a smelly bathroom.", "cleanliness"),
        ("Found HAIRS in the soup!", "cleanliness"),
        ("We waited forty minutes for mains.", "wait time"),
        ("Service was painfully slow.", "wait time"),
        ("Way too expensive; a rip off.", "price and value"),
        ("It wasn't worth the money.", "price and value"),
        ("So noisy we couldn't hear each other.", "ambience and noise"),
        ("Flat beer and watered down cocktails.", "drinks"),
        ("They lost our booking and we were turned away.", "booking"),
    ],
)
def test_complaint_words_name_their_topic_at_any_rating(comment: str, topic: str) -> None:
    assert topic in issue_topics(comment, 4)
    assert topic in issue_topics(comment, 1)


@pytest.mark.parametrize(
    "comment",
    [
        "Not noisy at all.",
        "The food wasn't cold, it was perfect.",
        "Can't wait to come back!",
        "No hair, no crumbs, spotless.",
        "Never slow, always friendly.",
        "Not expensive for the quality.",
    ],
)
def test_a_negation_just_before_cancels_the_mention(comment: str) -> None:
    assert issue_topics(comment, 5) == frozenset()


@pytest.mark.parametrize(
    "comment",
    [
        "A great flat white.",
        "Slow-cooked lamb, melting.",
        "Dry aged steak to die for.",
        "Ice cold beer on a hot day.",
        "Perfect for a late night snack.",
        "The waiting staff were lovely.",
        "Borrowed a hair dryer from reception.",
        "Dirty martini was spot on.",
        "Ill be back next week!",
    ],
)
def test_phrases_that_only_look_like_complaints_are_not_issues(comment: str) -> None:
    assert issue_topics(comment, 5) == frozenset()


def test_subject_words_count_only_in_low_rated_feedback() -> None:
    comment = "The drinks and the booking."
    assert issue_topics(comment, 2) == {"drinks", "booking"}
    assert issue_topics(comment, 3) == frozenset()


def test_other_is_a_low_rating_that_names_no_topic() -> None:
    assert issue_topics("Terrible. Never again.", 1) == {OTHER}
    assert issue_topics("Terrible. Never again.", 3) == frozenset()
    assert issue_topics("", 2) == {OTHER}
    assert OTHER not in issue_topics("Terrible and overpriced.", 1)


def test_other_does_not_swallow_the_demo_complaints() -> None:
    low = [c for r, cs in COMMENTS.items() if r <= 2 for c in cs]
    low += list(ALERT_COMMENTS) + [c for r, c, _ in SHOWCASE if r <= 2]
    placed = [issue_topics(c, 2) for c in low]
    assert sum(1 for t in placed if t == {OTHER}) <= len(low) // 10
    found = set().union(*placed) | set().union(*(issue_topics(c, 4) for c in COMMENTS[4]))
    assert set(TOPICS) - found <= {"drinks"}  # drinks: only "flat drinks" in a 1-star comment
    assert all(issue_topics(c, 5) == frozenset() for c in NEGATED_COMMENTS)


def fact(feedback_id: int, rating: int, comment: str = "") -> FeedbackFact:
    return FeedbackFact(feedback_id, rating, comment)


def test_top_issues_rank_by_mentions_with_other_last_and_lowest_rated_examples() -> None:
    feedback = [
        fact(1, 2, "Cold food."),
        fact(2, 4, "Slightly cold chips and a long wait."),
        fact(3, 1, "Awful."),
        fact(4, 1, "Cold, cold, cold."),  # one feedback counts once
        fact(5, 3, "Slow."),
        fact(6, 1, "Bad."),
        fact(7, 2, "Overpriced."),
        fact(8, 5, "Lovely."),
    ]
    issues = top_issues(feedback)
    assert [(i["topic"], i["mentions"]) for i in issues] == [
        ("food quality", 3),
        ("wait time", 2),
        ("price and value", 1),
        (OTHER, 2),
    ]
    assert issues[0]["feedback_ids"] == [4, 1, 2]
    assert issues[1]["feedback_ids"] == [5, 2]


def test_figures_and_change_with_empty_periods_as_none() -> None:
    current = PeriodFacts(
        feedback=[fact(1, 5), fact(2, 4), fact(3, 1)],
        reply_hours=[1.0, 2.5],
        critical_alerts=[{"alert_id": "a", "feedback_id": 3, "title": "Critical: sick"}],
    )
    got = compose(current, PeriodFacts())
    assert got["total_feedback"] == 3 and got["average_rating"] == 3.33
    assert got["csat"] == 0.6667 and got["avg_response_time_hours"] == 1.75
    assert got["critical_alerts"] == 1 and got["critical_alert_list"][0]["alert_id"] == "a"
    assert got["rating_distribution"] == {"1": 1, "2": 0, "3": 0, "4": 1, "5": 1}
    assert got["previous"]["average_rating"] is None and got["change"]["csat"] is None
    assert got["change"]["total_feedback"] == 3
    before = figures(PeriodFacts(feedback=[fact(9, 3)], reply_hours=[4.0]))
    delta = change(figures(current), before)
    assert delta["average_rating"] == 0.33 and delta["avg_response_time_hours"] == -2.25
