"""Does sharing help? Check the page's summary of a comparison from its seeds.

Run a comparison in the lesson's widget, download its CSV, then run
    python3 does-sharing-help.py sharing-eval.csv [--lower-is-better]
(--lower-is-better for a perplexity, as in tied vs untied). From the rows of
single runs (one per model and seed) it recomputes each model's mean, its
sample standard deviation (n - 1) and the 95 % interval of the mean,
mean +- t(0.975, n - 1) * sd / sqrt(n), with Student's t quantile found by
integrating its density with torch; then which models are on the Pareto front
(no other model has as few parameters and as good a mean, one of them
strictly better). It checks each against the page's summary rows: mean and sd to rounding,
the interval to 4 digits (the quantile is found numerically).
"""
# test: sharing-eval csv 1
# test: sharing-eval csv 1 {"comparison":"rnn-unshared","seeds":2}
import csv, math, sys
import torch

rows = list(csv.DictReader(open(sys.argv[1], newline="")))
lower = "--lower-is-better" in sys.argv
runs = [r for r in rows if r["kind"] == "run"]
page = {r["model"]: r for r in rows if r["kind"] == "mean"}

# in-code:begin stats
def t975(df):  # the 97.5 % quantile of Student's t with df degrees of freedom
    x = torch.linspace(0, 200, 2_000_001, dtype=torch.float64)
    cdf = 0.5 + torch.cumulative_trapezoid(torch.distributions.StudentT(df).log_prob(x).exp(), x)
    return x[1:][cdf >= 0.975][0].item()

mine = {}
for model in page:
    xs = torch.tensor([float(r["test"]) for r in runs if r["model"] == model], dtype=torch.float64)
    n, mean = len(xs), xs.mean().item()
    sd = xs.std(unbiased=True).item() if n > 1 else 0.0  # spread between seeds
    half = t975(n - 1) * sd / math.sqrt(n) if n > 1 else 0.0
    mine[model] = (int(page[model]["params"]), mean, sd, mean - half, mean + half)

better = (lambda a, b: a < b) if lower else (lambda a, b: a > b)
def pareto(m):  # no other model with as few parameters and as good a mean, one strictly
    p, mu = mine[m][0], mine[m][1]
    return not any(q <= p and not better(mu, nu) and (q < p or better(nu, mu))
                   for o, (q, nu, *_) in mine.items() if o != m)
# in-code:end stats

# Mean and sd must agree to rounding; the interval to the 4 digits the
# numerical quantile gives.
worst = {"test": 0.0, "test_sd": 0.0, "interval": 0.0}
for m, (params, mean, sd, lo, hi) in mine.items():
    got = page[m]
    for name, v, kind in (("test", mean, "test"), ("test_sd", sd, "test_sd"), ("test_lo95", lo, "interval"), ("test_hi95", hi, "interval")):
        if got[name] != "":
            worst[kind] = max(worst[kind], abs(float(got[name]) - v) / max(1e-12, abs(v)))
    if (got["pareto"] == "true") != pareto(m):
        sys.exit(f"{m}: the page says pareto={got['pareto']}, the seeds say {pareto(m)}")
    print(f"{m}: {len(runs) // len(mine)} seeds, test {mean:.4f} +- {sd:.4f}, 95 % [{lo:.4f}, {hi:.4f}], pareto {pareto(m)}")
print("largest relative difference from the page: " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
sys.exit(0 if max(worst["test"], worst["test_sd"]) <= 1e-9 and worst["interval"] <= 1e-4 else 1)
