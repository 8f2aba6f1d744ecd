# The cells of the notebook that `thaw export --format ipynb` writes: markdown after a
# `# %% [markdown]` line, code after a `# %%` line. Each cell is rendered by minijinja with
# title, description, db_path (text) and db, sweep (Python string literals), stats (stats.py),
# and the stored metric names of thaw's registry (src/metrics/names.rs): train_acc, val_acc,
# source_acc, ece, ece_ts, temperature, and the per-block prefixes lr and cka.
# %% [markdown]
# {{ title }}

{{ description }}

Exported by thaw from `{{ db_path }}`. Run the cells in order; edit `DB` below if the database has moved. Every chart is drawn from the SQL above it, which also runs with `thaw query`.
# %%
import sqlite3
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
{{ stats }}
DB = {{ db }}
SWEEP = {{ sweep }}
con = sqlite3.connect(f"file:{DB}?mode=ro", uri=True)

def q(sql, **params):
    """Runs SQL with :named parameters; :sweep is the sweep's name."""
    return pd.read_sql_query(sql, con, params={"sweep": SWEEP, **params})

def model(df):
    """'freeze N' for fine-tuned trials, 'scratch' for trials trained from scratch."""
    return np.where(df["pretrained"] == 1, "freeze " + df["freeze"].astype(str), "scratch")

summary = q("SELECT * FROM trial_summary WHERE sweep = :sweep")
done = summary[summary["status"] == "completed"].copy()
done["model"] = model(done)
summary["status"].value_counts()
# %% [markdown]
## Overfitting

Train (solid) vs validation (dashed) accuracy per epoch, mean over completed trials, one colour per number of training examples per class; then the generalization gap (final train − final validation accuracy).
# %%
curves = q("""
SELECT t.train_per_class, m.epoch,
       AVG(CASE WHEN m.name = '{{ train_acc }}' THEN m.value END) AS {{ train_acc }},
       AVG(CASE WHEN m.name = '{{ val_acc }}' THEN m.value END) AS {{ val_acc }}
FROM metrics m JOIN trials t ON t.id = m.trial_id JOIN sweeps s ON s.id = t.sweep_id
WHERE s.name = :sweep AND t.status = 'completed'
  AND m.name IN ('{{ train_acc }}', '{{ val_acc }}') AND m.epoch >= 1
GROUP BY t.train_per_class, m.epoch ORDER BY t.train_per_class, m.epoch
""")
fig, ax = plt.subplots(figsize=(8, 4.5))
for i, (n, g) in enumerate(curves.groupby("train_per_class")):
    ax.plot(g["epoch"], g["{{ train_acc }}"], "-o", color=f"C{i}", label=f"{n}/class train")
    ax.plot(g["epoch"], g["{{ val_acc }}"], "--o", color=f"C{i}", mfc="none", label=f"{n}/class validation")
ax.set(xlabel="epoch", ylabel="accuracy", title="Train vs validation accuracy")
ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
plt.show()
done.assign(gap=done["final_train_acc"] - done["final_val_acc"]).groupby("train_per_class")["gap"].describe()
# %% [markdown]
## Forgetting

Source-task accuracy during fine-tuning (epoch 0 = before), by frozen depth; forgetting = source accuracy before − after, against the learning rate.
# %%
src = q("""
SELECT t.freeze, t.schedule, m.epoch, AVG(m.value) AS {{ source_acc }}
FROM metrics m JOIN trials t ON t.id = m.trial_id JOIN sweeps s ON s.id = t.sweep_id
WHERE s.name = :sweep AND t.status = 'completed' AND t.pretrained = 1
  AND m.name = '{{ source_acc }}' AND m.value IS NOT NULL
GROUP BY t.freeze, t.schedule, m.epoch ORDER BY t.freeze, m.epoch
""")
if src.empty:
    print("No source-task accuracies recorded (no pretrained trials).")
else:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for f, g in src.groupby("freeze"):
        g = g.groupby("epoch", as_index=False)["{{ source_acc }}"].mean()
        axes[0].plot(g["epoch"], g["{{ source_acc }}"], "-o", label=f"freeze {f}")
    axes[0].set(xlabel="fine-tuning epoch", ylabel="source-task accuracy", title="Source accuracy by frozen depth")
    axes[0].legend()
    pre = done[done["pretrained"] == 1].assign(forgetting=lambda d: d["source_acc_pretrained"] - d["source_acc_final"])
    for f, g in pre.groupby("freeze"):
        g = g.groupby("lr")["forgetting"].agg(["mean", "sem", "count"]).reset_index()
        axes[1].errorbar(g["lr"], g["mean"], yerr=ci95(g), marker="o", capsize=3, label=f"freeze {f}")
    axes[1].set(xscale="log", xlabel="learning rate (log scale)", ylabel="forgetting", title="Forgetting vs learning rate")
    axes[1].legend()
    plt.tight_layout()
    plt.show()
