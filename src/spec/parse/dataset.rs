//! `dataset:` in its forms (bundled, idx, pixel CSV, folder, CSV list) and image options.

use super::*;

impl Parser<'_> {
    pub(super) fn path_field(&mut self, m: &Mapping, path: &[Seg], k: &str) -> Option<PathBuf> {
        let v = self.required(m, path, k, &format!("`{k}: PATH`"))?;
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
                            did_you_mean(s, BUNDLED)
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
        let kv = self.required(
            m,
            path,
            "kind",
            "`kind: folder`, `kind: csv` or `kind: idx`",
        )?;
        let kind = self.string(kv, &key(path, "kind"), "a dataset kind")?;
        let kinds = ["bundled", "idx", "csv", "folder"];
        let valid: &[&str] = match kind {
            "bundled" => &["kind", "name"],
            "idx" => &["kind", "images", "labels"],
            "csv" => &[
                "kind",
                "path",
                "side",
                "max_value",
                "image_column",
                "label_column",
                "split_column",
                "decode_size",
                "on_bad_file",
                "augment",
            ],
            "folder" => &["kind", "path", "decode_size", "on_bad_file", "augment"],
            other => {
                self.diag.err(
                    &key(path, "kind"),
                    format!(
                        "unknown dataset kind `{other}`{}Kinds: folder, csv, idx, bundled",
                        did_you_mean(other, &kinds)
                    ),
                );
                return None;
            }
        };
        self.check_keys(m, path, valid, &|_| None);
        match kind {
            "bundled" => {
                let nv = self.required(m, path, "name", "`name: mnist10k`")?;
                self.dataset(nv, &key(path, "name"))
            }
            "idx" => {
                let images = self.path_field(m, path, "images");
                let labels = self.path_field(m, path, "labels");
                Some(DatasetSource::Idx {
                    images: images?,
                    labels: labels?,
                })
            }
            "folder" => {
                let p = self.path_field(m, path, "path");
                let images = self.image_options(m, path);
                Some(DatasetSource::Folder {
                    path: p?,
                    images: images?,
                })
            }
            _ if !m.contains_key("side") && !m.contains_key("max_value") => self.csv_list(m, path),
            _ => self.pixel_csv(m, path),
        }
    }

    /// `kind: csv` without `side`/`max_value`: a list of image files and labels.
    fn csv_list(&mut self, m: &Mapping, path: &[Seg]) -> Option<DatasetSource> {
        let p = self.path_field(m, path, "path");
        let mut column = |k: &str, default: &str| -> Option<String> {
            match m.get(k) {
                None => Some(default.to_string()),
                Some(v) => {
                    let s = self.string(v, &key(path, k), "a column name")?;
                    if s.is_empty() {
                        self.diag.err(&key(path, k), "empty column name");
                        return None;
                    }
                    Some(s.to_string())
                }
            }
        };
        let image_column = column("image_column", "path");
        let label_column = column("label_column", "label");
        let split_column = match m.get("split_column") {
            None => Some(None),
            Some(_) => column("split_column", "split").map(Some),
        };
        let images = self.image_options(m, path);
        Some(DatasetSource::CsvList {
            path: p?,
            image_column: image_column?,
            label_column: label_column?,
            split_column: split_column?,
            images: images?,
        })
    }

    /// `kind: csv` with `side` and `max_value`: one image per row of pixel values.
    fn pixel_csv(&mut self, m: &Mapping, path: &[Seg]) -> Option<DatasetSource> {
        for k in [
            "image_column",
            "label_column",
            "split_column",
            "decode_size",
            "on_bad_file",
            "augment",
        ] {
            if m.contains_key(k) {
                self.diag.key_err(
                    &key(path, k),
                    format!(
                        "`{k}` belongs to a CSV list of image files, but `side`/\
                         `max_value` make this a pixel CSV; remove `{k}`, or \
                         remove `side` and `max_value`"
                    ),
                );
            }
        }
        let p = self.path_field(m, path, "path");
        let side = self
            .required(m, path, "side", "`side:` (image side length, e.g. 8)")
            .and_then(|sv| self.usize(sv, &key(path, "side"), 1, "image side length"));
        let max_value = self
            .required(
                m,
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
    pub(super) fn image_options(&mut self, m: &Mapping, path: &[Seg]) -> Option<ImageOptions> {
        let decode_size = match m.get("decode_size") {
            None => Some(None),
            Some(v) => {
                let p = key(path, "decode_size");
                self.usize(v, &p, 4, "side length images are decoded to")
                    .and_then(|s| {
                        if s > 1024 {
                            self.diag
                                .err(&p, format!("must be between 4 and 1024, got {s}"));
                            None
                        } else {
                            Some(Some(s))
                        }
                    })
            }
        };
        let on_bad_file = match m.get("on_bad_file") {
            None => Some(OnBadFile::Error),
            Some(v) => {
                let p = key(path, "on_bad_file");
                match self.string(v, &p, "`error` or `skip`") {
                    Some("error") => Some(OnBadFile::Error),
                    Some("skip") => Some(OnBadFile::Skip),
                    Some(other) => {
                        self.diag.err(
                            &p,
                            format!(
                                "unknown choice `{other}`{}Choices: error (fail, listing every \
                                 file that cannot be decoded), skip (leave them out, with a \
                                 warning listing them)",
                                did_you_mean(other, &["error", "skip"])
                            ),
                        );
                        None
                    }
                    None => None,
                }
            }
        };
        let augment = match m.get("augment") {
            None | Some(Value::Null) => Some(None),
            Some(v) => self.augment(v, &key(path, "augment")).map(Some),
        };
        Some(ImageOptions {
            decode_size: decode_size?,
            on_bad_file: on_bad_file?,
            augment: augment?,
        })
    }

    pub(super) fn augment(&mut self, v: &Value, path: &[Seg]) -> Option<Augment> {
        const KEYS: &[&str] = &["crop_padding", "hflip", "rotate", "brightness", "contrast"];
        let m = self.mapping(
            v,
            path,
            "{crop_padding: 2, hflip: true, rotate: 10, brightness: 0.1, contrast: 0.1}",
        )?;
        self.check_keys(m, path, KEYS, &|_| None);
        let crop_padding = match m.get("crop_padding") {
            None => Some(0),
            Some(v) => {
                let p = key(path, "crop_padding");
                self.usize(v, &p, 0, "pixels of padding").and_then(|n| {
                    if n > 64 {
                        self.diag
                            .err(&p, format!("must be between 0 and 64 pixels, got {n}"));
                        None
                    } else {
                        Some(n)
                    }
                })
            }
        };
        let hflip = match m.get("hflip") {
            None => Some(false),
            Some(v) => self.boolean(v, &key(path, "hflip")),
        };
        let rotate = self.opt_float(
            m,
            path,
            "rotate",
            0.0,
            |x| (0.0..=180.0).contains(&x),
            "between 0 and 180 degrees",
        );
        let brightness = self.opt_float(
            m,
            path,
            "brightness",
            0.0,
            |x| (0.0..=1.0).contains(&x),
            "between 0 and 1 (a fraction of the pixel range)",
        );
        let contrast = self.opt_float(
            m,
            path,
            "contrast",
            0.0,
            |x| (0.0..=1.0).contains(&x),
            "between 0 and 1",
        );
        Some(Augment {
            crop_padding: crop_padding?,
            hflip: hflip?,
            rotate: rotate?,
            brightness: brightness?,
            contrast: contrast?,
        })
    }
}
