-- Recovery point: set just before a write goes to the POS. A worker that died with it unset
-- never sent anything (safe to post again); with it set, the POS may have our request, so the
-- bill is read before any new write.
ALTER TABLE payments ADD COLUMN sending INTEGER NOT NULL DEFAULT 0;
-- When the POS last left a write unanswered: "not applied" is believed only after the POS has
-- had time to apply a late request (payments.reconcile_settle_ms).
ALTER TABLE payments ADD COLUMN unknown_since INTEGER;
