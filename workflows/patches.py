"""Every `workflow.patched` id, with the date it came: a patch keeps the histories of workflows
that ran before a change replaying unchanged (tests/replay/test_replay.py). An id is in those
histories, so it never changes; a patch is removed only once no workflow that ran before it
can still be running or replayed.

Oldest first; each says which workflow asks for it and what it guards.
"""

from __future__ import annotations

# 2026-11-28 — Declaration: publishes its documents (R21, R23). Every publication is behind
# it, so declarations that ran before documents existed replay unchanged.
DOCUMENTS = "documents-v1"

# 2026-11-28 — Declaration: sets the NextDeadline search attribute (models/search_attributes.py)
# with every transition.
NEXT_DEADLINE = "next-deadline-v1"

# 2026-11-28 — Round: publishes each committee batch's result-publicity list (R20).
RESULT_LIST = "result-list-v1"

# 2026-11-28 — Declaration: records each transition as a local activity, in the workflow task
# that decided it (one marker instead of three events and a workflow task).
RECORD_LOCALLY = "record-locally-v1"

# 2026-11-28 — Declaration: publishes attachment 4, the competent unit's opinion (R14), when
# it recommends. Came after DOCUMENTS.
COMPETENT_UNIT_OPINION = "attachment-4-v1"

# 2026-11-28 — Round: publishes attachment 1, the materials' requirements (R23), at its start.
MATERIAL_REQUIREMENTS = "attachment-1-v1"

# 2026-12-02 — Declaration: a transition the record database refuses (RecordRejected, not
# retried by Temporal) is shown in the state and the RecordFailing search attribute and
# written again on a backing-off timer; before, the record was retried without end.
RECORD_FAILURES = "record-failures-v1"

# 2026-12-02 — Declaration: the submit and resubmit handlers refuse a material whose title
# identifies the applicant (R11, rules/blind_review.py), as their validators do; the
# submissions of older histories were accepted without that check and replay as they ran.
IDENTIFYING_TITLES = "identifying-titles-v1"

# 2026-12-02 — Declaration: reminders before a deadline (rules/reminders.py): the main loop
# waits for the next reminder's moment when it comes before the stage's deadline (a timer
# of its own), then records it as a same-stage transition with its notification. Asked for
# in the first wait of a stage that has reminders (a running declaration adopts them there).
REMINDERS = "reminders-v1"

# 2026-12-02 — Round: the evaluation body's daily digest (a timer each morning at 09:00 from
# the opening of submission to the morning after the review closes, and its activity).
EVALUATION_DIGEST = "evaluation-digest-v1"

# 2026-12-02 — Declaration: a defense score is refused before the arranged defense starts
# (R18; the validator refuses it too). Scores recorded before this replay as they ran.
DEFENSE_SCORE_AFTER_START = "defense-score-after-start-v1"

# 2026-12-02 — Declaration: with `masked_text_check` in its input (the portal's declarations),
# the submit and resubmit handlers refuse materials whose masked copy's OCR check found
# identifying text or has not finished (R11, rules/blind_review.py masked_check_refusal), as
# the validators do. Asked for only in declarations with the flag, which older ones lack.
MASKED_TEXT_CHECK = "masked-text-check-v1"

ALL = (
    DOCUMENTS,
    NEXT_DEADLINE,
    RESULT_LIST,
    RECORD_LOCALLY,
    COMPETENT_UNIT_OPINION,
    MATERIAL_REQUIREMENTS,
    RECORD_FAILURES,
    IDENTIFYING_TITLES,
    REMINDERS,
    EVALUATION_DIGEST,
    DEFENSE_SCORE_AFTER_START,
    MASKED_TEXT_CHECK,
)
