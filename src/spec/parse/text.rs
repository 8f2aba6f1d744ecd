//! The settings of text backbones: `max_length` (an axis) and `pooling`.

use super::*;

impl Parser<'_> {
    /// One `max_length:` value: tokens per example, 8..=512 (BERT's position table).
    pub(super) fn max_length(&mut self, v: &Value, path: &[Seg]) -> Option<Option<usize>> {
        self.usize_in(v, path, (8, 512), "tokens per example", " tokens")
            .map(Some)
    }

    /// `pooling: mean | cls | last`, for text backbones only.
    pub(super) fn pooling(
        &mut self,
        v: &Value,
        path: &[Seg],
        backbones: &[Av<BackboneKind>],
    ) -> Option<Pooling> {
        let v = self.single(
            v,
            path,
            "pooling is not an axis; give one of mean, cls, last",
        )?;
        let names: Vec<&str> = Pooling::ALL.iter().map(|p| p.name()).collect();
        let s = self.string(v, path, &format!("a pooling ({})", names.join(", ")))?;
        let Some(pooling) = Pooling::ALL.iter().copied().find(|p| p.name() == s) else {
            self.diag.err(
                path,
                format!(
                    "unknown pooling `{s}`{}Poolings: {}",
                    did_you_mean(s, &names),
                    names.join(", ")
                ),
            );
            return None;
        };
        let mut ok = true;
        for b in backbones {
            if b.value.profile().modality != Modality::Text {
                self.diag.err(
                    path,
                    format!(
                        "pooling applies to text backbones; `{}` reads images (it averages its \
                         last feature map)",
                        b.value
                    ),
                );
                ok = false;
            }
        }
        ok.then_some(pooling)
    }
}
