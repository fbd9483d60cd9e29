"""Records what the recipe's cross-validation saw, for one cell of the study.

    KERAS_BACKEND=jax python docs/runs/symmetry_breaking/cv_record.py \
        DIAL IMAGES OUT.json [FOLDS] [--projected] [--noise NOISE] \
        [--weight-decay | --on-weight-decay CONTROL.json | --sampled |
         --shrink S]

For each seed (0, 1, 2) and each candidate rate of
`examples/symmetry_breaking.py`, it makes the same fits as the study's
`select_strength(folds=FOLDS)` (default: the study's 3) and writes
the held-out loss of every training image (one list per rate, the
folds in order), and the test error of the rate's final fit on all the
images. Selection rules can then be compared on these records without
training again. The data, models and fits are the example's own: the
script runs the example's code up to its section "The recipe". With
`--projected`, every candidate above rate 0 starts from
`ProjectedInitializer` (the second of the recipe's two starts) instead
of Keras' default; with `--noise`, the training targets' noise is
NOISE (relative to the targets' standard deviation) instead of the
example's 0.1.

With `--weight-decay`, the candidates are instead the plain model
under Keras' `AdamW` at the decoupled weight decays `WEIGHT_DECAYS`:
a control that shrinks every weight towards zero rather than the
non-equivariant parts towards the equivariant subspace, chosen by the
same cross-validation. A gain of the recipe over this control is one
that shrinkage alone does not give. With `--on-weight-decay
CONTROL.json`, a `--weight-decay` record of the same cell, the
candidates are the rates again, each trained under `AdamW` at the
decay that the control's `rule="1se"` picked on that seed: the recipe
added to a tuned weight decay. With `--sampled`, the candidates are
the plain model under `SampledEquivariance` (one rotation per step) at
the loss weights `SAMPLED_WEIGHTS`, weight 0 the plain model: the
study's sample-based row with its weight chosen by the same folds.
With `--shrink S`, the candidates are the rates above 0 again, from
Keras' start, each trained under `AdamW` at the one per-step shrink
`S` (`learning_rate * weight_decay`): one row of a grid of rates and
decays, a family of its own whose rate 0 is the plain model of the
own-start record (see `joint`).

    python docs/runs/symmetry_breaking/cv_record.py --compare OUT.json...

prints, per record, the rate each rule picks on each seed (`min`: the
lowest mean held-out loss; `1se`: `select_strength`'s default, the
largest rate within one standard error of the lowest, that of the
per-image differences) and the mean test
error of the picks, with the test error of every rate.

    python docs/runs/symmetry_breaking/cv_record.py \
        --starts OWN.json PROJECTED.json

replays `select_strength(starts=("own", "projected"))` from a record
of each start of one cell (rate 0 from the first): each rule's picks,
their test error and its paired difference from the best of the plain
model and the two exact ones.

    python docs/runs/symmetry_breaking/cv_record.py --summary DIR [FIGURE.png]

does so for every cell recorded from both starts in DIR, as one table
(and a heat map of the recipe minus the better of plain and exact).

    python docs/runs/symmetry_breaking/cv_record.py --shrinkage DIR [FIGURE.png]

compares, in every cell of DIR that also has a `--weight-decay`
record, the recipe with the weight-decay control under the same rule,
replays the recipe with the control's decays as a third start, and
shows the `--on-weight-decay` records and, where a `--sampled` record
exists, the four families as starts (see `shrinkage`).

    python docs/runs/symmetry_breaking/cv_record.py --joint DIR [FIGURE.png] \
        [--families "own,weight decay,rates on 0.01"]

replays, in every cell of DIR with a weight-decay record and `--shrink`
records, the rates and the decays chosen together (see `joint`), with
all the families or the ones listed.
"""

import json
import pathlib
import sys

import numpy as np

from keras_approxeq.penalties.selection import _chosen
from keras_approxeq.penalties.selection import _chosen_with_start

EXAMPLE = (
    pathlib.Path(__file__).parents[3] / "examples" / "symmetry_breaking.py"
)


