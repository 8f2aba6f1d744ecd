-- Version 7: text. Each trial records the tokens its text examples were cut to (text backbones;
-- NULL for images), so trial_summary shows it and transfer_gain compares a trial only with the
-- from-scratch trial of the same length.

ALTER TABLE trials ADD COLUMN max_length INTEGER;