# %% [markdown]
## Domain gap

Final target test accuracy for each shift of the target images, one line per frozen depth (and from scratch); error bars: 95% CI over seeds (Student t, as in the report).
# %%
shifts = list(dict.fromkeys(summary["shift"]))
g = done.groupby(["model", "shift"])["final_test_acc"].agg(["mean", "sem", "count"]).reset_index()
fig, ax = plt.subplots(figsize=(8, 4.5))
for m, d in g.groupby("model"):
    d = d.set_index("shift").reindex(shifts)
    ax.errorbar(range(len(shifts)), d["mean"], yerr=ci95(d), marker="o", capsize=3, label=m)
ax.set_xticks(range(len(shifts)), shifts, rotation=20)
ax.set(xlabel="shift of the target images", ylabel="final test accuracy", title="Target accuracy vs shift")
ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
plt.show()
# %% [markdown]
## Data efficiency

Final test accuracy against training examples per class (log axis), fine-tuned vs from scratch, with the spread over seeds as a band (95% CI).
# %%
g = done.groupby(["model", "train_per_class"])["final_test_acc"].agg(["mean", "sem", "count"]).reset_index()
fig, ax = plt.subplots(figsize=(8, 4.5))
for m, d in g.groupby("model"):
    ci = ci95(d)
    ax.plot(d["train_per_class"], d["mean"], "-o", label=m)
    ax.fill_between(d["train_per_class"], d["mean"] - ci, d["mean"] + ci, alpha=0.2)
ax.set(xscale="log", xlabel="training examples per class (log scale)", ylabel="final test accuracy", title="Data efficiency")
ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
plt.show()
# %% [markdown]
## Heatmap

Mean final test accuracy by model (frozen depth or scratch) and training examples per class.
# %%
h = done.pivot_table(index="model", columns="train_per_class", values="final_test_acc", aggfunc="mean")
fig, ax = plt.subplots(figsize=(1.2 * len(h.columns) + 3, 0.6 * len(h) + 2))
im = ax.imshow(h.values, cmap="viridis", aspect="auto")
ax.set_xticks(range(len(h.columns)), h.columns)
ax.set_yticks(range(len(h.index)), h.index)
for (r, c), v in np.ndenumerate(h.values):
    if not np.isnan(v):
        ax.text(c, r, f"{v:.3f}", ha="center", va="center", color="white" if v < h.values[~np.isnan(h.values)].mean() else "black")
ax.set(xlabel="training examples per class", ylabel="model", title="Mean final test accuracy")
fig.colorbar(im, ax=ax)
plt.show()
# %% [markdown]
## Schedules

The learning rate of every block over training, for the first trial of each schedule.
# %%
lr = q("""
SELECT t.schedule, t.key, m.name AS block, m.epoch, m.value AS {{ lr }}
FROM metrics m JOIN trials t ON t.id = m.trial_id JOIN sweeps s ON s.id = t.sweep_id
WHERE s.name = :sweep AND m.name LIKE '{{ lr }}/%' AND m.value IS NOT NULL
  AND t.id IN (SELECT MIN(t2.id) FROM trials t2 JOIN sweeps s2 ON s2.id = t2.sweep_id
               WHERE s2.name = :sweep AND t2.status <> 'pending' GROUP BY t2.schedule)
ORDER BY t.position, m.name, m.epoch
""")
for sched, g in lr.groupby("schedule", sort=False):
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for b, d in g.groupby("block"):
        ax.plot(d["epoch"], d["{{ lr }}"], "-o", label=b.removeprefix("{{ lr }}/"))
    ax.set(xlabel="epoch", ylabel="learning rate", title=f"Learning rate per block: {sched}")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    plt.show()
# %% [markdown]
## Transfer gain

Fine-tuned minus from-scratch final test accuracy for the same setting and seed (the `transfer_gain` view), against training examples per class, one line per frozen depth; error bars: 95% CI over seeds (Student t, as in the report). Below 0: negative transfer.
# %%
gain = q("SELECT * FROM transfer_gain WHERE sweep = :sweep")
if gain.empty:
    print("No transfer gain: the sweep has no from-scratch trial matching a fine-tuned one (add baselines: [scratch]).")
else:
    g = gain.groupby(["freeze", "train_per_class"])["transfer_gain"].agg(["mean", "sem", "count"]).reset_index()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for f, d in g.groupby("freeze"):
        ax.errorbar(d["train_per_class"], d["mean"], yerr=ci95(d), marker="o", capsize=3, label=f"freeze {f}")
    ax.axhline(0, color="grey", lw=1)
    ax.set(xscale="log", xlabel="training examples per class (log scale)", ylabel="fine-tuned - scratch accuracy", title="Transfer gain")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    plt.show()
