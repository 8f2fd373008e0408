"""The offline template provider: tone by band, topics, names, varied wording, no compensation."""

from __future__ import annotations

import pytest

from encore_backend.providers.ai import (
    ReplyRequest,
    TemplateReplyProvider,
    check_draft,
    compensation_terms,
    detect_topics,
    needs_approval,
)
from encore_backend.providers.ai.checks import banned_phrases_in, find_placeholder

# A comment raising each topic, and the word a reply must then contain.
TOPIC_COMMENTS = {
    "food": ("The steak was overcooked.", "food"),
    "service": ("Our waiter was a bit distracted.", "service"),
    "cleanliness": ("The toilets were not very clean.", "cleanliness"),
    "wait": ("We waited 40 minutes for mains.", "wait"),
    "price": ("It felt rather expensive.", "prices"),
    "ambience": ("The music was very loud.", "atmosphere"),
    "drinks": ("The cocktails were something else.", "drinks"),
    "booking": ("Our reservation had been lost.", "booking"),
}
VENUE = "The Crown & Anchor"


def draft(rating: int, comment: str, name: str | None = "Anna", **kwargs: object):
    request = ReplyRequest(VENUE, "warm and friendly", name, rating, comment, **kwargs)
    return TemplateReplyProvider().draft(request)


