//! `dataset:` in its forms (bundled, idx, pixel CSV, folder, CSV list, text) and image options.

use super::*;
use crate::spec::trial::{BUNDLED, BUNDLED_TEXT};

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
        const FORMS: &str = "a bundled name (mnist10k, fashion10k, digits8x8; text: \
                             vader_movies, vader_tweets, vader_amazon, vader_nyt), \
                             {kind: idx, images: PATH, labels: PATH}, \
                             {kind: csv, path: PATH, side: 8, max_value: 16} (pixel CSV), \
                             {kind: folder, path: DIR} (one sub-folder per class), \
                             {kind: csv, path: FILE} (a list of image paths and labels) or \
                             {kind: text, path: FILE} (a CSV, TSV or JSON Lines file of texts)";
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
        let hint = "`kind: folder`, `kind: csv`, `kind: text` or `kind: idx`";
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
                let ds = self
                    .required(&r.name, path, "name", "`name: mnist10k`")
                    .and_then(|nv| self.dataset(nv, &key(path, "name")));
                match (ds, r.neutral.given()) {
                    (ds, None) => ds,
                    (Some(DatasetSource::Bundled { name }), Some(v))
                        if BUNDLED_TEXT.contains(&name.as_str()) =>
                    {
                        self.neutral(v, &key(path, "neutral")).map(|neutral| {
                            if neutral == 0.0 {
                                DatasetSource::Bundled { name }
                            } else {
                                DatasetSource::BundledText { name, neutral }
                            }
                        })
                    }
                    (ds, Some(_)) => {
                        if ds.is_some() {
                            self.diag.key_err(
                                &key(path, "neutral"),
                                format!(
                                    "`neutral` applies to the bundled text datasets ({}); \
                                     remove it",
                                    BUNDLED_TEXT.join(", ")
                                ),
                            );
                        }
                        None
                    }
                }
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
            DatasetTag::Text => {
                let r: RawText = keys.read();
                self.text_source(&r, path)
            }
        };
        // Keys only a text dataset has (`path`, `label_column`, `split_column` are a CSV
        // list's too).
        let text_only = |k: &str| {
            tag != DatasetTag::Text
                && names::<RawText>().contains(&k)
                && !names::<RawCsv>().contains(&k)
                && !names::<RawCsvList>().contains(&k)
        };
        keys.check(self.diag, path, &|k| {
            text_only(k).then(|| {
                format!("`{k}` belongs to a text dataset; write `kind: text`, or remove `{k}`")
            })
        });
        ds
    }

    /// A column name: a non-empty string.
    fn column(&mut self, v: &Value, path: &[Seg], k: &str) -> Option<String> {
        let s = self.string(v, &key(path, k), "a column name")?;
        if s.is_empty() {
            self.diag.err(&key(path, k), "empty column name");
            return None;
        }
        Some(s.to_string())
    }

    /// An optional column name (`None` inside when the key is absent).
    fn column_opt(&mut self, f: &Field, path: &[Seg], k: &str) -> Option<Option<String>> {
        match f.given() {
            None => Some(None),
            Some(v) => self.column(v, path, k).map(Some),
        }
    }

    /// `neutral:` of a score-labelled text dataset: a number >= 0.
    fn neutral(&mut self, v: &Value, path: &[Seg]) -> Option<f64> {
        self.float_in(
            v,
            path,
            |x| x >= 0.0,
            ">= 0 (scores in [-neutral, neutral] are left out)",
        )
    }

    /// `kind: text`: a CSV, TSV or JSON Lines file of texts and labels.
    fn text_source(&mut self, r: &RawText, path: &[Seg]) -> Option<DatasetSource> {
        let p = self.path_field(&r.path, path, "path");
        let format = match r.format.given() {
            None => Some(None),
            Some(v) => self
                .tag(
                    v,
                    &key(path, "format"),
                    "a text format",
                    ("unknown text format", "Formats"),
                )
                .map(Some),
        };
        let effective = match (&p, &format) {
            (Some(_), Some(Some(f))) => Some(*f),
            (Some(file), Some(None)) => {
                let f = TextFormat::from_path(file);
                if f.is_none() {
                    self.diag.err(
                        &key(path, "path"),
                        format!(
                            "cannot tell the format of `{}` from its name (.csv, .tsv or \
                             .jsonl, each optionally .gz); add `format: csv`, `format: tsv` \
                             or `format: jsonl`",
                            file.display()
                        ),
                    );
                }
                f
            }
            _ => None,
        };
        let columns = match r.columns.given() {
            None => Some(None),
            Some(v) => self.column_names(v, &key(path, "columns")).map(Some),
        };
        if effective == Some(TextFormat::Jsonl) && r.columns.given().is_some() {
            self.diag.err(
                &key(path, "columns"),
                "`columns` names the columns of a CSV or TSV file without a header row; JSON \
                 Lines objects name their own (their keys); remove it",
            );
        }
        let text_column = self.column(&r.text_column, path, "text_column");
        let label = match (r.label_column.given(), r.score_column.given()) {
            (Some(_), Some(_)) => {
                self.diag.key_err(
                    &key(path, "score_column"),
                    "give `label_column` (class names or ids) or `score_column` (numbers \
                     labelled by sign), not both",
                );
                None
            }
            (_, Some(sv)) => {
                let column = self.column(sv, path, "score_column");
                let neutral = match r.neutral.given() {
                    None => Some(0.0),
                    Some(v) => self.neutral(v, &key(path, "neutral")),
                };
                Some(TextLabel::Score {
                    column: column?,
                    neutral: neutral?,
                })
            }
            (lv, None) => {
                if r.neutral.given().is_some() {
                    self.diag.key_err(
                        &key(path, "neutral"),
                        "`neutral` applies to a score column; add `score_column: NAME` or \
                         remove `neutral`",
                    );
                }
                match lv {
                    None => Some(TextLabel::Column("label".into())),
                    Some(v) => self.column(v, path, "label_column").map(TextLabel::Column),
                }
            }
        };
        let split_column = self.column_opt(&r.split_column, path, "split_column");
        let id_column = self.column_opt(&r.id_column, path, "id_column");
        Some(DatasetSource::Text(TextSource {
            path: p?,
            format: format?,
            columns: columns?,
            text_column: text_column?,
            label: label?,
            split_column: split_column?,
            id_column: id_column?,
        }))
    }

    /// `columns:` of a header-less file: a list of distinct, non-empty names.
    fn column_names(&mut self, v: &Value, path: &[Seg]) -> Option<Vec<String>> {
        let Value::Sequence(items) = v else {
            self.diag.err(
                path,
                format!(
                    "expected a list of column names such as [id, score, text], got {}",
                    describe(v)
                ),
            );
            return None;
        };
        if items.is_empty() {
            self.diag
                .err(path, "empty list; name every column of the file");
            return None;
        }
        let mut out: Vec<String> = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let ip = idx(path, i);
            match self.string(item, &ip, "a column name") {
                Some("") => {
                    self.diag.err(&ip, "empty column name");
                    ok = false;
                }
                Some(s) if out.iter().any(|c| c == s) => {
                    self.diag
                        .err(&ip, format!("column `{s}` is named twice; rename one"));
                    ok = false;
                }
                Some(s) => out.push(s.to_string()),
                None => ok = false,
            }
        }
        ok.then_some(out)
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
        let image_column = self.column(&list.image_column, path, "image_column");
        let label_column = self.column(&list.label_column, path, "label_column");
        let split_column = match &list.split_column.0 {
            None => Some(None),
            Some(v) => self.column(v, path, "split_column").map(Some),
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