def choose(held_out, rule):
    """The rate `select_strength(rule=rule)` picks from these losses."""
    return _chosen({float(r): np.asarray(v) for r, v in held_out.items()}, rule)


def compare(paths):
    for path in paths:
        with open(path) as f:
            record = json.load(f)
        seeds = record["seeds"]
        start = record.get("start", "Keras'")
        print(
            f"dial {record['dial']}, {record['images']} images, "
            f"{record['folds']} folds, {start} start"
        )
        for rule in ("min", "1se"):
            picks, errors = _picks(record, rule)
            print(
                f"  {rule}: rates {picks}, test error "
                f"{np.mean(errors):.4f} +- {np.std(errors):.4f}"
            )
        for rate in seeds[0]["test"]:
            errors = [s["test"][rate] for s in seeds]
            print(
                f"  rate {rate}: test error {np.mean(errors):.4f} +- "
                f"{np.std(errors):.4f}"
            )


STARTS = ("own", "projected")
UNION = (*STARTS, "weight decay")

# Per-step shrink factors `learning_rate * weight_decay` of the control:
# under a steady push of Adam's size `lr` per coordinate, a weight settles
# near `lr / shrink`, from 3 (unpulled) down to 0.03, below the kernels'
# initial scale of about 0.1.
WEIGHT_DECAYS = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1)

# Loss weights of the sample-based control (the example's row uses 1).
SAMPLED_WEIGHTS = (0.0, 0.3, 1.0, 3.0, 10.0, 30.0)
FAMILIES = (*UNION, "sampled")

# Per-step shrinks of the `--shrink` records: the control's picks with 8,
# 32 and 128 images at noise 0.5 were 0.03, 0.01 and 0.003.
SHRINKS = (0.003, 0.01, 0.03)


def _shrunk(shrink):
    """The family label of a `--shrink` record."""
    return f"rates on {shrink:g}"


def replay_starts(records, rule, starts=STARTS, prefer=()):
    """Per seed of one cell, `select_strength(starts=starts,
    prefer=prefer)`'s pick and the test errors of every candidate, from a
    record of each start."""
    for pair in zip(*(r["seeds"] for r in records)):
        seeds = dict(zip(starts, pair))
        test = {
            (float(rate), start): error
            for start, seed in seeds.items()
            for rate, error in seed["test"].items()
        }
        losses = {
            (float(rate), start): np.asarray(values)
            for start, seed in seeds.items()
            for rate, values in seed["held_out"].items()
            if float(rate) or start == starts[0]
        }
        yield _chosen_with_start(losses, starts, rule, prefer), test


def compare_starts(own_path, projected_path):
    records = [_load(own_path), _load(projected_path)]
    print(
        f"dial {records[0]['dial']}, {records[0]['images']} images, "
        f"{records[0]['folds']} folds, both starts"
    )
    for rule in ("min", "1se"):
        picks, errors, margins = [], [], []
        for pick, test in replay_starts(records, rule):
            better = min(
                test[0.0, "own"], test[1.0, "own"], test[1.0, "projected"]
            )
            picks.append(pick)
            errors.append(test[pick])
            margins.append(test[pick] - better)
        print(
            f"  {rule}: {picks}, test error {np.mean(errors):.4f} +- "
            f"{np.std(errors):.4f}; minus the best of plain and exact "
            f"{np.mean(margins):+.4f} +- {np.std(margins):.4f}"
        )