# %% [markdown]
## Calibration

Expected calibration error (15 bins) on the target test set before and after temperature scaling fitted on the validation set, and the fitted temperature, mean over completed trials per model.
# %%
cal = done.dropna(subset=["{{ ece }}", "{{ ece_ts }}"]).groupby("model")[["{{ ece }}", "{{ ece_ts }}", "{{ temperature }}"]].mean()
if cal.empty:
    print("No calibration metrics recorded.")
else:
    ax = cal[["{{ ece }}", "{{ ece_ts }}"]].rename(columns={"{{ ece }}": "before", "{{ ece_ts }}": "after temperature scaling"}).plot.bar(figsize=(8, 4.5), rot=0)
    ax.set(xlabel="model", ylabel="expected calibration error", title="ECE before and after temperature scaling")
    plt.show()
cal
# %% [markdown]
## Representation drift

Linear CKA between each block's outputs before and after fine-tuning (1 = unchanged), mean over pretrained trials per frozen depth, blocks from the input up.
# %%
cka = q("""
SELECT t.freeze, m.name, m.value
FROM metrics m JOIN trials t ON t.id = m.trial_id JOIN sweeps s ON s.id = t.sweep_id
WHERE s.name = :sweep AND t.status = 'completed' AND m.name LIKE '{{ cka }}/%'
""")
def block_order(name):
    """Blocks from the input up: a stem (no number) first, then by their number."""
    digits = "".join(c for c in name if c.isdigit())
    return (digits != "", int(digits or 0), name)

if cka.empty:
    print("No representation drift recorded (no pretrained trials).")
else:
    blocks = sorted(cka["name"].unique(), key=block_order)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for f, d in cka.groupby("freeze"):
        d = d.groupby("name")["value"].mean().reindex(blocks)
        ax.plot(range(len(blocks)), d.values, "-o", label=f"freeze {f}")
    ax.set_xticks(range(len(blocks)), [b.removeprefix("{{ cka }}/") for b in blocks])
    ax.set(xlabel="block", ylabel="linear CKA to the pretrained block", title="Representation drift")
    ax.legend()
    plt.show()
# %% [markdown]
## Domain distance

Proxy A-distance, MMD² and Fréchet distance between the source and the (shifted) target test images on the pretrained backbone's features, per shift, and the final test accuracy of each model against the proxy A-distance.
# %%
dist = done.dropna(subset=["proxy_a_distance"])
if dist.empty:
    print("No domain distances recorded (no pretrained trials).")
else:
    print(dist.groupby("shift")[["proxy_a_distance", "mmd2", "frechet_distance"]].mean())
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for m, d in dist.groupby("model"):
        ax.scatter(d["proxy_a_distance"], d["final_test_acc"], label=m)
    ax.set(xlabel="proxy A-distance (source vs target)", ylabel="final test accuracy", title="Accuracy vs measured domain distance")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    plt.show()
# %% [markdown]
## Mixed precision

When the sweep varies `precision`: final test accuracy and training time per backbone, model and precision (mean and standard error over trials).
# %%
if done["precision"].nunique() < 2:
    print("The sweep runs one precision:", ", ".join(done["precision"].unique()))
else:
    mp = done.groupby(["backbone", "model", "precision"])[["final_test_acc", "train_seconds"]].agg(["mean", "sem"])
    acc = mp["final_test_acc"]["mean"].unstack("precision")
    ax = acc.plot.bar(figsize=(8, 4.5), rot=20)
    ax.set(ylabel="final test accuracy", title="Accuracy by precision")
    plt.show()
    print(mp)
# %% [markdown]
## Findings

Every finding of the report: its claim, verdict (supported, contradicted, inconclusive), estimate with its 95% interval (`low`, `high`), `n` and test, as the sweep's latest rendered report stored them in the `findings` view.
# %%
stored = q("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'findings'")["n"][0] > 0
if not stored:
    print("This database has no findings view yet: run `thaw report` on it with a current thaw.")
findings = q("""
SELECT section, claim, verdict, estimate, low, high, n, test FROM findings
WHERE sweep = :sweep ORDER BY position
""") if stored else pd.DataFrame(columns=["section", "claim", "verdict", "estimate", "low", "high", "n", "test"])
order = {"contradicted": 0, "supported": 1, "inconclusive": 2}
findings.sort_values("verdict", key=lambda v: v.map(order), kind="stable")
# %% [markdown]
## Trials

Every trial with its parameters and final/best metrics.
# %%
summary
