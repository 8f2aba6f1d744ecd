//! CSV, JSON and notebook exports.

use super::*;

#[test]
fn exports_csv_json_and_a_notebook() {
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    // CSV: a header and one line per trial (the error contains a comma-free quote-free text).
    let csv = tmp.path().join("out/x.csv");
    export_sweep(&db, "digits-test", ExportFormat::Csv, &csv).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 28);
    assert!(lines[0].starts_with("trial_id,sweep,key,status,"));
    assert!(lines[1].contains(",k1-000,completed,"));
    // JSON: one object per trial with the view's columns.
    let json = tmp.path().join("x.json");
    export_sweep(&db, "digits-test", ExportFormat::Json, &json).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 27);
    assert_eq!(rows[0]["key"], "k1-000");
    assert!(rows[0]["final_test_acc"].as_f64().unwrap() > 0.0);
    assert!(rows[26]["final_test_acc"].is_null());
    // Notebook: nbformat 4 structure.
    let nb_path = tmp.path().join("x.ipynb");
    export_sweep(&db, "digits-test", ExportFormat::Ipynb, &nb_path).unwrap();
    let nb: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&nb_path).unwrap()).unwrap();
    assert_eq!(nb["nbformat"], 4);
    assert!(nb["nbformat_minor"].as_u64().unwrap() >= 4);
    assert!(nb["metadata"].is_object());
    assert_eq!(nb["metadata"]["kernelspec"]["language"], "python");
    let cells = nb["cells"].as_array().unwrap();
    let mut ids = std::collections::HashSet::new();
    let (mut md, mut code) = (Vec::new(), Vec::new());
    for c in cells {
        let o = c.as_object().unwrap();
        assert!(o["metadata"].is_object());
        assert!(ids.insert(o["id"].as_str().unwrap().to_string()));
        let src: String = o["source"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        match o["cell_type"].as_str().unwrap() {
            "markdown" => {
                assert!(!o.contains_key("outputs"));
                md.push(src);
            }
            "code" => {
                assert!(o["outputs"].as_array().unwrap().is_empty());
                assert!(o["execution_count"].is_null());
                code.push(src);
            }
            t => panic!("cell type {t}"),
        }
    }
    // The report's findings, right after the title, as the report's first cell lists them.
    assert!(
        md[1].starts_with("## Findings, as the report decided them\n"),
        "{}",
        md[1]
    );
    assert!(md[1].contains("\nFindings of this sweep: "), "{}", md[1]);
    assert!(md[1].contains("\n**Supported:**\n\n- "), "{}", md[1]);
    for section in [
        "## Overfitting",
        "## Forgetting",
        "## Domain gap",
        "## Data efficiency",
        "## Transfer gain",
        "## Calibration",
        "## Representation drift",
        "## Domain distance",
        "## Mixed precision",
    ] {
        assert!(md.iter().any(|m| m.starts_with(section)), "{section}");
    }
    let all_code = code.join("\n");
    for needle in [
        "import sqlite3",
        "import pandas as pd",
        "matplotlib.pyplot",
        "read_sql_query",
    ] {
        assert!(all_code.contains(needle), "{needle}");
    }
    assert!(code.iter().filter(|c| c.contains("plt.show()")).count() >= 5);
    // The export of an unknown sweep is an error.
    assert!(export_sweep(&db, "nope", ExportFormat::Csv, &csv).is_err());
    assert_eq!(
        "IPYNB".parse::<ExportFormat>().unwrap(),
        ExportFormat::Ipynb
    );
}

/// The cache venv's python (or `THAW_PYTHON`) when it has pandas and matplotlib.
fn notebook_python() -> Result<std::path::PathBuf, String> {
    let py = match std::env::var_os("THAW_PYTHON") {
        Some(p) => std::path::PathBuf::from(p),
        None => Path::new(&std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/thaw/torch-2.11.0/bin/python"),
    };
    let ok = std::process::Command::new(&py)
        .args(["-c", "import pandas, matplotlib"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Ok(py)
    } else {
        Err(format!(
            "{} cannot import pandas and matplotlib; run `make weights` (or set THAW_PYTHON)",
            py.display()
        ))
    }
}

#[test]
fn the_exported_notebook_runs_top_to_bottom_and_draws_every_section() {
    let py = match notebook_python() {
        Ok(py) => py,
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    // Vary the precision too, so that its cell has something to compare.
    Connection::open(&db)
        .unwrap()
        .execute("UPDATE trials SET precision = 'bf16' WHERE seed = 1", [])
        .unwrap();
    // A render stores the findings the notebook lists.
    render_sweep(&db, "digits-test", &tmp.path().join("reports")).unwrap();
    let nb_path = tmp.path().join("x.ipynb");
    export_sweep(&db, "digits-test", ExportFormat::Ipynb, &nb_path).unwrap();
    let nb: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&nb_path).unwrap()).unwrap();
    // The code cells as one script, each figure saved instead of shown and counted.
    let mut script = String::from(
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n\
         FIGURES = []\nplt.show = lambda: FIGURES.append(plt.gcf().number) or plt.close('all')\n",
    );
    for cell in nb["cells"].as_array().unwrap() {
        if cell["cell_type"] == "code" {
            for line in cell["source"].as_array().unwrap() {
                script.push_str(line.as_str().unwrap());
            }
            script.push('\n');
        }
    }
    script.push_str("print('figures', len(FIGURES))\nprint('findings', len(findings))\n");
    let out = std::process::Command::new(&py)
        .args(["-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the notebook failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("figures "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(figures >= 12, "{figures} figures:\n{stdout}");
    let findings: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("findings "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(findings >= 5, "{findings} findings:\n{stdout}");
}
