//! One value of an axis, or of a single-valued key: backbone, weights, freeze, shift, ...

use super::*;
use serde::Deserialize;
use serde_norway::value::{Tag, TaggedValue};

impl Parser<'_> {
    pub(super) fn precision(&mut self, v: &Value, path: &[Seg]) -> Option<Precision> {
        let names: Vec<&str> = Precision::ALL.iter().map(|p| p.name()).collect();
        let s = self.string(v, path, &format!("a precision ({})", names.join(", ")))?;
        if let Some(p) = Precision::ALL.iter().find(|p| p.name() == s) {
            return Some(*p);
        }
        let hint = if s == "fp16" {
            ". fp16 needs loss scaling, which thaw does not do; bf16 has fp32's range and needs \
             none (GPUs from Ampere/Hopper on, and any CPU). "
                .to_string()
        } else {
            did_you_mean(s, &names)
        };
        self.diag.err(
            path,
            format!(
                "unknown precision `{s}`{hint}Precisions: {}",
                names.join(", ")
            ),
        );
        None
    }

    pub(super) fn backbone(&mut self, v: &Value, path: &[Seg]) -> Option<BackboneKind> {
        let names: Vec<&str> = BackboneKind::ALL.iter().map(|b| b.name()).collect();
        let s = self.string(v, path, &format!("a backbone name ({})", names.join(", ")))?;
        match BackboneKind::ALL.iter().find(|b| b.name() == s) {
            Some(b) => Some(*b),
            None => {
                self.diag.err(
                    path,
                    format!(
                        "unknown backbone `{s}`{}Backbones: {}",
                        did_you_mean(s, &names),
                        names.join(", ")
                    ),
                );
                None
            }
        }
    }

    /// `weights: pretrained | imagenet | FILE.safetensors`, checked against the backbone axis.
    pub(super) fn weights(
        &mut self,
        v: &Value,
        path: &[Seg],
        backbones: &[Av<BackboneKind>],
    ) -> Option<Weights> {
        let v = self.single(
            v,
            path,
            "weights is not an axis; give one value (`pretrained`, `imagenet` or a \
             .safetensors file) and one backbone",
        )?;
        let s = self.string(
            v,
            path,
            "`pretrained`, `imagenet` or a .safetensors file of a state_dict",
        )?;
        let mut ok = true;
        for b in backbones {
            if !b.value.takes_weights() {
                let loadable: Vec<&str> = BackboneKind::ALL
                    .iter()
                    .filter(|k| k.takes_weights())
                    .map(|k| k.name())
                    .collect();
                self.diag.err(
                    &b.path,
                    format!(
                        "backbone `{}` cannot load `weights:` (it is pretrained by thaw on a \
                         source task); backbones that load weights: {}",
                        b.value,
                        loadable.join(", ")
                    ),
                );
                ok = false;
            }
        }
        if s == "imagenet" {
            for b in backbones {
                if b.value.takes_weights() && b.value != BackboneKind::EfficientnetLite0 {
                    self.diag.err(
                        path,
                        format!(
                            "`imagenet` weights ship for efficientnet_lite0 only, not `{}`; give \
                             a .safetensors file of a torchvision state_dict (see the README)",
                            b.value
                        ),
                    );
                    ok = false;
                }
            }
            return ok.then_some(Weights::Imagenet);
        }
        if s == "pretrained" {
            let shipped = BackboneKind::with_pretrained_weights();
            for b in backbones {
                if b.value.takes_weights() && !shipped.contains(&b.value.name()) {
                    self.diag.err(
                        path,
                        format!(
                            "`pretrained` weights ship for {} only, not `{}`; give a \
                             .safetensors file of a torchvision state_dict (see the README)",
                            shipped.join(" and "),
                            b.value
                        ),
                    );
                    ok = false;
                }
            }
            return ok.then_some(Weights::Pretrained);
        }
        if backbones.len() > 1 {
            self.diag.err(
                path,
                format!(
                    "a weights file fits one architecture, but the backbone axis lists {}; use \
                     one backbone per grid",
                    backbones.len()
                ),
            );
            ok = false;
        }
        if !s.ends_with(".safetensors") {
            self.diag.err(
                path,
                format!(
                    "weights `{s}` is not a .safetensors file; convert the checkpoint first (see \
                     the README), or use `imagenet`"
                ),
            );
            return None;
        }
        let file = resolve_path(&self.base_dir, s);
        if !file.is_file() {
            self.diag.err(
                path,
                format!("weights file {} does not exist", file.display()),
            );
            return None;
        }
        ok.then_some(Weights::File(file))
    }

    /// `input_size: N`, for backbones that resize their input.
    pub(super) fn input_size(
        &mut self,
        v: &Value,
        path: &[Seg],
        backbones: &[Av<BackboneKind>],
    ) -> Option<usize> {
        let v = self.single(
            v,
            path,
            "input_size is not an axis; give one number between 16 and 1024",
        )?;
        let n = self.usize_in(v, path, (16, 1024), "input side length in pixels", "")?;
        let mut ok = true;
        for b in backbones {
            if b.value.profile().default_input_size.is_none() {
                self.diag.err(
                    path,
                    match b.value.profile().modality {
                        Modality::Image => format!(
                            "input_size applies to ImageNet-style backbones; `{}` takes the data \
                             at `image_size`",
                            b.value
                        ),
                        Modality::Text => format!(
                            "input_size applies to ImageNet-style backbones; `{}` reads text \
                             (token ids), which is not resized",
                            b.value
                        ),
                    },
                );
                ok = false;
            }
        }
        ok.then_some(n)
    }

    pub(super) fn freeze(&mut self, v: &Value, path: &[Seg]) -> Option<Freeze> {
        match v {
            Value::String(s) if s == "all" => Some(Freeze::All),
            Value::Number(_) => self
                .usize(v, path, 0, "number of blocks frozen from the input side")
                .map(Freeze::Blocks),
            other => {
                self.diag.err(
                    path,
                    format!(
                        "expected a number of frozen blocks (0 = fine-tune everything) or `all` \
                         (linear probe), got {}",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    pub(super) fn train_per_class(&mut self, v: &Value, path: &[Seg]) -> Option<usize> {
        self.usize(v, path, 1, "training examples per class")
    }

    pub(super) fn epochs(&mut self, v: &Value, path: &[Seg]) -> Option<usize> {
        self.usize(v, path, 1, "number of training epochs")
    }

    pub(super) fn batch_size(&mut self, v: &Value, path: &[Seg]) -> Option<usize> {
        self.usize(v, path, 1, "examples per batch")
    }

    pub(super) fn seed(&mut self, v: &Value, path: &[Seg]) -> Option<u64> {
        self.uint(v, path, 0, "a random seed")
    }

    pub(super) fn shift(&mut self, v: &Value, path: &[Seg]) -> Option<Shift> {
        let kinds = names::<RawShift>();
        let forms = format!(
            "`none`, `invert`, `grayscale`, `lowercase`, or a mapping with one of {}, e.g. \
             {{rotate: 45}} or {{typos: 0.05}}",
            kinds.join(", ")
        );
        match v {
            Value::String(s) => match s.as_str() {
                "none" => Some(Shift::None),
                "invert" => Some(Shift::Invert { amount: 1.0 }),
                "grayscale" => Some(Shift::Grayscale),
                "lowercase" => Some(Shift::Lowercase),
                other => {
                    let mut all = vec!["none"];
                    all.extend_from_slice(kinds);
                    self.diag.err(
                        path,
                        format!(
                            "unknown shift `{other}`{}A shift is {forms}",
                            did_you_mean(other, &all)
                        ),
                    );
                    None
                }
            },
            Value::Null => Some(Shift::None),
            Value::Mapping(m) => self.shift_mapping(m, path),
            other => {
                self.diag.err(
                    path,
                    format!("expected a shift ({forms}), got {}", describe(other)),
                );
                None
            }
        }
    }

    /// A shift written as a mapping with one kind, e.g. `{rotate: 45}`.
    fn shift_mapping(&mut self, m: &Mapping, path: &[Seg]) -> Option<Shift> {
        let kinds = names::<RawShift>();
        let mut keys = Keys::new(m);
        keys.accept(kinds);
        keys.check(self.diag, path, &|_| None);
        let present: Vec<&str> = kinds.iter().copied().filter(|k| keys.has(k)).collect();
        let [k] = present[..] else {
            if m.len() == present.len() {
                self.diag.err(
                    path,
                    format!(
                        "a shift has exactly one kind, got {}; write one shift per list entry, \
                         e.g. [{{rotate: 45}}, {{noise: 0.2}}]",
                        if present.is_empty() {
                            "none".to_string()
                        } else {
                            present.join(" and ")
                        }
                    ),
                );
            }
            return None;
        };
        let p = key(path, k);
        let tagged = TaggedValue {
            tag: Tag::new(k),
            value: m.get(k)?.clone(),
        };
        let raw = RawShift::deserialize(Value::Tagged(Box::new(tagged))).ok()?;
        let mut within =
            |v: &Value, ok: fn(f64) -> bool, range: &str| self.float_in(v, &p, ok, range);
        match raw {
            RawShift::Rotate(v) => self.float(&v, &p).map(|degrees| Shift::Rotate { degrees }),
            RawShift::Noise(v) => within(
                &v,
                |x| x >= 0.0,
                ">= 0 (standard deviation on the 0..1 pixel scale)",
            )
            .map(|sigma| Shift::Noise { sigma }),
            RawShift::Invert(v) => within(
                &v,
                |x| (0.0..=1.0).contains(&x),
                "in [0, 1] (1 = full inversion)",
            )
            .map(|amount| Shift::Invert { amount }),
            RawShift::Blur(v) => within(&v, |x| x >= 0.0, ">= 0 (blur sigma in pixels)")
                .map(|sigma| Shift::Blur { sigma }),
            RawShift::Contrast(v) => {
                within(&v, |x| x > 0.0 && x <= 1.0, "in (0, 1] (contrast factor)")
                    .map(|factor| Shift::Contrast { factor })
            }
            RawShift::Hue(v) => self.float(&v, &p).map(|degrees| Shift::Hue { degrees }),
            RawShift::Saturation(v) => within(
                &v,
                |x| x >= 0.0,
                ">= 0 (saturation factor: 0 = grayscale, 1 = unchanged)",
            )
            .map(|factor| Shift::Saturation { factor }),
            RawShift::Brightness(v) => {
                within(&v, |x| x >= 0.0, ">= 0 (brightness factor: 1 = unchanged)")
                    .map(|factor| Shift::Brightness { factor })
            }
            RawShift::ColorCast(v) => self.color_cast(&v, &p),
            RawShift::Grayscale(v) => self.switch_on(&v, &p).then_some(Shift::Grayscale),
            RawShift::Lowercase(v) => self.switch_on(&v, &p).then_some(Shift::Lowercase),
            RawShift::Typos(v) => {
                let (v, p) =
                    self.setting(v, &p, "rate", "{typos: {rate: 0.05}}", |r: RawTypos| r.rate)?;
                self.float_in(
                    &v,
                    &p,
                    |x| (0.0..=1.0).contains(&x),
                    "in [0, 1] (the probability that a letter gets a typo)",
                )
                .map(|rate| Shift::Typos { rate })
            }
            RawShift::Truncate(v) => {
                let example = "{truncate: {words: 20}}";
                let (v, p) = self.setting(v, &p, "words", example, |r: RawTruncate| r.words)?;
                self.usize(&v, &p, 1, "words kept")
                    .map(|words| Shift::Truncate { words })
            }
            RawShift::ChannelSwap(v) => {
                let order = self.string(&v, &p, "a channel order such as `bgr`")?;
                if rgb_permutation(order).is_none() {
                    self.diag.err(
                        &p,
                        format!(
                            "must be a permutation of the letters r, g and b (e.g. `bgr`, \
                             `gbr`), got `{order}`"
                        ),
                    );
                    return None;
                }
                Some(Shift::ChannelSwap {
                    order: order.to_string(),
                })
            }
            RawShift::Jpeg(v) => self
                .usize_in(&v, &p, (1, 100), "JPEG quality", "")
                .map(|q| Shift::Jpeg { quality: q as u8 }),
        }
    }

    /// Whether a switch-like shift (`grayscale`, `lowercase`) is written `true` (or 1); reports
    /// anything else.
    fn switch_on(&mut self, v: &Value, path: &[Seg]) -> bool {
        match v {
            Value::Bool(true) => true,
            Value::Number(n) if n.as_f64() == Some(1.0) => true,
            other => {
                self.diag.err(
                    path,
                    format!(
                        "expected `true` (or 1), got {}; for no shift write `none`",
                        describe(other)
                    ),
                );
                false
            }
        }
    }

    /// The setting of a shift written as its value (`{typos: 0.05}`) or as a mapping with one
    /// key `k` (`{typos: {rate: 0.05}}`, read as `T`), with the setting's path.
    fn setting<T: serde::de::DeserializeOwned>(
        &mut self,
        v: Value,
        path: &[Seg],
        k: &str,
        example: &str,
        field: fn(T) -> Field,
    ) -> Option<(Value, Vec<Seg>)> {
        if !v.is_mapping() {
            return Some((v, path.to_vec()));
        }
        let f = field(self.section(&v, path, example, &|_| None)?);
        self.required(&f, path, k, example)?;
        Some((f.0?, key(path, k)))
    }

    /// `color_cast: [r, g, b]`: three gains >= 0, one per channel.
    fn color_cast(&mut self, v: &Value, path: &[Seg]) -> Option<Shift> {
        let wanted = "a list of three gains [r, g, b] >= 0, e.g. [1, 1, 0.8]";
        let Value::Sequence(items) = v else {
            self.diag
                .err(path, format!("expected {wanted}, got {}", describe(v)));
            return None;
        };
        if items.len() != 3 {
            self.diag.err(
                path,
                format!("expected {wanted}, got {} values", items.len()),
            );
            return None;
        }
        let mut gains = [0.0; 3];
        let mut ok = true;
        for (i, (g, item)) in gains.iter_mut().zip(items).enumerate() {
            match self.float_in(item, &idx(path, i), |x| x >= 0.0, ">= 0 (a channel gain)") {
                Some(x) => *g = x,
                None => ok = false,
            }
        }
        ok.then_some(Shift::ColorCast { gains })
    }
}
