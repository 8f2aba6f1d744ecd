//! Forgetting and transfer (DESIGN.md §6).

/// Forgetting on the source task: source accuracy of the pretrained model (source head kept)
/// minus its source accuracy after fine-tuning. Exactly 0 when the two accuracies are equal, as
/// for a frozen backbone.
pub fn forgetting(pre: f64, post: f64) -> f64 {
    pre - post
}

/// Backward transfer (GEM, Lopez-Paz & Ranzato 2017) for two tasks: post − pre = −forgetting.
pub fn bwt(pre: f64, post: f64) -> f64 {
    post - pre
}

/// Transfer gain: target accuracy fine-tuned minus target accuracy of the same architecture
/// trained from scratch with the same data, epochs and seed. Negative means negative transfer.
pub fn transfer_gain(finetuned: f64, scratch: f64) -> f64 {
    finetuned - scratch
}