@pytest.mark.parametrize("rating", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("topic", sorted(TOPIC_COMMENTS))
def test_every_band_and_topic_gives_a_polite_reply_mentioning_it(rating: int, topic: str) -> None:
    comment, word = TOPIC_COMMENTS[topic]
    result = draft(rating, comment)
    body = result.body
    assert body.strip() and result.subject.strip()
    assert word in body.lower(), body
    assert "thank" in body.lower()
    assert "Anna" in body and VENUE in body
    assert compensation_terms(body) == [] and compensation_terms(result.subject) == []
    assert needs_approval(body, None) == []
    assert find_placeholder(body) is None
    assert check_draft(result) == result
    assert (result.provider, result.model) == ("template", "template-v1")


def test_tone_follows_the_rating_band() -> None:
    assert "sorry" in draft(1, "The food was cold").body.lower()
    assert "sorry" in draft(2, "The food was cold").body.lower()
    assert "sorry" not in draft(5, "The food was great").body.lower()
    assert "sorry" not in draft(4, "Lovely food").body.lower()


def test_without_a_first_name_the_greeting_stays_graceful() -> None:
    for name in (None, "", "   ", "{{first_name}}", "[Name]"):
        body = draft(4, "Great food", name=name).body
        first_line = body.splitlines()[0]
        assert first_line in ("Hello,", "Dear guest,", "Hi there,"), first_line
        assert "None" not in body and "{{" not in body and "[Name]" not in body


def test_full_name_and_lower_case_are_reduced_to_a_first_name() -> None:
    body = draft(5, "Lovely", name="anna smith").body
    assert "Anna," in body.splitlines()[0] and "smith" not in body.lower()


def test_same_feedback_same_words_different_feedback_varied_words() -> None:
    assert draft(2, "The food was cold") == draft(2, "The food was cold")
    comments = [f"Visit number {i}: the food was cold and the wait long." for i in range(12)]
    bodies = {draft(2, c).body for c in comments}
    openings = {draft(2, c).body.split("\n\n")[1].split(".")[0] for c in comments}
    assert len(bodies) >= 6
    assert len(openings) >= 2


def test_several_topics_are_named_together_in_order_of_mention_at_most_three() -> None:
    comment = "Slow service, cold food and far too pricey."
    assert detect_topics(comment) == ("wait", "service", "food", "price")
    body = draft(2, comment).body
    assert "the wait, the service and the food" in body
    assert "prices" not in body


def test_topic_words_match_whole_words_with_endings_only() -> None:
    assert detect_topics("Our waiter was lovely") == ("service",)  # not "wait"
    assert detect_topics("We waited and waited") == ("wait",)
    assert detect_topics("Booked online, no problems") == ("booking",)
    assert detect_topics("barely acceptable") == ()  # "bar" is not in "barely"
    assert detect_topics("") == ()


def test_topics_given_in_the_request_win_over_detection() -> None:
    body = draft(3, "The food was fine", topics=("drinks",)).body
    assert "the drinks" in body and "the food" not in body


def test_no_comment_and_no_topics_still_reads_well() -> None:
    for rating in (1, 3, 5):
        body = draft(rating, "").body
        assert len(body.split()) > 20 and VENUE in body


def test_a_formal_brand_voice_uses_dear() -> None:
    request = ReplyRequest(VENUE, "Formal and understated", "Anna", 4, "Nice")
    assert TemplateReplyProvider().draft(request).body.startswith("Dear Anna,")


def test_a_critical_alert_still_needs_approval_for_a_template_reply() -> None:
    body = draft(1, "I was sick all night after the fish").body
    assert needs_approval(body, "critical") == ["answers feedback that raised a critical alert"]


# --- the venue's voice: tone, signature, banned phrases ---

TONES = ("warm", "formal", "playful")
# Words each tone's sign-offs use, and only that tone's.
SIGN_OFF_MARKERS = {
    "warm": ("Warm regards", "Best wishes", "With warm wishes"),
    "formal": ("Yours sincerely", "Kind regards", "With kind regards"),
    "playful": ("Cheers", "High fives", "Big smiles"),
}


def voiced(rating: int, comment: str, **voice: object):
    request = ReplyRequest(VENUE, None, "Anna", rating, comment, **voice)  # type: ignore[arg-type]
    return TemplateReplyProvider().draft(request)


@pytest.mark.parametrize("rating", [1, 3, 5])
def test_three_tones_give_three_texts_each_with_its_markers(rating: int) -> None:
    bodies = {tone: voiced(rating, "The food was cold", tone=tone).body for tone in TONES}
    assert len(set(bodies.values())) == 3
    for tone, body in bodies.items():
        sign_off = body.split("\n\n")[-1]
        assert sign_off.startswith(SIGN_OFF_MARKERS[tone]), (tone, sign_off)
    assert bodies["formal"].startswith("Dear Anna,")
    assert "'" not in bodies["formal"] and "!" not in bodies["formal"]  # no contractions
    assert bodies["playful"].splitlines()[0].endswith("!")


@pytest.mark.parametrize("tone", TONES)
@pytest.mark.parametrize("rating", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("topic", sorted(TOPIC_COMMENTS))
def test_every_tone_band_and_topic_reads_well_and_offers_nothing(
    tone: str, rating: int, topic: str
) -> None:
    comment, word = TOPIC_COMMENTS[topic]
    result = voiced(rating, comment, tone=tone)
    body = result.body.lower()
    assert word in body and "thank" in body and VENUE.lower() in body
    assert "anna" in body
    if rating <= 2:
        assert "sorry" in body or "apolog" in body or "regret" in body
    if tone == "formal":
        assert "'" not in result.body and "!" not in result.body
    assert compensation_terms(result.body) == [] and compensation_terms(result.subject) == []
    assert check_draft(result) == result


@pytest.mark.parametrize("tone", TONES)
def test_the_signature_replaces_the_sign_off_and_ends_the_body_once(tone: str) -> None:
    signature = "Maria Rossi\nGeneral manager"
    body = voiced(
        2, "Slow service", tone=tone, signature="  Maria  Rossi\n\n General manager "
    ).body
    assert body.endswith("\n\n" + signature) and body.count("Maria Rossi") == 1
    assert not any(marker in body for markers in SIGN_OFF_MARKERS.values() for marker in markers)


@pytest.mark.parametrize("tone", TONES)
def test_without_a_signature_the_sign_off_names_the_venue(tone: str) -> None:
    assert VENUE in voiced(4, "Nice", tone=tone).body.split("\n\n")[-1]


@pytest.mark.parametrize("tone", TONES)
@pytest.mark.parametrize("rating", [1, 3, 5])
def test_the_template_never_uses_a_banned_phrase(tone: str, rating: int) -> None:
    comment = "The food and the service"
    plain = voiced(rating, comment, tone=tone)
    # Ban three words of the opening and of the closing the plain draft used (in another
    # letter case): other variants stand in for them.
    paragraphs = plain.body.split("\n\n")
    banned = tuple(" ".join(p.split()[1:4]).upper() for p in (paragraphs[1], paragraphs[2]))
    result = voiced(rating, comment, tone=tone, banned_phrases=banned)
    assert banned_phrases_in(result.body, banned) == []
    assert banned_phrases_in(result.subject, banned) == []
    assert result.body != plain.body and "thank" in result.body.lower()


def test_a_sentence_whose_every_variant_is_banned_is_left_out() -> None:
    result = voiced(2, "cold", tone="warm", banned_phrases=("thank you", "sorry", "THE TEAM"))
    assert banned_phrases_in(result.body, ["thank you", "sorry", "the team"]) == []
    assert result.body.splitlines()[0] in ("Hi Anna,", "Dear Anna,", "Hello Anna,")
    assert check_draft(result) == result


def test_the_same_feedback_and_voice_gives_the_same_words() -> None:
    kwargs = {"tone": "playful", "banned_phrases": ("cheers",), "signature": "Sam"}
    assert voiced(5, "Great pizza", **kwargs) == voiced(5, "Great pizza", **kwargs)
