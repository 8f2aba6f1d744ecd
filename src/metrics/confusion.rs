//! Per-class results: the confusion counts of a classifier's predictions (rows the actual class,
//! columns the predicted one) and the per-class accuracies (recall) they give.

/// Confusion counts of `classes` classes: `counts[actual][predicted]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confusion {
    pub counts: Vec<Vec<u64>>,
}

impl Confusion {
    /// Counts each (actual, predicted) pair of class indices.
    ///
    /// # Panics
    /// If the slices differ in length or an index is outside `0..classes`.
    pub fn count(classes: usize, actual: &[i64], predicted: &[i64]) -> Self {
        assert_eq!(
            actual.len(),
            predicted.len(),
            "confusion: {} labels but {} predictions",
            actual.len(),
            predicted.len()
        );
        let mut counts = vec![vec![0u64; classes]; classes];
        for (&a, &p) in actual.iter().zip(predicted) {
            let index = |c: i64| {
                usize::try_from(c)
                    .ok()
                    .filter(|&c| c < classes)
                    .unwrap_or_else(|| panic!("confusion: class {c} outside 0..{classes}"))
            };
            counts[index(a)][index(p)] += 1;
        }
        Confusion { counts }
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.counts.len()
    }

    /// Examples counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Examples predicted as their actual class (the diagonal).
    pub fn correct(&self) -> u64 {
        (0..self.classes()).map(|c| self.counts[c][c]).sum()
    }

    /// Examples of class `actual` (its row's sum).
    pub fn row_total(&self, actual: usize) -> u64 {
        self.counts[actual].iter().sum()
    }

    /// Accuracy over every example: correct / total (NaN without examples).
    pub fn accuracy(&self) -> f64 {
        self.correct() as f64 / self.total() as f64
    }

    /// The accuracy (recall) of class `actual`; `None` when it has no examples.
    pub fn class_accuracy(&self, actual: usize) -> Option<f64> {
        let n = self.row_total(actual);
        (n > 0).then(|| self.counts[actual][actual] as f64 / n as f64)
    }

    /// The non-zero cells as (actual, predicted, count), row by row.
    pub fn cells(&self) -> impl Iterator<Item = (usize, usize, u64)> + '_ {
        self.counts.iter().enumerate().flat_map(|(a, row)| {
            row.iter()
                .enumerate()
                .filter(|(_, &n)| n > 0)
                .map(move |(p, &n)| (a, p, n))
        })
    }

    /// The confusion of the argmax predictions of `logits` (`[N, classes]`) against `labels`
    /// (`[N]` class indices); `None` when `logits` is not a matrix (an empty split's
    /// placeholder).
    #[cfg(feature = "train")]
    pub fn of_logits(logits: &tch::Tensor, labels: &tch::Tensor) -> Option<Self> {
        let size = logits.size();
        if size.len() != 2 {
            return None;
        }
        let classes = usize::try_from(size[1]).ok()?;
        let predicted = super::to_vec_i64(&logits.argmax(-1, false));
        Some(Confusion::count(
            classes,
            &super::to_vec_i64(labels),
            &predicted,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_to_the_overall_accuracy() {
        // 3 classes, 8 examples: class 0 right 2 of 3, class 1 right 1 of 2, class 2 right 3 of 3.
        let actual = [0, 0, 0, 1, 1, 2, 2, 2];
        let predicted = [0, 0, 2, 1, 0, 2, 2, 2];
        let c = Confusion::count(3, &actual, &predicted);
        assert_eq!(c.counts, vec![vec![2, 0, 1], vec![1, 1, 0], vec![0, 0, 3]]);
        assert_eq!((c.total(), c.correct()), (8, 6));
        assert_eq!(c.accuracy(), 0.75);
        assert_eq!(c.class_accuracy(0), Some(2.0 / 3.0));
        assert_eq!(c.class_accuracy(1), Some(0.5));
        assert_eq!(c.class_accuracy(2), Some(1.0));
        let rows: u64 = (0..3).map(|a| c.row_total(a)).sum();
        assert_eq!(rows, 8);
        assert_eq!(
            c.cells().collect::<Vec<_>>(),
            [(0, 0, 2), (0, 2, 1), (1, 0, 1), (1, 1, 1), (2, 2, 3)]
        );
    }

    #[test]
    fn a_class_without_examples_has_no_accuracy() {
        let c = Confusion::count(3, &[0, 1], &[2, 1]);
        assert_eq!(c.class_accuracy(2), None);
        assert_eq!(c.class_accuracy(0), Some(0.0));
        assert!(Confusion::count(2, &[], &[]).accuracy().is_nan());
    }

    #[test]
    #[should_panic(expected = "class 3 outside 0..3")]
    fn a_class_out_of_range_is_a_caller_bug() {
        Confusion::count(3, &[0], &[3]);
    }

    #[cfg(feature = "train")]
    #[test]
    fn logits_are_counted_by_their_argmax() {
        let logits = tch::Tensor::from_slice(&[2.0f32, 1.0, 0.0, 3.0, 0.5, -1.0]).view([3, 2]);
        let labels = tch::Tensor::from_slice(&[0i64, 1, 1]);
        let c = Confusion::of_logits(&logits, &labels).unwrap();
        assert_eq!(c.counts, vec![vec![1, 0], vec![1, 1]]);
        assert_eq!(
            Confusion::of_logits(&tch::Tensor::zeros([0], tch::kind::FLOAT_CPU), &labels),
            None
        );
    }
}
