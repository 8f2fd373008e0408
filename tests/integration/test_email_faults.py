"""Fault test: an SMTP server failing about 30 % of commands at random, 200 due emails.

Transient 4xx replies and dropped connections at MAIL, RCPT and DATA, and at the end of the data
a 4xx, a dropped connection or a stall past the client timeout. The sender runs until nothing is
pending, the manual clock moved past every backoff. Expect every email delivered exactly once or
parked (`failed`: "outcome unknown", or EMAIL_MAX_ATTEMPTS spent), no message handed over twice,
and the counts adding up.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest
from reply_support import all_rows, feedback, use_manual_sleep, venue
from support.raw_smtp_server import DROP, STALL, RawSmtpServer

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.providers.email.smtp import SmtpEmailSender
from encore_backend.scheduler.jobs import ai_generator, email_sender
from encore_backend.services.email_service import SENDER_KEY
from encore_backend.storage.sql import models as m

EMAILS, MAX_ATTEMPTS, FAULT_RATE = 200, 5, 0.3
BEFORE_DOT = ("451 4.3.0 Try again later", "452 4.3.1 Busy", "421 4.3.2 Closing", DROP)
AT_DOT = ("451 4.3.0 Queue full", DROP, DROP, STALL)


def random_faults(seed: int) -> object:
    """~30 % of MAIL, RCPT, DATA and end-of-data replies fail, chosen at random."""
    rng, lock = random.Random(seed), threading.Lock()

    def decide(step: str) -> str | None:
        with lock:
            if step == "QUIT" or rng.random() >= FAULT_RATE:
                return None
            return rng.choice(AT_DOT if step == "DOT" else BEFORE_DOT)

    return decide


def queue_backlog(ctx: Container) -> None:
    venue(ctx, auto_send_enabled=True, auto_send_delay_minutes=0)
    for _ in range(EMAILS):
        feedback(ctx)
    while len(all_rows(ctx, m.email_queue)) < EMAILS:
        assert ai_generator.run(ctx, ctx.clock.now()).items_processed > 0


@pytest.mark.slow
def test_random_smtp_faults_deliver_each_email_once_or_park_it(
    ctx: Container, clock: ManualClock
) -> None:
    update = {
        "email_max_attempts": MAX_ATTEMPTS,
        "max_emails_per_minute": 10_000,
        "max_ai_generations_per_minute": 10_000,
    }
    ctx.settings = ctx.settings.model_copy(update=update)
    use_manual_sleep(ctx, clock)
    queue_backlog(ctx)
    totals: Counter[str] = Counter()
    with RawSmtpServer(decide=random_faults(8)) as server:  # type: ignore[arg-type]
        ctx.extras[SENDER_KEY] = SmtpEmailSender(host="127.0.0.1", port=server.port, timeout=0.3)
        for _ in range(30):
            totals.update(email_sender.run(ctx, clock.now()).details)
            if not {"pending", "sending"} & {i["status"] for i in all_rows(ctx, m.email_queue)}:
                break
            clock.advance(hours=1)  # past any backoff
        items = all_rows(ctx, m.email_queue)
        copies = {i["message_id"]: Counter(server.copies(i["message_id"])) for i in items}
        accepted = server.accepted()

    kinds = Counter(_parked_as(item, copies[item["message_id"]]) for item in items)
    assert set(kinds) <= {"sent", "outcome unknown", "attempts exhausted"}, kinds
    assert sum(kinds.values()) == EMAILS
    assert len(accepted) == len(set(accepted)) == kinds["sent"] == totals["sent"]
    assert kinds["outcome unknown"] == totals["outcome_unknown"] > 0
    assert totals["retried"] > EMAILS // 2  # the faults were real and retried
    assert max(i["attempts"] for i in items) <= MAX_ATTEMPTS


def _parked_as(item: dict, copies: Counter[str]) -> str:
    """What became of one email, checked against what the server received of it."""
    handed_over = copies["accepted"] + copies["dropped"] + copies["stalled"]
    assert handed_over <= 1, (item["queue_id"], copies)  # never two copies handed over
    if item["status"] == "sent":
        assert copies["accepted"] == 1, copies
        return "sent"
    assert item["status"] == "failed", item["status"]
    if item["error"] == "outcome unknown":
        assert copies["dropped"] + copies["stalled"] == 1 and copies["accepted"] == 0
        return "outcome unknown"
    assert handed_over == 0 and item["attempts"] == MAX_ATTEMPTS, (item["error"], item["attempts"])
    assert f"gave up after {MAX_ATTEMPTS} attempts" in item["error"]
    return "attempts exhausted"
