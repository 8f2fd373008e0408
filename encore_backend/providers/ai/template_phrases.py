"""The template provider's wording: phrase pools by venue tone (warm, formal, playful), then by
rating band. Placeholders: {venue}, {name}, {topics}."""

from __future__ import annotations

# Phrase pools by tone, then by rating band. Formal never uses contractions or "!";
# playful greets and signs off with a lift but stays sincere about a complaint.
OPENINGS = {
    "warm": {
        "negative": (
            "Thank you for taking the time to tell us about your visit to {venue}, and I'm sorry "
            "it wasn't what you hoped for.",
            "Thank you for letting us know about your visit to {venue}; I'm sorry it didn't go "
            "as it should have.",
            "Thank you for your feedback on your visit to {venue}. I'm sorry we let you down.",
        ),
        "mixed": (
            "Thank you for your feedback on your visit to {venue}.",
            "Thanks for taking the time to tell us about your time at {venue}.",
            "Thank you for sharing your thoughts on your visit to {venue}.",
        ),
        "positive": (
            "Thank you so much for your lovely feedback about {venue}!",
            "Thank you for visiting {venue} — what a pleasure to read your feedback!",
            "Thank you for taking the time to share such kind words about {venue}.",
        ),
    },
    "formal": {
        "negative": (
            "Thank you for taking the time to write to us about your visit to {venue}. We are "
            "sorry that it did not meet your expectations.",
            "Thank you for informing us of your experience at {venue}. Please accept our "
            "apologies that your visit fell short of the standard we expect.",
            "Thank you for your feedback regarding your recent visit to {venue}. We sincerely "
            "regret that it was not satisfactory.",
        ),
        "mixed": (
            "Thank you for your feedback regarding your visit to {venue}.",
            "Thank you for taking the time to share your views on {venue}.",
            "We thank you for your comments on your recent visit to {venue}.",
        ),
        "positive": (
            "Thank you for your kind feedback regarding {venue}.",
            "Thank you for visiting {venue} and for your generous comments.",
            "Thank you for the kind words about your visit to {venue}; they are much appreciated.",
        ),
    },
    "playful": {
        "negative": (
            "Thanks for telling us about your visit to {venue}. Oh no, we're really sorry it "
            "wasn't the good time you came for.",
            "Thank you for being honest with us about your visit to {venue}; we're really sorry "
            "we dropped the ball.",
            "Thanks a lot for letting us know about your time at {venue}. We're sorry, that's "
            "not the visit we want anyone to have.",
        ),
        "mixed": (
            "Thanks for the feedback on your visit to {venue}!",
            "Thanks a bunch for telling us about your time at {venue}!",
            "Thank you for sharing the good and the not-so-good from your visit to {venue}!",
        ),
        "positive": (
            "Wow, thank you for the lovely feedback about {venue}!",
            "Thank you for visiting {venue}; your feedback made our day!",
            "Thanks a million for the kind words about {venue}!",
        ),
    },
}
TOPIC_LINES = {
    "warm": {
        "negative": (
            "I'm sorry to hear about {topics}; that is not the experience we want anyone to have.",
            "I'm truly sorry that {topics} fell short of what you expected.",
            "Your comments about {topics} have gone straight to the team so we can put things "
            "right.",
        ),
        "mixed": (
            "Your comments about {topics} help us see what to do better.",
            "Your notes on {topics} are really useful, and I've passed them on to the team.",
            "We're taking your points about {topics} on board.",
        ),
        "positive": (
            "It's lovely to hear your thoughts on {topics}; I'll make sure the team sees them.",
            "Your kind words about {topics} have made the team's day.",
            "Thank you for mentioning {topics}; it means a lot to everyone here.",
        ),
    },
    "formal": {
        "negative": (
            "We regret that {topics} did not meet our standards.",
            "Your remarks concerning {topics} have been passed to the management team for review.",
            "We are sorry that {topics} fell short of what you expected.",
        ),
        "mixed": (
            "Your observations regarding {topics} are appreciated and have been shared with the "
            "team.",
            "We have noted your remarks concerning {topics} and will consider them carefully.",
            "Your comments on {topics} will help us to improve.",
        ),
        "positive": (
            "We are pleased to learn that {topics} met with your approval; your remarks have "
            "been shared with the team.",
            "Your kind comments regarding {topics} are much appreciated by the whole team.",
            "Your remarks about {topics} are greatly valued by everyone here.",
        ),
    },
    "playful": {
        "negative": (
            "We're sorry {topics} let you down; the team is already on it.",
            "Sorry that {topics} didn't hit the spot; your notes have gone straight to the team.",
            "We're sorry about {topics}, and we're rolling up our sleeves to fix it.",
        ),
        "mixed": (
            "Your thoughts on {topics} are gold dust, and the team has them already.",
            "We're all ears on {topics} and already working on it.",
            "Your notes on {topics} have been passed around the whole team!",
        ),
        "positive": (
            "The team did a happy dance reading what you said about {topics}!",
            "Your shout-out for {topics} is going straight on the staff-room wall!",
            "We're grinning from ear to ear about your words on {topics}!",
        ),
    },
}
GENERAL_LINES = {
    "warm": {
        "negative": (
            "Your comments have gone straight to the team so we can learn from them.",
            "We take feedback like yours seriously and will look into what went wrong.",
        ),
        "mixed": (
            "We're glad parts of your visit went well, and we'd love to get everything right.",
            "We're always working to improve, and feedback like yours helps.",
        ),
        "positive": (
            "We're delighted you enjoyed your visit.",
            "It's wonderful to know you had a good time with us.",
        ),
    },
    "formal": {
        "negative": (
            "Your comments have been passed to the management team for careful review.",
            "We take such feedback seriously and will investigate the matter.",
        ),
        "mixed": (
            "We are pleased that parts of your visit were satisfactory, and we aim to improve "
            "on the rest.",
            "We are continually working to improve, and your feedback assists us in doing so.",
        ),
        "positive": (
            "We are delighted that you enjoyed your visit.",
            "It is a pleasure to know that your visit was an enjoyable one.",
        ),
    },
    "playful": {
        "negative": (
            "Your notes have gone straight to the team, and we're rolling up our sleeves.",
            "We're taking this to heart and working out what went wrong.",
        ),
        "mixed": (
            "Glad some of it hit the spot; we're on a mission to nail the rest.",
            "Every bit of feedback helps us up our game, so thank you!",
        ),
        "positive": (
            "So glad you had a great time with us!",
            "Sounds like a cracking visit, and that makes us very happy!",
        ),
    },
}
CLOSINGS = {
    "warm": {
        "negative": (
            "If you're willing, please reply to this email and tell us more; a manager will read "
            "it personally.",
            "We would really value the chance to welcome you back and show you a better visit.",
        ),
        "mixed": (
            "We hope to see you again at {venue} soon.",
            "We'd love to welcome you back soon.",
        ),
        "positive": (
            "We look forward to welcoming you back to {venue} soon.",
            "We can't wait to see you again!",
        ),
    },
    "formal": {
        "negative": (
            "Should you wish to share further details, please reply to this email; a manager "
            "will respond personally.",
            "We would welcome the opportunity to receive you again and to provide the service "
            "you deserve.",
        ),
        "mixed": (
            "We look forward to welcoming you to {venue} again.",
            "We hope to have the pleasure of receiving you again.",
        ),
        "positive": (
            "We look forward to welcoming you to {venue} again.",
            "We hope to have the pleasure of your company again soon.",
        ),
    },
    "playful": {
        "negative": (
            "If you fancy telling us more, just hit reply; a manager will read every word.",
            "We'd love another shot at giving you a great visit.",
        ),
        "mixed": (
            "Come back soon and see how we're doing at {venue}!",
            "We can't wait to have you back!",
        ),
        "positive": (
            "Come back soon, we'll keep a seat warm for you at {venue}!",
            "We can't wait to see you again!",
        ),
    },
}
GREETINGS = {
    "warm": ("Hi {name},", "Dear {name},", "Hello {name},"),
    "formal": ("Dear {name},",),
    "playful": ("Hey {name}!", "Hi {name}!", "Hello there, {name}!"),
}
ANONYMOUS_GREETINGS = {
    "warm": ("Hello,", "Dear guest,", "Hi there,"),
    "formal": ("Dear guest,", "Dear customer,"),
    "playful": ("Hey there!", "Hi friend!", "Hello there!"),
}
SIGN_OFFS = {
    "warm": (
        "Warm regards,\nThe {venue} team",
        "Best wishes,\nEveryone at {venue}",
        "With warm wishes,\nThe team at {venue}",
    ),
    "formal": (
        "Yours sincerely,\nThe management of {venue}",
        "Kind regards,\nThe team at {venue}",
        "With kind regards,\n{venue}",
    ),
    "playful": (
        "Cheers,\nThe {venue} crew",
        "High fives,\nEveryone at {venue}",
        "Big smiles,\nThe {venue} gang",
    ),
}
SUBJECTS = {
    "negative": ("About your visit to {venue}", "Your recent visit to {venue}"),
    "mixed": ("Your feedback about {venue}", "Thank you for your feedback, from {venue}"),
    "positive": ("Thank you from {venue}", "Thank you for visiting {venue}"),
}
FALLBACK_SUBJECT = "Your feedback"