def summary(directory, figure=None):
    """A table row per cell recorded from both starts (3 folds): plain,
    exact from each start, the recipe with both starts, and the recipe
    minus the better (by the mean) of plain and either exact, with the
    paired spread and the largest standard deviation of the models
    compared; then *hindsight*, each seed's best candidate on the test
    set minus the better (a bound on any choice among these candidates,
    not a method), with its paired spread. With `figure`, the recipe's
    difference drawn as a heat map."""
    directory = pathlib.Path(directory)
    print(
        "| dial | images | plain | exact, own / projected start | recipe "
        "| (rate, start) per seed | recipe - better | paired spread "
        "| spread | hindsight - better (paired spread) |"
        "\n|---|---|---|---|---|---|---|---|---|---|"
    )
    cells, lines, noises = {}, {}, set()
    for path in directory.glob("cv_*_folds_3_projected.json"):
        records = [_load(str(path).replace("_projected", "")), _load(path)]
        dial, size = records[0]["dial"], records[0]["images"]
        noises.add(records[0].get("noise", 0.1))  # recorded since 2026-12-07
        rows = list(replay_starts(records, "1se"))
        models = {
            "plain": (0.0, "own"),
            "exact, own": (1.0, "own"),
            "exact, projected": (1.0, "projected"),
        }
        errors = {
            name: np.array([test[key] for _, test in rows])
            for name, key in models.items()
        }
        recipe = np.array([test[pick] for pick, test in rows])
        hindsight = np.array([min(test.values()) for _, test in rows])
        better = min(errors, key=lambda name: errors[name].mean())
        gain = recipe.mean() - errors[better].mean()
        paired = np.std(recipe - errors[better])
        spread = max(np.std(recipe), np.std(errors[better]))
        bound = hindsight - errors[better]
        cells[dial, size] = gain, paired
        picks = ", ".join(f"({r:g}, {s})" for (r, s), _ in rows)
        lines[size, dial] = (
            f"| {dial:g} | {size} | {_spread(errors['plain'])} | "
            f"{errors['exact, own'].mean():.3f} / "
            f"{errors['exact, projected'].mean():.3f} | {_spread(recipe)} | "
            f"{picks} | {gain:+.3f} | {paired:.3f} | {spread:.3f} | "
            f"{bound.mean():+.3f} ({np.std(bound):.3f}) |"
        )
    print("\n".join(lines[key] for key in sorted(lines)))
    if figure:
        (noise,) = noises
        _draw(cells, figure, noise, "recipe (rate and start chosen)")


