-- Version 5: mixed precision. Each trial records the precision it was fine-tuned and evaluated
-- in (fp32 or bf16; every earlier trial ran in fp32; trial_summary shows it and transfer_gain
-- compares a trial only with the from-scratch trial of the same precision). split_files records
-- each file's position in its split (the order the trial's tensors hold, which its seeded
-- shuffles permute), so another program can replay the same batches.

ALTER TABLE trials ADD COLUMN precision TEXT NOT NULL DEFAULT 'fp32';
ALTER TABLE split_files ADD COLUMN position INTEGER;   -- 0-based within the split; NULL before v5
