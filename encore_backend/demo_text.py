"""The words of the demo data: names, comment templates, and one comment per alert rule."""

from __future__ import annotations

# fmt: off
FIRST_NAMES = (
    "Olivia", "Liam", "Amelia", "Noah", "Priya", "Arjun", "Mia", "Lucas", "Chloe", "Mateo",
    "Aisha", "Ethan", "Sofia", "Hiro", "Grace", "Kwame", "Isla", "Diego", "Zara", "Finn",
)
LAST_NAMES = (
    "Smith", "Nguyen", "Patel", "Garcia", "Brown", "Kim", "Okafor", "Rossi", "Walker", "Singh",
    "Murphy", "Chen", "Lopez", "Taylor", "Haddad", "Evans", "Kowalski", "Reyes", "Ito", "Clarke",
)
# fmt: on

COMMENTS: dict[int, tuple[str, ...]] = {
    5: (
        "Fantastic evening, the lamb was perfectly cooked and the staff were lovely.",
        "Best brunch in town. The coffee is superb!",
        "Our server went above and beyond for my mum's birthday. Thank you!",
        "Everything was spot on, from the cocktails to the dessert.",
        "Absolutely loved it, we'll be back next week.",
        "Great atmosphere, friendly team and generous portions.",
        "The tasting menu was a delight. Worth every penny.",
        "",
    ),
    4: (
        "Really good food, just a short wait for a table.",
        "Lovely meal; the dessert menu could use more choice.",
        "Friendly service and tasty curry. A bit loud on a Friday.",
        "Great value lunch special. Chips were slightly cold.",
        "Nice spot for a quick dinner, would recommend.",
        "Good coffee, comfy seats. Wi-Fi was patchy.",
    ),
    3: (
        "It was okay. Nothing special but nothing wrong either.",
        "Food was fine, service was slow tonight.",
        "Average experience; the steak was overdone.",
        "Decent but a bit pricey for what you get.",
        "Mixed feelings: great starters, bland mains.",
    ),
    2: (
        "Waited 50 minutes for our mains and nobody apologised.",
        "Disappointing. The fish was dry and the chips soggy.",
        "Booking was lost and we had to wait at the bar for ages.",
        "Too expensive for such small portions.",
        "Cold food and a long wait. Not what we expected.",
    ),
    1: (
        "Terrible experience from start to finish.",
        "Worst meal I've had in years. Never again.",
        "Order was wrong twice and the manager didn't care.",
        "Awful. Burnt pizza and flat drinks.",
    ),
}

# Low-rating comments that raise alerts (critical, hygiene and conduct keywords, inflections).
ALERT_COMMENTS = (
    "I got food poisoning after the seafood platter.",
    "My husband was violently ill that night.",
    "Felt sick for two days after eating here.",
    "My daughter had an allergic reaction even though we told the waiter about nuts.",
    "Saw two cockroaches near the kitchen door.",
    "There was a long hair in my risotto.",
    "The tables were dirty and the bathroom was filthy.",
    "Found a bug in the salad. Gross!",
    "Mould on the bread roll. Unacceptable.",
    "The waiter was rude and rolled his eyes at us.",
    "We were completely ignored for 40 minutes.",
    "The manager yelled at a junior staff member in front of everyone.",
    "Staff were disrespectful when we raised a complaint.",
)

# Happy comments where a negation cancels a keyword: these must NOT raise alerts.
NEGATED_COMMENTS = (
    "Staff were not rude at all, just busy. Food was great.",
    "Spotless as always, no hair or crumbs anywhere.",
    "I wasn't sick despite my sensitive stomach. Gentle, fresh food!",
    "Not dirty in the slightest, really clean place.",
)

# (rating, comment, customer) shown in the last week of every demo venue: one per alert rule.
# customer: None (anonymous), "vip" (high-value customer), "repeat" (the repeated complainer).
SHOWCASE: tuple[tuple[int, str, str | None], ...] = (
    (1, "Two of us got FOOD POISONING after the prawns. Vomiting all night!", None),
    (2, "Found a cockroach crawling under our table. Disgusting.", None),
    (2, "Our server was rude and we were ignored for half an hour.", None),
    (1, "Cold, late and overpriced. The worst meal in years.", None),
    (3, "Expected more for the price. Service was slow tonight.", "vip"),
    (2, "Waited an hour for mains again, the food was lukewarm.", "repeat"),
    (1, "Second bad visit this month. Cold food, long wait, no apology.", "repeat"),
    (3, "We were overcharged on the wine and nobody noticed.", None),
    (2, "Our table heard the chef say the chicken might have salmonella??", None),
    (1, "FILTHY!!! Mice droppings by the door.", None),
    (4, "Staff were not rude at all, and there was no hair in the food this time.", None),
)