def shrinkage(directory, figure=None):
    """Two tables over the cells with a complete weight-decay record in
    `directory`. First, the plain model, the control (its decay chosen by
    `rule="1se"` on the same folds; picks per seed), the better exact
    model, the recipe, and the recipe minus the control and minus the
    better of the control and exact, with paired spreads, and the same
    for the recipe with the control's decays among its candidates, as a
    third start (`select_strength(starts=("own", "projected", "weight
    decay"))`: the start of the lowest held-out loss, then the largest
    rate or decay within one standard error). Then, where
    `--on-weight-decay` recorded the rates on the control's decays
    (Keras' start): the control, the exact model on its decay (rate 1),
    the rate `rule="1se"` picks, and that pick minus the control and
    minus the better of the two. Then, where `--sampled` recorded the
    sample-based regulariser's weights: the control, the recipe, the
    weight `rule="1se"` picks, and the four families as starts
    (`starts=("own", "projected", "weight decay", "sampled")`) minus
    the best of the control, exact, the recipe and the sampled pick.
    With `figure`, the recipe with the weight decays as a start minus
    the better of the control and exact, drawn as a heat map."""
    lines, added, cells, noises, four = {}, {}, {}, set(), {}
    for path in pathlib.Path(directory).glob("cv_*_folds_3_weight_decay.json"):
        control = _load(path)
        if len(control["seeds"]) < 3:
            continue  # still being recorded
        own = str(path).replace("_weight_decay", "")
        records = [_load(own), _load(own.replace(".json", "_projected.json"))]
        rows = list(replay_starts(records, "1se"))
        recipe = np.array([test[pick] for pick, test in rows])
        plain, exact = plain_and_exact(rows)
        picks, decayed = _picks(control)
        better = min(decayed, exact, key=np.mean)
        union = list(replay_starts([*records, control], "1se", UNION))
        chosen = np.array([test[pick] for pick, test in union])
        cell = control["images"], control["dial"]
        difference = chosen - better
        cells[cell[::-1]] = difference.mean(), np.std(difference)
        noises.add(control["noise"])
        lines[cell] = (
            f"| {cell[1]:g} | {cell[0]} | {plain.mean():.3f} | "
            f"{decayed.mean():.3f} ({_listed(picks)}) | {exact.mean():.3f} | "
            f"{recipe.mean():.3f} | {_difference(recipe, decayed)} | "
            f"{_difference(recipe, better)} | {chosen.mean():.3f} "
            f"({_starts_of(union)}) | "
            f"{_difference(chosen, better)} |"
        )
        if sampled := _complete(own.replace(".json", "_sampled.json")):
            weights, sampled_errors = _picks(sampled)
            best = min(decayed, exact, recipe, sampled_errors, key=np.mean)
            rows = list(
                replay_starts([*records, control, sampled], "1se", FAMILIES)
            )
            chosen = np.array([test[pick] for pick, test in rows])
            four[cell] = (
                f"| {cell[1]:g} | {cell[0]} | {decayed.mean():.3f} | "
                f"{recipe.mean():.3f} | {sampled_errors.mean():.3f} "
                f"({_listed(weights)}) | {chosen.mean():.3f} "
                f"({_starts_of(rows)}) | "
                f"{_difference(chosen, best)} |"
            )
        if both := _complete(
            own.replace(".json", "_rates_on_weight_decay.json")
        ):
            rates, combined = _picks(both)
            exact_on = np.array([s["test"]["1.0"] for s in both["seeds"]])
            better = min(decayed, exact_on, key=np.mean)
            added[cell] = (
                f"| {cell[1]:g} | {cell[0]} | {decayed.mean():.3f} | "
                f"{exact_on.mean():.3f} | {combined.mean():.3f} "
                f"({_listed(rates)})"
                f" | {_difference(combined, decayed)} | "
                f"{_difference(combined, better)} |"
            )
    _table(
        "dial | images | plain | weight decay (picks) | exact | recipe "
        "| recipe - weight decay (paired) | recipe - better of weight "
        "decay and exact (paired) | with weight decay as a start (picks) "
        "| minus the better (paired)",
        lines,
    )
    _table(
        "dial | images | weight decay | exact on it | rates on it "
        "(picks) | minus weight decay (paired) | minus the better of the "
        "two (paired)",
        added,
        "\n",
    )
    if four:
        _table(
            "dial | images | weight decay | recipe | sampled (weights) "
            "| the four as starts (picks) | minus the best of weight decay, "
            "exact, recipe and sampled (paired)",
            four,
            "\n",
        )
    if figure:
        (noise,) = noises
        _draw(cells, figure, noise, "recipe with weight decay as a start", True)


