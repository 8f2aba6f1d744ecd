//! WordPiece tokenization for text backbones, read from the checkpoint's `tokenizer.json`
//! (Hugging Face `tokenizers` format): lower-casing, BERT pre-tokenization, `[CLS] … [SEP]`.

use super::zoo::gpt::ByteTokenizer;
use crate::data::Tokenize;
use crate::spec::BackboneKind;
use anyhow::{anyhow, bail, Context, Result};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use tokenizers::Tokenizer;

/// A text backbone's tokenizer. Encodes without padding (callers pad with [`TextTokenizer::pad_id`]
/// after each example's tokens) and truncates itself to the `max_length` asked for, whatever
/// the file says.
pub struct TextTokenizer {
    inner: Tokenizer,
    pad_id: i64,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("vocab", &self.inner.get_vocab_size(true))
            .field("pad_id", &self.pad_id)
            .finish()
    }
}

impl TextTokenizer {
    /// The tokenizer of text backbone `kind`, read once per process: WordPiece for
    /// `minilm_l6`, bytes for `gpt_tiny`.
    pub fn for_backbone(kind: BackboneKind) -> Result<Arc<dyn Tokenize + Send + Sync>> {
        static MINILM: OnceLock<Mutex<Option<Arc<TextTokenizer>>>> = OnceLock::new();
        match kind {
            BackboneKind::MinilmL6 => {
                let mut slot = MINILM.get_or_init(Default::default).lock().unwrap();
                if slot.is_none() {
                    *slot = Some(Arc::new(TextTokenizer::from_dir(
                        &crate::paths::minilm_dir(),
                    )?));
                }
                Ok(slot.clone().expect("just loaded"))
            }
            BackboneKind::GptTiny => Ok(Arc::new(ByteTokenizer)),
            other => bail!("backbone {other} reads images, not text"),
        }
    }

    /// Loads `tokenizer.json` from a weights folder (e.g. [`crate::paths::minilm_dir`]).
    pub fn from_dir(dir: &Path) -> Result<Self> {
        Self::from_file(&dir.join("tokenizer.json"))
    }

    /// Loads a `tokenizer.json` file, dropping its own padding and truncation settings.
    pub fn from_file(path: &Path) -> Result<Self> {
        if !path.is_file() {
            bail!(
                "tokenizer file {} does not exist; run `make weights` to fetch it",
                path.display()
            );
        }
        let mut inner = Tokenizer::from_file(path)
            .map_err(|e| anyhow!("{e}"))
            .with_context(|| format!("cannot read tokenizer file {}", path.display()))?;
        let pad_id = match inner.get_padding() {
            Some(p) => p.pad_id,
            None => inner.token_to_id("[PAD]").unwrap_or(0),
        };
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| anyhow!("{e}"))
            .with_context(|| format!("tokenizer {}", path.display()))?;
        Ok(TextTokenizer {
            inner,
            pad_id: pad_id as i64,
        })
    }

    /// Token ids of each text with the special tokens (`[CLS] … [SEP]`), at most `max_length`
    /// of them (≥ 2): longer texts lose their last word pieces, keeping the final `[SEP]`.
    pub fn encode(&self, texts: &[&str], max_length: usize) -> Result<Vec<Vec<i64>>> {
        if max_length < 2 {
            bail!("max_length {max_length} leaves no room for [CLS] and [SEP]");
        }
        texts
            .iter()
            .map(|text| {
                let enc = self
                    .inner
                    .encode(*text, true)
                    .map_err(|e| anyhow!("cannot tokenize {text:?}: {e}"))?;
                let mut ids: Vec<i64> = enc.get_ids().iter().map(|&i| i as i64).collect();
                if ids.len() > max_length {
                    let last = ids[ids.len() - 1];
                    ids.truncate(max_length - 1);
                    ids.push(last);
                }
                Ok(ids)
            })
            .collect()
    }

    /// Id of the padding token (0 for BERT vocabularies), which is never a real token.
    pub fn pad_id(&self) -> i64 {
        self.pad_id
    }
}

impl Tokenize for TextTokenizer {
    fn encode(&self, texts: &[&str], max_length: usize) -> Result<Vec<Vec<i64>>> {
        TextTokenizer::encode(self, texts, max_length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minilm() -> Option<TextTokenizer> {
        let dir = crate::paths::minilm_dir();
        if !dir.join("tokenizer.json").is_file() {
            eprintln!("SKIPPED: {} absent (make weights)", dir.display());
            return None;
        }
        Some(TextTokenizer::from_dir(&dir).unwrap())
    }

    #[test]
    fn minilm_encodes_with_cls_and_sep_and_truncates_keeping_sep() {
        let Some(tok) = minilm() else { return };
        assert_eq!(tok.pad_id(), 0);
        let ids = tok
            .encode(&["The movie was surprisingly good!", "Hi"], 512)
            .unwrap();
        assert_eq!(ids[0], [101, 1996, 3185, 2001, 10889, 2204, 999, 102]);
        assert_eq!(ids[1].len(), 3);
        let short = tok
            .encode(&["The movie was surprisingly good!"], 5)
            .unwrap();
        assert_eq!(short[0], [101, 1996, 3185, 2001, 102]);
        assert!(tok.encode(&["x"], 1).is_err());
    }

    #[test]
    fn a_missing_tokenizer_file_says_how_to_get_it() {
        let err = TextTokenizer::from_dir(Path::new("/nonexistent/all-MiniLM-L6-v2")).unwrap_err();
        let msg = format!("{err}");
        assert!(
            msg.contains("tokenizer.json") && msg.contains("make weights"),
            "{msg}"
        );
    }
}
