//! What a text backbone's blocks pass along: token ids `[N, L]` into the first block, then
//! hidden states `[N, L, H + 1]` whose last feature is the attention mask (see
//! [`crate::spec::Modality::Text`]). Batches are cut to their longest example, and the token
//! states pooled into one feature vector per example.

use crate::spec::Pooling;
use tch::{Kind, Tensor};

/// Splits hidden states `[N, L, H + 1]` into the states `[N, L, H]` and the mask `[N, L]`.
pub fn split(x: &Tensor) -> (Tensor, Tensor) {
    let h = x.size()[2] - 1;
    (x.narrow(2, 0, h), x.select(2, h))
}

/// States `[N, L, H]` and mask `[N, L]` back into one `[N, L, H + 1]` tensor (the mask in the
/// states' kind).
pub fn join(h: &Tensor, mask: &Tensor) -> Tensor {
    Tensor::cat(&[h.shallow_clone(), mask.to_kind(h.kind()).unsqueeze(2)], 2)
}

/// What an embedding block reads from token ids `x` `[N, L]`: the ids as int64, their mask
/// (padding id `pad_id`) and the positions `0..L`. Panics when `L` exceeds `max_positions`, the
/// position table (callers cap `max_length`; a block cannot return an error).
pub fn embedding_inputs(x: &Tensor, pad_id: i64, max_positions: i64) -> (Tensor, Tensor, Tensor) {
    let len = x.size()[1];
    assert!(
        len <= max_positions,
        "text backbone input has {len} tokens per example; at most {max_positions} fit its \
         position embeddings (cap max_length)"
    );
    let ids = x.to_kind(Kind::Int64);
    let mask = ids.ne(pad_id).to_kind(Kind::Float);
    let positions = Tensor::arange(len, (Kind::Int64, ids.device()));
    (ids, mask, positions)
}

/// The attention mask of token ids `[N, L]` (padding id 0) or of hidden states `[N, L, H + 1]`,
/// as float `[N, L]` (1 for a token, 0 for padding), outside autograd (nothing learns it).
pub fn mask(x: &Tensor) -> Tensor {
    if x.dim() == 2 {
        x.ne(0).to_kind(Kind::Float)
    } else {
        x.select(2, -1).detach().to_kind(Kind::Float)
    }
}

/// Token counts of every example of `x` (ids or hidden states), int64 `[N]`.
pub fn lengths(x: &Tensor) -> Tensor {
    mask(x).sum_dim_intlist(1, false, Kind::Int64)
}

/// `x` cut to the longest example in it: the padding every example has in common is dropped
/// (padding always follows the tokens). Reads one number back from the device.
pub fn trim(x: &Tensor) -> Tensor {
    if x.size()[0] == 0 {
        return x.shallow_clone();
    }
    let longest = lengths(x).max().int64_value(&[]).max(1);
    if longest == x.size()[1] {
        x.shallow_clone()
    } else {
        x.narrow(1, 0, longest)
    }
}

/// One feature vector `[N, H]` per example from hidden states `[N, L, H + 1]`.
pub fn pool(h: &Tensor, pooling: Pooling) -> Tensor {
    let width = h.size()[2] - 1;
    let states = h.narrow(2, 0, width);
    match pooling {
        Pooling::Mean => {
            let m = h.narrow(2, width, 1);
            let sum = (&states * &m).sum_dim_intlist(1, false, None);
            sum / m.sum_dim_intlist(1, false, None).clamp_min(1e-9)
        }
        Pooling::Cls => states.select(1, 0),
        Pooling::Last => {
            let last = (lengths(h) - 1).clamp_min(0);
            let index = last.view([-1, 1, 1]).expand([-1, 1, width], false);
            states.gather(1, &index, false).squeeze_dim(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hidden states of two examples (3 and 1 tokens, padded to 3) with features 1..
    fn states() -> Tensor {
        let h = Tensor::from_slice(&[
            1.0f32, 2.0, 1.0, 3.0, 4.0, 1.0, 5.0, 6.0, 1.0, //
            7.0, 8.0, 1.0, 9.0, 9.0, 0.0, 9.0, 9.0, 0.0,
        ]);
        h.view([2, 3, 3])
    }

    fn rows(t: &Tensor) -> Vec<Vec<f32>> {
        let t = t.to_kind(Kind::Float);
        (0..t.size()[0])
            .map(|i| Vec::<f32>::try_from(t.get(i)).unwrap())
            .collect()
    }

    #[test]
    fn mean_pooling_leaves_padding_out() {
        assert_eq!(
            rows(&pool(&states(), Pooling::Mean)),
            [vec![3.0, 4.0], vec![7.0, 8.0]]
        );
    }

    #[test]
    fn cls_and_last_pick_the_first_and_the_last_token() {
        assert_eq!(
            rows(&pool(&states(), Pooling::Cls)),
            [vec![1.0, 2.0], vec![7.0, 8.0]]
        );
        assert_eq!(
            rows(&pool(&states(), Pooling::Last)),
            [vec![5.0, 6.0], vec![7.0, 8.0]]
        );
    }

    #[test]
    fn trimming_drops_only_the_padding_every_example_has() {
        let ids = Tensor::from_slice(&[101i64, 7, 102, 0, 0, 101, 102, 0, 0, 0]).view([2, 5]);
        assert_eq!(trim(&ids).size(), [2, 3]);
        assert_eq!(Vec::<i64>::try_from(lengths(&ids)).unwrap(), [3, 2]);
        let h = states().narrow(0, 1, 1);
        assert_eq!(trim(&h).size(), [1, 1, 3]);
        assert_eq!(trim(&states()).size(), [2, 3, 3]);
    }
}