def joint(directory, figure=None, rule="1se", families=None):
    """The rates and the weight decays chosen together, in every cell of
    `directory` with complete weight-decay and `--shrink` records (one
    per `SHRINKS`): `select_strength` with `families` as starts (by
    default own, projected, weight decay and one `rates on S` per
    shrink) and `prefer=("own", "projected")` as `select_and_fit` has
    them: the family of the lowest held-out loss, of own and projected
    unless a weight-decay family is better by more than one standard
    error, then `rule` within it; rate 0 is the plain model of the
    first family, which must be own. The
    weight-decay family keeps the decays of `SHRINKS` only: the 24
    candidates of `select_and_fit(weight_decays=...)` with those decays.
    One row per cell: the plain model, the control (its pick among all
    its decays), the better exact model, the recipe, the joint pick
    (family and strength per seed), the pick minus the better (by the
    mean) of plain and exact and minus the better of the control and
    exact, and the candidates' hindsight (each seed's best on the test
    set) minus the latter, and the pick minus the recipe, with paired
    spreads. With `figure`, the joint pick minus the better of plain
    and exact, drawn as a heat map."""
    every = (*UNION, *map(_shrunk, SHRINKS))
    families = families or every
    if families[0] != "own" or not set(families) <= set(every):
        raise ValueError(
            f"families must start with 'own' and come from {every}; got "
            f"{families}."
        )
    lines, cells, noises = {}, {}, set()
    for path in pathlib.Path(directory).glob("cv_*_folds_3_weight_decay.json"):
        by_family = joint_records(str(path).replace("_weight_decay", ""))
        if by_family is None:
            continue
        recipe_rows = list(replay_starts(list(by_family.values())[:2], rule))
        recipe = np.array([test[pick] for pick, test in recipe_rows])
        plain, exact = plain_and_exact(recipe_rows)
        rows = list(
            replay_starts(
                [by_family[f] for f in families], rule, families, STARTS
            )
        )
        control = _load(path)
        decayed = _picks(control, rule)[1]
        shrunk_or_exact = min(decayed, exact, key=np.mean)
        chosen = np.array([test[pick] for pick, test in rows])
        hindsight = np.array([min(test.values()) for _, test in rows])
        cell = control["images"], control["dial"]
        gain = chosen - min(plain, exact, key=np.mean)
        cells[cell[::-1]] = gain.mean(), np.std(gain)
        noises.add(control["noise"])
        picks = ", ".join(f"{start} {rate:g}" for (rate, start), _ in rows)
        lines[cell] = (
            f"| {cell[1]:g} | {cell[0]} | {plain.mean():.3f} | "
            f"{decayed.mean():.3f} | {exact.mean():.3f} | "
            f"{recipe.mean():.3f} | {chosen.mean():.3f} ({picks}) | "
            f"{_difference(chosen, chosen - gain)} | "
            f"{_difference(chosen, shrunk_or_exact)} | "
            f"{_difference(hindsight, shrunk_or_exact)} | "
            f"{_difference(chosen, recipe)} |"
        )
    _table(
        "dial | images | plain | weight decay | exact | recipe | joint "
        "(family and strength per seed) | joint - better of plain and "
        "exact (paired) | joint - better of weight decay and exact "
        "(paired) | hindsight - the same (paired) | joint - recipe "
        "(paired)",
        lines,
    )
    if figure:
        (noise,) = noises
        _draw(cells, figure, noise, "rates and weight decays chosen together")


def joint_records(own):
    """`{family: record}` of one cell for `joint`, from the path of its
    own-start record (the weight-decay record at the shrinks' decays
    only), or None if a weight-decay or `--shrink` record is missing or
    incomplete."""
    others = {
        "weight decay": own.replace(".json", "_weight_decay.json"),
        **{
            _shrunk(s): own.replace(".json", f"_rates_on_shrink_{s:g}.json")
            for s in SHRINKS
        },
    }
    others = {family: _complete(path) for family, path in others.items()}
    if None in others.values():
        return None
    others["weight decay"] = _only(others["weight decay"])
    return {
        "own": _load(own),
        "projected": _load(own.replace(".json", "_projected.json")),
        **others,
    }


def _only(control, shrinks=SHRINKS):
    """A weight-decay record with only the decays of `shrinks` and 0,
    the ones that `select_and_fit(weight_decays=...)` offers the plain
    model when it offers the rates on them."""
    kept = {0.0, *shrinks}
    seeds = [
        {
            part: {k: v for k, v in seed[part].items() if float(k) in kept}
            for part in ("held_out", "test")
        }
        for seed in control["seeds"]
    ]
    return {**control, "seeds": seeds}


def _table(header, rows, before=""):
    """Prints a Markdown table: `header`, its columns separated by
    `" | "`, then the rows of the dict `rows` in the order of its keys."""
    columns = header.count(" | ") + 1
    print(f"{before}| {header} |\n" + "|---" * columns + "|")
    print("\n".join(rows[key] for key in sorted(rows)))


def _complete(path):
    """The record at `path` if it exists with all three seeds, else None."""
    path = pathlib.Path(path)
    record = _load(path) if path.exists() else None
    return record if record and len(record["seeds"]) == 3 else None


def _starts_of(rows):
    return ", ".join(start for (_, start), _ in rows)


def _listed(values):
    return ", ".join(f"{v:g}" for v in values)


