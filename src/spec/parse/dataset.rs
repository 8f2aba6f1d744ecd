//! `dataset:` in its forms (bundled, idx, pixel CSV, folder, CSV list) and image options.

use super::*;
use crate::spec::trial::BUNDLED;

impl Parser<'_> {
    fn path_field(&mut self, f: &Field, path: &[Seg], k: &str) -> Option<PathBuf> {
        let v = self.required(f, path, k, &format!("`{k}: PATH`"))?;
        let s = self.string(v, &key(path, k), "a file path")?;
        if s.is_empty() {
            self.diag.err(&key(path, k), "empty path; give a file path");
            return None;
        }
        Some(resolve_path(&self.base_dir, s))
    }

    pub(super) fn dataset(&mut self, v: &Value, path: &[Seg]) -> Option<DatasetSource> {
        const FORMS: &str = "a bundled name (mnist10k, fashion10k, digits8x8), \
                             {kind: idx, images: PATH, labels: PATH}, \
                             {kind: csv, path: PATH, side: 8, max_value: 16} (pixel CSV), \
                             {kind: folder, path: DIR} (one sub-folder per class) or \
                             {kind: csv, path: FILE} (a list of image paths and labels)";
        match v {
            Value::String(s) => {
                if BUNDLED.contains(&s.as_str()) {
                    Some(DatasetSource::Bundled { name: s.clone() })
                } else {
                    self.diag.err(
                        path,
                        format!(
                            "unknown dataset `{s}`{}A dataset is {FORMS}",
                            did_you_mean(s, &BUNDLED)
                        ),
                    );
                    None
                }
            }
            Value::Mapping(m) => self.dataset_mapping(m, path),
            other => {
                self.diag.err(
                    path,
                    format!("expected a dataset ({FORMS}), got {}", describe(other)),
                );
                None
            }
        }
    }

    /// `dataset:` as a mapping with a `kind:`.
    fn dataset_mapping(&mut self, m: &Mapping, path: &[Seg]) -> Option<DatasetSource> {
        let mut keys = Keys::new(m);
        let k: RawKind = keys.read();
        let hint = "`kind: folder`, `kind: csv` or `kind: idx`";
        let kv = self.required(&k.kind, path, "kind", hint)?;
        let tag: DatasetTag = self.tag(
            kv,
            &key(path, "kind"),
            "a dataset kind",
            ("unknown dataset kind", "Kinds"),
        )?;
        let ds = match tag {
            DatasetTag::Bundled => {
                let r: RawBundled = keys.read();
                self.required(&r.name, path, "name", "`name: mnist10k`")
                    .and_then(|nv| self.dataset(nv, &key(path, "name")))
            }
            DatasetTag::Idx => {
                let r: RawIdx = keys.read();
                let images = self.path_field(&r.images, path, "images");
                let labels = self.path_field(&r.labels, path, "labels");
                Some(DatasetSource::Idx {
                    images: images?,
                    labels: labels?,
                })
            }
            DatasetTag::Folder => {
                let r: RawFolder = keys.read();
                let p = self.path_field(&r.path, path, "path");
                let images = self.image_options(&keys.read(), path);
                Some(DatasetSource::Folder {
                    path: p?,
                    images: images?,
                })
            }
            DatasetTag::Csv => {
                let r: RawCsv = keys.read();
                let list: RawCsvList = keys.read();
                let images: RawImages = keys.read();
                if r.side.0.is_none() && r.max_value.0.is_none() {
                    self.csv_list(&r, &list, &images, path)
                } else {
                    self.pixel_csv(&r, &keys, path)
                }
            }
        };
        keys.check(self.diag, path, &|_| None);
        ds
    }

    /// `kind: csv` without `side`/`max_value`: a list of image files and labels.
    fn csv_list(
        &mut self,
        r: &RawCsv,
        list: &RawCsvList,
        images: &RawImages,
        path: &[Seg],
    ) -> Option<DatasetSource> {
        let p = self.path_field(&r.path, path, "path");
        let mut column = |v: &Value, k: &str| -> Option<String> {
            let s = self.string(v, &key(path, k), "a column name")?;
            if s.is_empty() {
                self.diag.err(&key(path, k), "empty column name");
                return None;
            }
            Some(s.to_string())
        };
        let image_column = column(&list.image_column, "image_column");
        let label_column = column(&list.label_column, "label_column");
        let split_column = match &list.split_column.0 {
            None => Some(None),
            Some(v) => column(v, "split_column").map(Some),
        };
        let images = self.image_options(images, path);
        Some(DatasetSource::CsvList {
            path: p?,
            image_column: image_column?,
            label_column: label_column?,
            split_column: split_column?,
            images: images?,
        })
    }

    /// `kind: csv` with `side` and `max_value`: one image per row of pixel values.
    fn pixel_csv(&mut self, r: &RawCsv, keys: &Keys, path: &[Seg]) -> Option<DatasetSource> {
        let list_only = names::<RawCsvList>().iter().chain(names::<RawImages>());
        for k in list_only.filter(|k| keys.has(k)) {
            self.diag.key_err(
                &key(path, k),
                format!(
                    "`{k}` belongs to a CSV list of image files, but `side`/\
                     `max_value` make this a pixel CSV; remove `{k}`, or \
                     remove `side` and `max_value`"
                ),
            );
        }
        let p = self.path_field(&r.path, path, "path");
        let side = self
            .required(&r.side, path, "side", "`side:` (image side length, e.g. 8)")
            .and_then(|sv| self.usize(sv, &key(path, "side"), 1, "image side length"));
        let max_value = self
            .required(
                &r.max_value,
                path,
                "max_value",
                "`max_value:` (largest pixel value, e.g. 16 or 255)",
            )
            .and_then(|mv| self.float_in(mv, &key(path, "max_value"), |x| x > 0.0, "> 0"));
        Some(DatasetSource::Csv {
            path: p?,
            side: side?,
            max_value: max_value?,
        })
    }

    /// `decode_size`, `on_bad_file` and `augment` of an image-file dataset mapping.
    fn image_options(&mut self, raw: &RawImages, path: &[Seg]) -> Option<ImageOptions> {
        let decode_size = match &raw.decode_size.0 {
            None => Some(None),
            Some(v) => {
                let what = "side length images are decoded to";
                self.usize_in(v, &key(path, "decode_size"), (4, 1024), what, "")
                    .map(Some)
            }
        };
        let channels = match raw.channels.given() {
            None => Some(Channels::Auto),
            Some(v) => {
                let p = key(path, "channels");
                let text = match v {
                    Value::Number(n) => Some(n.to_string()),
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                };
                let choice = text.as_deref().and_then(variant::<Channels>);
                if choice.is_none() {
                    self.diag.err(
                        &p,
                        "expected 1 (grayscale), 3 (RGB) or auto (3 when any image has colour)"
                            .to_string(),
                    );
                }
                choice
            }
        };
        let p = key(path, "on_bad_file");
        let on_bad_file = self
            .string(&raw.on_bad_file, &p, "`error` or `skip`")
            .and_then(|s| {
                let choice = variant::<OnBadFile>(s);
                if choice.is_none() {
                    self.diag.err(
                        &p,
                        format!(
                            "unknown choice `{s}`{}Choices: error (fail, listing every \
                             file that cannot be decoded), skip (leave them out, with a \
                             warning listing them)",
                            did_you_mean(s, names::<OnBadFile>())
                        ),
                    );
                }
                choice
            });
        let augment = match raw.augment.given() {
            None => Some(None),
            Some(v) => self.augment(v, &key(path, "augment")).map(Some),
        };
        Some(ImageOptions {
            decode_size: decode_size?,
            channels: channels?,
            on_bad_file: on_bad_file?,
            augment: augment?,
        })
    }

    fn augment(&mut self, v: &Value, path: &[Seg]) -> Option<Augment> {
        let example = "{crop_padding: 2, hflip: true, rotate: 10, brightness: 0.1, contrast: 0.1, \
                       saturation: 0.2, hue: 10, grayscale: 0.1}";
        let a: RawAugment = self.section(v, path, example, &|_| None)?;
        let crop_padding = self.usize_in(
            &a.crop_padding,
            &key(path, "crop_padding"),
            (0, 64),
            "pixels of padding",
            " pixels",
        );
        let hflip = self.boolean(&a.hflip, &key(path, "hflip"));
        let mut up_to = |v: &Value, k: &str, max: f64, range: &str| {
            self.float_in(v, &key(path, k), |x| (0.0..=max).contains(&x), range)
        };
        let rotate = up_to(&a.rotate, "rotate", 180.0, "between 0 and 180 degrees");
        let brightness = up_to(
            &a.brightness,
            "brightness",
            1.0,
            "between 0 and 1 (a fraction of the pixel range)",
        );
        let contrast = up_to(&a.contrast, "contrast", 1.0, "between 0 and 1");
        let saturation = up_to(&a.saturation, "saturation", 1.0, "between 0 and 1");
        let hue = up_to(&a.hue, "hue", 180.0, "between 0 and 180 degrees");
        let grayscale = up_to(
            &a.grayscale,
            "grayscale",
            1.0,
            "between 0 and 1 (a probability)",
        );
        Some(Augment {
            crop_padding: crop_padding?,
            hflip: hflip?,
            rotate: rotate?,
            brightness: brightness?,
            contrast: contrast?,
            saturation: saturation?,
            hue: hue?,
            grayscale: grayscale?,
        })
    }
}