def _picks(record, rule="1se"):
    """Per seed, `rule`'s pick from one record and its test error."""
    picks = [choose(s["held_out"], rule) for s in record["seeds"]]
    errors = [s["test"][str(p)] for s, p in zip(record["seeds"], picks)]
    return picks, np.array(errors)


def plain_and_exact(rows):
    """Per seed, the plain model's test error and the better exact
    model's (of the two starts), from `replay_starts`' rows."""
    plain = np.array([test[0.0, "own"] for _, test in rows])
    exact = np.array(
        [min(test[1.0, "own"], test[1.0, "projected"]) for _, test in rows]
    )
    return plain, exact


def _difference(values, baseline):
    difference = values - baseline
    return f"{difference.mean():+.3f} ({np.std(difference):.3f})"


def _spread(values):
    return f"{np.mean(values):.3f} +- {np.std(values):.3f}"


def _draw(cells, path, noise, title, weight_decay=False):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dials = sorted({d for d, _ in cells})
    sizes = sorted({n for _, n in cells})
    gain = np.full((len(dials), len(sizes)), np.nan)
    for (dial, size), (value, _) in cells.items():
        gain[dials.index(dial), sizes.index(size)] = value
    limit = np.nanmax(np.abs(gain))
    fig, ax = plt.subplots(figsize=(6, 6))
    image = ax.imshow(gain, cmap="RdBu_r", vmin=-limit, vmax=limit)
    for (dial, size), (value, paired) in cells.items():
        i, j = dials.index(dial), sizes.index(size)
        ax.annotate(
            f"{value:+.3f}\npaired {paired:.3f}",
            (j, i),
            ha="center",
            va="center",
            fontsize=9,
            color="white" if abs(value) > 0.6 * limit else "black",
        )
    ax.set_xticks(range(len(sizes)), [str(n) for n in sizes])
    ax.set_yticks(range(len(dials)), [f"{d:g}" for d in dials])
    ax.set_xlabel("training images")
    ax.set_ylabel("symmetry breaking (0: exact, 1: none)")
    baseline = "weight decay" if weight_decay else "plain"
    ax.set_title(
        f"{title}\nminus the better of {baseline} and exact\n"
        f"(relative MSE, 3 seeds, noise {noise:g}; < 0: recipe better)"
    )
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def load_example(replacements=(), argv=()):
    """The example's namespace up to its section "The recipe" (data,
    teacher, models, fits), its source edited by `(old, new)` pairs and
    its flags parsed from `argv`."""
    source = EXAMPLE.read_text()
    source = source[: source.index('"""\n## The recipe')]
    for old, new in replacements:
        if old not in source:
            raise ValueError(f"The example no longer has {old!r}.")
        source = source.replace(old, new)
    study = {"__name__": "symmetry_breaking"}
    saved, sys.argv = sys.argv, [str(EXAMPLE), *argv]
    try:
        exec(compile(source, str(EXAMPLE), "exec"), study)
    finally:
        sys.argv = saved
    return study


def _load(path):
    with open(path) as f:
        return json.load(f)


def main():
    if sys.argv[1] == "--compare":
        return compare(sys.argv[2:])
    if sys.argv[1] == "--starts":
        return compare_starts(*sys.argv[2:4])
    if sys.argv[1] == "--summary":
        return summary(*sys.argv[2:4])
    if sys.argv[1] == "--shrinkage":
        return shrinkage(*sys.argv[2:4])
    if sys.argv[1] == "--joint":
        arguments, families = sys.argv[2:], None
        if "--families" in arguments:
            at = arguments.index("--families")
            families = tuple(arguments[at + 1].split(","))
            del arguments[at : at + 2]
        return joint(*arguments[:2], families=families)
    arguments = sys.argv[1:]
    projected = "--projected" in arguments
    weight_decay = "--weight-decay" in arguments
    sampled = "--sampled" in arguments
    noise, control, shrink = [], None, None
    if "--noise" in arguments:
        at = arguments.index("--noise")
        noise = arguments[at : at + 2]
        del arguments[at : at + 2]
    if "--shrink" in arguments:
        at = arguments.index("--shrink")
        shrink = float(arguments[at + 1])
        del arguments[at : at + 2]
    if "--on-weight-decay" in arguments:
        at = arguments.index("--on-weight-decay")
        control = _load(arguments[at + 1])
        del arguments[at : at + 2]
    arguments = [
        a
        for a in arguments
        if a not in ("--projected", "--weight-decay", "--sampled")
    ]
    dial, size, out = float(arguments[0]), int(arguments[1]), arguments[2]
    if shrink is not None and (projected or weight_decay or sampled or control):
        raise ValueError(
            "--shrink S records the rates from Keras' start under one "
            "weight decay; it takes none of --projected, --weight-decay, "
            "--sampled and --on-weight-decay."
        )
    if control and (
        weight_decay
        or sampled
        or (control["dial"], control["images"]) != (dial, size)
    ):
        raise ValueError(
            "--on-weight-decay takes a --weight-decay record of the same "
            "cell, and neither --weight-decay nor --sampled; got dial "
            f"{control['dial']} with {control['images']} "
            f"images for dial {dial:g} with {size} images."
        )
    folds = int(arguments[3]) if len(arguments) > 3 else None
    study = load_example(argv=noise)
    folds = folds or study["FOLDS"]
    build, fit_kwargs = study["build_model"], study["fit_kwargs"]
    start = "projected" if projected else "Keras'"
    keras, learning_rate = study["keras"], study["LEARNING_RATE"]

    def candidate(seed, rate, shrink, weight):
        model = build("decay", seed, rate, projected and rate > 0)
        if weight:
            model = study["SampledEquivariance"](
                model, "C4", data_format="channels_last", weight=weight
            )
            model.compile(keras.optimizers.Adam(learning_rate), "mse")
        if shrink:
            model.compile(
                keras.optimizers.AdamW(
                    learning_rate, weight_decay=shrink / learning_rate
                ),
                "mse",
            )
        return model

    family = "weight decay" if weight_decay else start
    family = "sampled" if sampled else family
    if shrink is not None:
        family = _shrunk(shrink)
    record = {
        "dial": dial,
        "images": size,
        "folds": folds,
        "start": family,
        "noise": study["NOISE"],
        "seeds": [],
    }
    shrinks = _picks(control)[0] if control else [0.0] * 3
    if control:
        record["weight_decays"] = shrinks
    if shrink is not None:
        shrinks = [shrink] * 3
        record["shrink"] = shrink
    for seed in range(3):
        (x, y), (x_test, y_test) = study["make_data"](dial, size, seed)
        parts = np.array_split(np.arange(size), folds)
        held_out, test = {}, {}
        if weight_decay:
            candidates = {s: (0.0, s, 0.0) for s in WEIGHT_DECAYS}
        elif sampled:
            candidates = {w: (0.0, 0.0, w) for w in SAMPLED_WEIGHTS}
        else:
            candidates = {
                r: (r, shrinks[seed], 0.0)
                for r in study["RATES"]
                if r or shrink is None  # rate 0: the own record's plain model
            }
        for rate, parameters in candidates.items():
            losses = []
            for part in parts:
                fit_on = np.setdiff1d(np.arange(size), part)
                model = candidate(seed, *parameters)
                model.fit(
                    x[fit_on],
                    y[fit_on],
                    verbose=0,
                    **fit_kwargs(size - size // folds),
                )
                predicted = model.predict(x[part], verbose=0)
                errors = np.mean((predicted - y[part]) ** 2, axis=(1, 2, 3))
                losses += errors.tolist()
            held_out[rate] = losses
            model = candidate(seed, *parameters)
            model.fit(x, y, verbose=0, **fit_kwargs(size))
            test[rate] = study["relative_error"](model, x_test, y_test)
            print(seed, rate, np.mean(losses), test[rate], flush=True)
        record["seeds"].append({"held_out": held_out, "test": test})
        with open(out, "w") as f:
            json.dump(record, f)


if __name__ == "__main__":
    main()
